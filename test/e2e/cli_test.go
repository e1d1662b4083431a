package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// cliRunMax bounds one CLI invocation; every command the tests run ends
// well before it (the slowest waits out a 2s --timeout).
const cliRunMax = 20 * time.Second

// cliResult is what one run of the sluice CLI printed and how it exited.
type cliResult struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// cliRun runs the sluice binary with stdin and args. SLUICE_BROKERS is
// removed from the environment unless env sets it.
func cliRun(t *testing.T, stdin string, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliRunMax)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLUICE_BROKERS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("sluice %s did not end within %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), cliRunMax, clip(r.stdout), clip(r.stderr))
	}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("sluice %s: %v", strings.Join(args, " "), err)
		}
	}
	r.code = cmd.ProcessState.ExitCode()
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("sluice %s printed a stack trace:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// cliOK runs the CLI against b and fails the test unless it exits 0.
func cliOK(t *testing.T, b *Broker, stdin string, args ...string) string {
	t.Helper()
	r := cliRun(t, stdin, nil, append(args, "-b", b.Addr)...)
	if r.code != 0 {
		t.Fatalf("sluice %s exited %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, clip(r.stdout), clip(r.stderr))
	}
	return r.stdout
}

// cliFails runs the CLI against addr and checks it exits non-zero with
// exactly one line on stderr, which it returns.
func cliFails(t *testing.T, addr string, args ...string) cliResult {
	t.Helper()
	r := cliRun(t, "", nil, append(args, "-b", addr)...)
	if r.code == 0 {
		t.Fatalf("sluice %s succeeded, want an error\nstdout:\n%s", strings.Join(args, " "), clip(r.stdout))
	}
	if lines := strings.Count(strings.TrimSuffix(r.stderr, "\n"), "\n"); lines != 0 || !strings.HasPrefix(r.stderr, "sluice: ") {
		t.Fatalf("sluice %s: want one error line starting with \"sluice: \", got:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// cliJSON runs the CLI with --format json and decodes its output into v.
func cliJSON(t *testing.T, b *Broker, v any, args ...string) {
	t.Helper()
	out := cliOK(t, b, "", append(args, "--format", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("sluice %s --format json: %v\n%s", strings.Join(args, " "), err, clip(out))
	}
}

// cliTableRow returns the fields of the first table line whose first
// field is key, or nil.
func cliTableRow(out, key string) []string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == key {
			return f
		}
	}
	return nil
}

type cliDescribedTopic struct {
	Topic      string `json:"topic"`
	Partitions []struct {
		Partition      int32   `json:"partition"`
		Leader         int32   `json:"leader"`
		Replicas       []int32 `json:"replicas"`
		ISR            []int32 `json:"isr"`
		LogStartOffset int64   `json:"log_start_offset"`
		HighWatermark  int64   `json:"high_watermark"`
		SizeBytes      int64   `json:"size_bytes"`
	} `json:"partitions"`
	SizeBytes int64 `json:"size_bytes"`
	Configs   []struct {
		Name   string  `json:"name"`
		Value  *string `json:"value"`
		Source string  `json:"source"`
	} `json:"configs"`
}

func (d cliDescribedTopic) config(name string) (value, source string) {
	for _, c := range d.Configs {
		if c.Name == name {
			if c.Value != nil {
				value = *c.Value
			}
			return value, c.Source
		}
	}
	return "", ""
}

// TestCLI runs the sluice CLI binary against a real broker: topics,
// produce and consume, groups, cluster, and the error sentences.
func TestCLI(t *testing.T) {
	b := StartBroker(t, "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0")
	t.Run("Topics", func(t *testing.T) { cliTestTopics(t, b) })
	t.Run("ProduceConsume", func(t *testing.T) { cliTestProduceConsume(t, b) })
	t.Run("Timestamp", func(t *testing.T) { cliTestTimestamp(t, b) })
	t.Run("Groups", func(t *testing.T) { cliTestGroups(t, b) })
	t.Run("Cluster", func(t *testing.T) { cliTestCluster(t, b) })
	t.Run("Errors", func(t *testing.T) { cliTestErrors(t, b) })
}

func cliTestTopics(t *testing.T, b *Broker) {
	out := cliOK(t, b, "", "topic", "create", "orders", "-p", "3", "-r", "1", "-c", "retention.ms=3600000")
	if f := cliTableRow(out, "orders"); len(f) < 4 || f[1] != "3" || f[2] != "1" || f[3] != "created" {
		t.Fatalf("topic create printed:\n%s", out)
	}
	// SLUICE_BROKERS stands in for -b.
	r := cliRun(t, "", []string{"SLUICE_BROKERS=" + b.Addr}, "topic", "list")
	if f := cliTableRow(r.stdout, "orders"); r.code != 0 || len(f) != 3 || f[1] != "3" || f[2] != "1" {
		t.Fatalf("topic list with SLUICE_BROKERS exited %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	var listed []struct {
		Topic      string `json:"topic"`
		Partitions int    `json:"partitions"`
		Replicas   int    `json:"replicas"`
	}
	cliJSON(t, b, &listed, "topic", "list")
	if len(listed) != 1 || listed[0].Topic != "orders" || listed[0].Partitions != 3 || listed[0].Replicas != 1 {
		t.Fatalf("topic list --format json = %+v", listed)
	}

	cliOK(t, b, "a\nb\nc\nd\n", "produce", "orders", "--partition", "1")
	out = cliOK(t, b, "", "topic", "describe", "orders")
	for _, want := range []string{"PARTITION  LEADER  EPOCH  REPLICAS  ISR  LOG-START-OFFSET  HIGH-WATERMARK  SIZE", "CONFIG", "SOURCE"} {
		if !strings.Contains(out, want) {
			t.Fatalf("topic describe lacks %q:\n%s", want, out)
		}
	}
	if f := cliTableRow(out, "retention.ms"); len(f) != 3 || f[1] != "3600000" || f[2] != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("topic describe retention.ms row = %q:\n%s", f, out)
	}
	if f := cliTableRow(out, "1"); len(f) < 8 || f[6] != "4" {
		t.Fatalf("topic describe partition 1 row = %q, want high watermark 4:\n%s", f, out)
	}
	var described []cliDescribedTopic
	cliJSON(t, b, &described, "topic", "describe", "orders")
	if len(described) != 1 || len(described[0].Partitions) != 3 {
		t.Fatalf("topic describe --format json = %+v", described)
	}
	p1 := described[0].Partitions[1]
	if p1.Partition != 1 || p1.HighWatermark != 4 || p1.LogStartOffset != 0 || p1.SizeBytes <= 0 || len(p1.Replicas) != 1 || len(p1.ISR) != 1 || p1.Leader != p1.Replicas[0] {
		t.Fatalf("partition 1 = %+v, want 4 records on disk led by its replica", p1)
	}

	out = cliOK(t, b, "", "topic", "alter-config", "orders", "--set", "max.message.bytes=2000000", "--delete", "retention.ms")
	if !strings.Contains(out, "max.message.bytes") {
		t.Fatalf("alter-config printed:\n%s", out)
	}
	cliJSON(t, b, &described, "topic", "describe", "orders")
	if v, src := described[0].config("max.message.bytes"); v != "2000000" || src != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("max.message.bytes = %q from %s after alter-config", v, src)
	}
	if _, src := described[0].config("retention.ms"); src == "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("retention.ms still a topic override after --delete")
	}

	out = cliOK(t, b, "", "topic", "add-partitions", "orders", "-n", "2")
	if f := cliTableRow(out, "orders"); len(f) != 3 || f[1] != "3" || f[2] != "5" {
		t.Fatalf("add-partitions printed:\n%s", out)
	}
	cliJSON(t, b, &described, "topic", "describe", "orders")
	if len(described[0].Partitions) != 5 {
		t.Fatalf("after add-partitions: %d partitions, want 5", len(described[0].Partitions))
	}

	cliOK(t, b, "", "topic", "delete", "orders")
	cliJSON(t, b, &listed, "topic", "list")
	if len(listed) != 0 {
		t.Fatalf("topic list after delete = %+v", listed)
	}
}

// cliTestProduceConsume: lines with keys and headers come back byte for
// byte through a template and through JSON.
func cliTestProduceConsume(t *testing.T, b *Broker) {
	cliOK(t, b, "", "topic", "create", "events", "-p", "1")
	lines := []string{
		"k1|hello world",
		"k2|tab\there",
		"k3|ünïcødé ✓",
		"k4|percent %v and \\n stay literal",
		"k5|",
		"k6|value|with|separators",
		"k7|carriage return\r",
	}
	input := strings.Join(lines, "\n") + "\n"
	out := cliOK(t, b, input, "produce", "events", "-K", "|", "-H", "source=cli", "-H", "n=1", "-v")
	for i := range lines {
		want := fmt.Sprintf("line %d: partition 0, offset %d", i+1, i)
		if !strings.Contains(out, want+"\n") {
			t.Fatalf("produce -v lacks %q:\n%s", want, out)
		}
	}
	out = cliOK(t, b, "", "consume", "events", "-o", "start", "-n", strconv.Itoa(len(lines)), "-f", `%k|%v\n`)
	if out != input {
		t.Fatalf("consume template output differs from produce input:\n got %q\nwant %q", out, input)
	}
	out = cliOK(t, b, "", "consume", "events", "-o", "start", "-n", "2", "-f", `%t %p %o %K %S %h\n`)
	if want := "events 0 0 2 11 source=cli,n=1\nevents 0 1 2 8 source=cli,n=1\n"; out != want {
		t.Fatalf("consume directives:\n got %q\nwant %q", out, want)
	}

	out = cliOK(t, b, "", "consume", "events", "-o", "start", "-n", strconv.Itoa(len(lines)), "-f", "json")
	var got []string
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var rec struct {
			Topic     string  `json:"topic"`
			Partition int32   `json:"partition"`
			Offset    int64   `json:"offset"`
			Timestamp int64   `json:"timestamp"`
			Key       *string `json:"key"`
			Value     *string `json:"value"`
			Headers   []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"headers"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("consume -f json line %d: %v: %s", i, err, line)
		}
		if rec.Topic != "events" || rec.Offset != int64(i) || rec.Key == nil || rec.Value == nil || rec.Timestamp <= 0 ||
			len(rec.Headers) != 2 || rec.Headers[0].Key != "source" || rec.Headers[0].Value != "cli" {
			t.Fatalf("consume -f json line %d = %s", i, line)
		}
		got = append(got, *rec.Key+"|"+*rec.Value)
	}
	if strings.Join(got, "\n") != strings.Join(lines, "\n") {
		t.Fatalf("consume -f json records:\n got %q\nwant %q", got, lines)
	}

	// Compression and acks=1 change the wire, not the records.
	cliOK(t, b, "z1\nz2\n", "produce", "events", "--compression", "zstd", "--acks", "1")
	out = cliOK(t, b, "", "consume", "events", "-o=-2", "-e")
	if out != "z1\nz2\n" {
		t.Fatalf("consume -o=-2 -e after a zstd produce = %q", out)
	}
}

// cliTestTimestamp: -o @UNIX_MS starts at the first record at or after
// that time.
func cliTestTimestamp(t *testing.T, b *Broker) {
	cliOK(t, b, "", "topic", "create", "clock", "-p", "2")
	cliOK(t, b, "old1\nold2\nold3\n", "produce", "clock")
	// at must be later than every old record's timestamp, which are at
	// most the millisecond the produce returned in; the new records are
	// stamped after at.
	oldDone := time.Now().UnixMilli()
	testutil.Eventually(t, time.Second, "the millisecond clock to tick", func() bool { return time.Now().UnixMilli() > oldDone })
	at := time.Now().UnixMilli()
	cliOK(t, b, "new1\nnew2\n", "produce", "clock", "--partition", "1")
	out := cliOK(t, b, "", "consume", "clock", "-o", "@"+strconv.FormatInt(at, 10), "-e")
	if out != "new1\nnew2\n" {
		t.Fatalf("consume -o @%d -e = %q, want the two newer records", at, out)
	}
	out = cliOK(t, b, "", "consume", "clock", "-o", "end", "-e")
	if out != "" {
		t.Fatalf("consume -o end -e = %q, want nothing", out)
	}
}

type cliDescribedGroup struct {
	Group      string `json:"group"`
	State      string `json:"state"`
	Members    int    `json:"members"`
	TotalLag   int64  `json:"total_lag"`
	Partitions []struct {
		Topic         string `json:"topic"`
		Partition     int32  `json:"partition"`
		CurrentOffset int64  `json:"current_offset"`
		LogEndOffset  int64  `json:"log_end_offset"`
		Lag           int64  `json:"lag"`
	} `json:"partitions"`
}

func cliTestGroups(t *testing.T, b *Broker) {
	cliOK(t, b, "", "topic", "create", "jobs", "-p", "2")
	var input strings.Builder
	for i := range 10 {
		fmt.Fprintf(&input, "key%d:job%d\n", i, i)
	}
	cliOK(t, b, input.String(), "produce", "jobs", "-K", ":")

	out := cliOK(t, b, "", "consume", "jobs", "-g", "workers", "-n", "4")
	if n := strings.Count(out, "\n"); n != 4 {
		t.Fatalf("consume -g -n 4 printed %d records:\n%s", n, out)
	}
	out = cliOK(t, b, "", "group", "list")
	if f := cliTableRow(out, "workers"); len(f) != 5 || f[1] != "Empty" || f[2] != "0" || f[4] != "6" {
		t.Fatalf("group list row = %q, want Empty, 0 members, lag 6:\n%s", f, out)
	}
	var listed []struct {
		Group    string `json:"group"`
		TotalLag int64  `json:"total_lag"`
	}
	cliJSON(t, b, &listed, "group", "list")
	if len(listed) != 1 || listed[0].Group != "workers" || listed[0].TotalLag != 6 {
		t.Fatalf("group list --format json = %+v", listed)
	}

	out = cliOK(t, b, "", "group", "describe", "workers")
	header := "GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID"
	if f := cliTableRow(out, "GROUP"); strings.Join(f, " ") != "GROUP workers" {
		t.Fatalf("group describe lacks the GROUP line:\n%s", out)
	}
	if !strings.Contains(strings.Join(strings.Fields(out), " "), header) {
		t.Fatalf("group describe lacks the columns %q:\n%s", header, out)
	}
	if f := cliTableRow(out, "TOTAL-LAG"); len(f) != 2 || f[1] != "6" {
		t.Fatalf("group describe TOTAL-LAG row = %q:\n%s", f, out)
	}
	var described []cliDescribedGroup
	cliJSON(t, b, &described, "group", "describe", "workers")
	committed, ends := int64(0), int64(0)
	for _, p := range described[0].Partitions {
		committed += max(p.CurrentOffset, 0)
		ends += p.LogEndOffset
		if p.Lag != p.LogEndOffset-max(p.CurrentOffset, 0) {
			t.Fatalf("partition %d: lag %d, current %d, end %d", p.Partition, p.Lag, p.CurrentOffset, p.LogEndOffset)
		}
	}
	if described[0].TotalLag != 6 || committed != 4 || ends != 10 || len(described[0].Partitions) != 2 {
		t.Fatalf("group describe --format json = %+v", described[0])
	}

	out = cliOK(t, b, "", "group", "seek", "workers", "--to-earliest")
	if !strings.Contains(out, "PREVIOUS-OFFSET") {
		t.Fatalf("group seek printed:\n%s", out)
	}
	cliJSON(t, b, &described, "group", "describe", "workers")
	if described[0].TotalLag != 10 {
		t.Fatalf("after seek --to-earliest total lag = %d, want 10: %+v", described[0].TotalLag, described[0])
	}
	for _, p := range described[0].Partitions {
		if p.CurrentOffset != 0 {
			t.Fatalf("after seek --to-earliest partition %d is at %d", p.Partition, p.CurrentOffset)
		}
	}
	out = cliOK(t, b, "", "consume", "jobs", "-g", "workers", "-n", "10", "-f", `%k\n`)
	if n := strings.Count(out, "\n"); n != 10 {
		t.Fatalf("consume after seek printed %d records, want all 10:\n%s", n, out)
	}

	cliOK(t, b, "", "group", "delete", "workers")
	r := cliFails(t, b.Addr, "group", "describe", "workers")
	if r.stderr != "sluice: group \"workers\" does not exist\n" {
		t.Fatalf("describe of a deleted group: %q", r.stderr)
	}
}

func cliTestCluster(t *testing.T, b *Broker) {
	out := cliOK(t, b, "", "cluster", "info")
	port := b.Addr[strings.LastIndex(b.Addr, ":")+1:]
	if !strings.Contains(out, "CLUSTER-ID") || !strings.Contains(out, " "+port+" ") {
		t.Fatalf("cluster info:\n%s", out)
	}
	var info struct {
		ClusterID  string `json:"cluster_id"`
		Controller int32  `json:"controller"`
		Brokers    []struct {
			ID   int32  `json:"id"`
			Host string `json:"host"`
			Port int32  `json:"port"`
		} `json:"brokers"`
	}
	cliJSON(t, b, &info, "cluster", "info")
	if info.ClusterID == "" || len(info.Brokers) != 1 || strconv.Itoa(int(info.Brokers[0].Port)) != port || info.Controller != info.Brokers[0].ID {
		t.Fatalf("cluster info --format json = %+v", info)
	}
	out = cliOK(t, b, "", "cluster", "health")
	if f := cliTableRow(out, "HEALTHY"); len(f) != 2 || f[1] != "yes" {
		t.Fatalf("cluster health:\n%s", out)
	}
	var health struct {
		Healthy bool `json:"healthy"`
	}
	cliJSON(t, b, &health, "cluster", "health")
	if !health.Healthy {
		t.Fatalf("cluster health --format json says unhealthy")
	}
	r := cliRun(t, "", nil, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "bash completion") {
		t.Fatalf("completion bash exited %d: %s", r.code, clip(r.stderr))
	}
}

func cliTestErrors(t *testing.T, b *Broker) {
	for _, args := range [][]string{
		{"topic", "describe", "nosuch"},
		{"consume", "nosuch", "-n", "1"},
	} {
		r := cliFails(t, b.Addr, args...)
		if r.stderr != "sluice: topic \"nosuch\" does not exist\n" {
			t.Fatalf("sluice %s: %q", strings.Join(args, " "), r.stderr)
		}
	}

	// A port nobody listens on: each command tries for --timeout, then
	// names the address.
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for _, args := range [][]string{
		{"topic", "list", "--timeout", "2s"},
		{"consume", "anything", "--timeout", "1s"},
	} {
		r := cliFails(t, dead, args...)
		timeout, _ := time.ParseDuration(args[len(args)-1])
		want := fmt.Sprintf("sluice: cannot reach a broker at %s (tried for %s)", dead, timeout)
		if !strings.HasPrefix(r.stderr, want) {
			t.Fatalf("sluice %s against %s: %q, want it to start with %q", strings.Join(args, " "), dead, r.stderr, want)
		}
		if r.elapsed > timeout+5*time.Second {
			t.Fatalf("sluice %s took %s with --timeout %s", strings.Join(args, " "), r.elapsed, timeout)
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"topic", "list", "--bogus"}, "sluice: unknown flag: --bogus (see 'sluice topic list --help')\n"},
		{[]string{"consume", "events", "-o", "sometime"}, "sluice: -o must be start, end, an offset, -N or @UNIX_MS, not \"sometime\"\n"},
		{[]string{"topic", "create"}, "sluice: 'sluice topic create' needs a topic name\n"},
		{[]string{"topic", "create", "events"}, "sluice: topic \"events\" already exists\n"},
		// An unknown subcommand fails, so that a script sees its typo.
		{[]string{"cluster", "nosuch"}, "sluice: unknown command \"nosuch\" for \"sluice cluster\"\n"},
		{[]string{"nosuch"}, "sluice: unknown command \"nosuch\" for \"sluice\"\n"},
	} {
		if r := cliFails(t, b.Addr, tc.args...); r.stderr != tc.want {
			t.Fatalf("sluice %s: %q, want %q", strings.Join(tc.args, " "), r.stderr, tc.want)
		}
	}
	// A parent command alone still prints its help and succeeds.
	if r := cliRun(t, "", nil, "cluster"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands:") {
		t.Fatalf("sluice cluster exited %d\nstdout:\n%s\nstderr:\n%s", r.code, clip(r.stdout), clip(r.stderr))
	}
}
