package log

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestColdSegmentsCost measures one partition of 10 and 1,000 small
// segments opened clean: the files it holds open, the heap and RSS it
// adds, and how long the open takes, with a file cache that never closes
// a file (every file open, as before the cache) and with one of 64 idle
// files. It only runs with SLUICE_COLD_BENCH=1 and prints a table for
// docs/bench.md.
func TestColdSegmentsCost(t *testing.T) {
	if os.Getenv("SLUICE_COLD_BENCH") == "" {
		t.Skip("set SLUICE_COLD_BENCH=1 to measure")
	}
	fmt.Println("| segments | open files max | open files after open | after reading all | heap after open | RSS after open | clean open |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, n := range []int{10, 1000} {
		dir := t.TempDir()
		l, ws := coldLog(t, dir, NewFileCache(1<<30), n)
		mustClose(t, l)
		for _, filesMax := range []int{64, 1 << 30, 64} {
			files := NewFileCache(filesMax)
			fds0, heap0, rss0 := procCosts(t)
			start := time.Now()
			l := mustOpen(t, dir, relaxedConfig(), OpenOptions{Clean: true, Files: files})
			took := time.Since(start)
			fds1, heap1, rss1 := procCosts(t)
			checkReadsBack(t, l, ws)
			fds2, _, _ := procCosts(t)
			limit := "unlimited"
			if filesMax < 1<<30 {
				limit = fmt.Sprint(filesMax)
			}
			fmt.Printf("| %d | %s | %d | %d | %+d KiB | %+d KiB | %v |\n", n, limit, fds1-fds0, fds2-fds0,
				(heap1-heap0)>>10, (rss1-rss0)>>10, took.Round(100*time.Microsecond))
			mustClose(t, l)
		}
	}
}

// procCosts returns this process's open file descriptors, live heap
// bytes after a GC, and resident set size.
func procCosts(t *testing.T) (fds int, heap, rss int64) {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc")
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			rss = kb << 10
		}
	}
	return len(entries), int64(ms.HeapAlloc), rss
}
