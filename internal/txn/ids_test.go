package txn

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func mustOpenIDs(t *testing.T, path string) *IDs {
	t.Helper()
	a, err := OpenIDs(path)
	if err != nil {
		t.Fatalf("OpenIDs: %v", err)
	}
	return a
}

func mustNext(t *testing.T, a *IDs) int64 {
	t.Helper()
	id, err := a.Next()
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return id
}

// reservedOnDisk reads the block end the allocator wrote.
func reservedOnDisk(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("block file %q: %v", b, err)
	}
	return n
}

// TestIDsAcrossRestarts takes a different number of ids in each run,
// fewer than a block, exactly a block, more than a block, none, and
// reopens the allocator between runs as a restart would. Every id must be
// new and larger than all before it, and no id may be given out that the
// file on disk does not already cover.
func TestIDsAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "producer_ids")
	seen := map[int64]bool{}
	last := int64(-1)
	for run, n := range []int{3, idBlockSize, 0, idBlockSize + 1, 1, 2*idBlockSize + 5, 7} {
		a := mustOpenIDs(t, path)
		for range n {
			id := mustNext(t, a)
			if seen[id] || id <= last {
				t.Fatalf("run %d: id %d after %d (seen before: %v)", run, id, last, seen[id])
			}
			if reserved := reservedOnDisk(t, path); id >= reserved {
				t.Fatalf("run %d: id %d handed out beyond the reserved block end %d", run, id, reserved)
			}
			seen[id], last = true, id
		}
	}
	if len(seen) != 3+idBlockSize+idBlockSize+1+1+2*idBlockSize+5+7 {
		t.Fatalf("%d distinct ids", len(seen))
	}
}

func TestIDsFirstBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "producer_ids")
	a := mustOpenIDs(t, path)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("OpenIDs wrote a file before any id was asked for: %v", err)
	}
	for want := range int64(5) {
		if id := mustNext(t, a); id != want {
			t.Fatalf("id %d, want %d", id, want)
		}
	}
	if got := reservedOnDisk(t, path); got != idBlockSize {
		t.Fatalf("reserved %d on disk, want %d", got, idBlockSize)
	}
	// A restart skips the rest of the block.
	if id := mustNext(t, mustOpenIDs(t, path)); id != idBlockSize {
		t.Fatalf("first id after restart %d, want %d", id, idBlockSize)
	}
	if got := reservedOnDisk(t, path); got != 2*idBlockSize {
		t.Fatalf("reserved %d on disk, want %d", got, 2*idBlockSize)
	}
}

func TestIDsConcurrent(t *testing.T) {
	const goroutines, each = 8, 600
	a := mustOpenIDs(t, filepath.Join(t.TempDir(), "producer_ids"))
	ids := make([][]int64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				id, err := a.Next()
				if err != nil {
					t.Error(err)
					return
				}
				ids[g] = append(ids[g], id)
			}
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, list := range ids {
		for i, id := range list {
			if seen[id] {
				t.Fatalf("id %d handed out twice", id)
			}
			if i > 0 && id <= list[i-1] {
				t.Fatalf("one caller got %d after %d", id, list[i-1])
			}
			seen[id] = true
		}
	}
	// Nothing was skipped within a run: the ids are 0..n-1.
	for id := range int64(goroutines * each) {
		if !seen[id] {
			t.Fatalf("id %d missing", id)
		}
	}
}

func TestIDsCorruptFile(t *testing.T) {
	for _, content := range []string{"", "abc\n", "-5\n", "12 13\n", "99999999999999999999\n"} {
		path := filepath.Join(t.TempDir(), "producer_ids")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenIDs(path); err == nil {
			t.Fatalf("OpenIDs accepted %q", content)
		}
	}
}

// TestIDsWriteFailure: when the block cannot be reserved no id is handed
// out, and the next attempt that can write starts where it would have.
func TestIDsWriteFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	path := filepath.Join(dir, "producer_ids")
	a := mustOpenIDs(t, path)
	if id, err := a.Next(); err == nil {
		t.Fatalf("Next without a directory gave id %d", id)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if id := mustNext(t, a); id != 0 {
		t.Fatalf("id %d after the failure, want 0", id)
	}
	if got := reservedOnDisk(t, path); got != idBlockSize {
		t.Fatalf("reserved %d, want %d", got, idBlockSize)
	}
}
