package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// benchSummary is the part of `sluice bench --format json` the smoke test
// checks.
type benchSummary struct {
	Mode    string `json:"mode"`
	Produce *struct {
		Records          int64   `json:"records"`
		Failed           int64   `json:"failed"`
		Bytes            int64   `json:"bytes"`
		RecordsPerSecond float64 `json:"records_per_second"`
	} `json:"produce"`
	Consume *struct {
		Records         int64 `json:"records"`
		ExpectedRecords int64 `json:"expected_records"`
		Bytes           int64 `json:"bytes"`
		FetchErrors     int64 `json:"fetch_errors"`
	} `json:"consume"`
	E2ELatencyMs *struct {
		Count uint64  `json:"count"`
		P50   float64 `json:"p50"`
		P999  float64 `json:"p999"`
		Max   float64 `json:"max"`
	} `json:"e2e_latency_ms"`
	Error string `json:"error"`
}

// runBench runs `sluice bench args…` and returns its stdout, stderr and
// exit code.
func runBench(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"bench"}, args...)...)
	cmd.Env = append(os.Environ(), "SLUICE_BROKERS=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("sluice bench %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// runBenchJSON runs a bench that must succeed and decodes its summary.
func runBenchJSON(t *testing.T, args ...string) benchSummary {
	t.Helper()
	stdout, stderr, code := runBench(t, append(args, "--format", "json")...)
	if code != 0 {
		t.Fatalf("sluice bench %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one JSON line on stdout, got %q", stdout)
	}
	var s benchSummary
	if err := json.Unmarshal([]byte(lines[0]), &s); err != nil {
		t.Fatalf("summary %q does not parse: %v", lines[0], err)
	}
	if s.Error != "" {
		t.Fatalf("summary reports an error: %s", s.Error)
	}
	return s
}

// TestBenchSmoke runs each `sluice bench` mode with tiny counts against a
// real broker and checks the JSON summaries' counts. It measures nothing:
// timings are not checked.
func TestBenchSmoke(t *testing.T) {
	b := StartBroker(t)
	const records = 2000
	common := []string{"-b", b.Addr, "--topic", "bench-smoke", "--quiet"}

	p := runBenchJSON(t, append([]string{"produce", "--records", strconv.Itoa(records), "--partitions", "3", "--record-size", "64"}, common...)...)
	if p.Mode != "produce" || p.Produce == nil || p.Produce.Records != records || p.Produce.Failed != 0 || p.Produce.Bytes != records*64 {
		t.Fatalf("produce summary: %+v", p.Produce)
	}

	c := runBenchJSON(t, append([]string{"consume", "--consumers", "2"}, common...)...)
	if c.Consume == nil || c.Consume.Records != records || c.Consume.ExpectedRecords != records || c.Consume.Bytes != records*64 {
		t.Fatalf("consume summary: %+v", c.Consume)
	}

	// Two named groups each read every record of the e2e run; the first
	// produce's records are before their start and not counted.
	e := runBenchJSON(t, append([]string{"e2e", "--records", strconv.Itoa(records), "--rate", "20000",
		"--group", "bench-smoke", "--groups", "2", "--acks", "1"}, common...)...)
	if e.Produce == nil || e.Produce.Records != records || e.Consume == nil || e.Consume.Records != 2*records ||
		e.E2ELatencyMs == nil || e.E2ELatencyMs.Count != 2*records {
		t.Fatalf("e2e summary: produce %+v consume %+v latency %+v", e.Produce, e.Consume, e.E2ELatencyMs)
	}
	if l := e.E2ELatencyMs; l.P50 <= 0 || l.P50 > l.P999 || l.P999 > l.Max {
		t.Fatalf("e2e latencies out of order: %+v", l)
	}
}

// TestBenchRefusals checks that bad flags and an unreachable broker end in
// one sentence on stderr and a non-zero exit.
func TestBenchRefusals(t *testing.T) {
	port := freePort(t) // nothing listens there once freePort returns
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"produce", "--records", "10", "-b", fmt.Sprintf("127.0.0.1:%d", port)}, "cannot reach a broker"},
		{[]string{"produce"}, "needs --records or --duration"},
		{[]string{"produce", "--records", "10", "--acks", "2"}, "--acks"},
		{[]string{"e2e", "--records", "10", "--record-size", "8"}, "--record-size"},
		{[]string{"consume", "--format", "yaml"}, "--format"},
	} {
		stdout, stderr, code := runBench(t, tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code == 0 || len(lines) != 1 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("sluice bench %s: exit %d, stderr %q, stdout %q; want one line with %q",
				strings.Join(tc.args, " "), code, stderr, stdout, tc.want)
		}
	}
}

// TestBenchKfakeBroker is not a test: with SLUICE_BENCH_KFAKE set it runs
// franz-go's kfake as the reference broker for scripts/bench, prints
// "kfake listening on ADDR" and serves until SIGINT or SIGTERM (or
// SLUICE_BENCH_KFAKE_FOR, default 30m). SLUICE_BENCH_KFAKE chooses its
// storage: memory, pagecache (a data dir, no fsync) or fsync (a data dir,
// fsync per batch). SLUICE_BENCH_KFAKE_PORT picks the port.
func TestBenchKfakeBroker(t *testing.T) {
	mode := os.Getenv("SLUICE_BENCH_KFAKE")
	if mode == "" {
		t.Skip("SLUICE_BENCH_KFAKE is not set; this runs kfake for scripts/bench")
	}
	port, _ := strconv.Atoi(os.Getenv("SLUICE_BENCH_KFAKE_PORT"))
	if port == 0 {
		port = freePort(t)
	}
	serveFor := 30 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("SLUICE_BENCH_KFAKE_FOR")); err == nil {
		serveFor = d
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port)}
	switch mode {
	case "memory":
	case "pagecache":
		opts = append(opts, kfake.DataDir(t.TempDir()))
	case "fsync":
		opts = append(opts, kfake.DataDir(t.TempDir()), kfake.SyncWrites())
	default:
		t.Fatalf("SLUICE_BENCH_KFAKE=%q is not memory, pagecache or fsync", mode)
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fmt.Printf("kfake listening on %s (%s)\n", strings.Join(cluster.ListenAddrs(), ","), mode)
	select {
	case <-ctx.Done():
	case <-time.After(serveFor):
	}
}
