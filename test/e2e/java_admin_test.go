package e2e

// Kafka's offset, log-dir, record-deletion, performance and cluster tools
// (Kafka 4.4, see java_harness_test.go) against a real sluice process, and
// the tools that fail today because sluice lacks the API they call: those
// cases assert today's failure, so they flip when the API lands.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestJavaOffsetsLogDirsDeleteRecords runs kafka-get-offsets (latest,
// earliest), kafka-log-dirs --describe and kafka-delete-records on a topic
// with known partition sizes.
func TestJavaOffsetsLogDirsDeleteRecords(t *testing.T) {
	b := javaBroker(t)
	const topic = "jo"
	createTopic(t, javaAdmin(t, b), topic, 2)
	produceToPartitions(t, b, topic, []int{4, 6})
	offsets := func(args ...string) []string {
		t.Helper()
		out := javaOK(t, b, nil, javaGetOffsets, append([]string{"--bootstrap-server", b.Addr, "--topic", topic}, args...)...)
		return toolLines(out)
	}
	checkLines(t, "get-offsets (latest)", offsets(), "jo:0:4", "jo:1:6")
	checkLines(t, "get-offsets --time -2 (earliest)", offsets("--time", "-2"), "jo:0:0", "jo:1:0")

	checkLogDirs(t, b, topic, 2)

	plan := filepath.Join(t.TempDir(), "delete.json")
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[{"topic":"jo","partition":1,"offset":4}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := javaOK(t, b, nil, javaDeleteRecords, "--bootstrap-server", b.Addr, "--offset-json-file", plan)
	if !strings.Contains(out, "partition: jo-1\tlow_watermark: 4") {
		t.Errorf("kafka-delete-records printed:\n%s\nwant partition jo-1 with low_watermark 4", out)
	}
	checkLines(t, "get-offsets --time -2 after delete-records", offsets("--time", "-2"), "jo:0:0", "jo:1:4")
	checkLines(t, "get-offsets after delete-records", offsets(), "jo:0:4", "jo:1:6")
}

// checkLines compares a tool's output lines with want.
func checkLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s printed %q, want %q", what, got, want)
	}
}

// logDirsReport is the JSON line kafka-log-dirs --describe prints.
type logDirsReport struct {
	Brokers []struct {
		Broker  int32 `json:"broker"`
		LogDirs []struct {
			LogDir     string  `json:"logDir"`
			Error      *string `json:"error"`
			Partitions []struct {
				Partition string `json:"partition"`
				Size      int64  `json:"size"`
				OffsetLag int64  `json:"offsetLag"`
				IsFuture  bool   `json:"isFuture"`
			} `json:"partitions"`
		} `json:"logDirs"`
	} `json:"brokers"`
}

// checkLogDirs checks that kafka-log-dirs reports broker 1 with the
// broker's data dir holding every partition of topic, each non-empty.
func checkLogDirs(t *testing.T, b *Broker, topic string, partitions int) {
	t.Helper()
	out := javaOK(t, b, nil, javaLogDirs, "--bootstrap-server", b.Addr, "--describe", "--topic-list", topic)
	var report logDirsReport
	for _, line := range toolLines(out) {
		if strings.HasPrefix(line, "{") {
			if err := json.Unmarshal([]byte(line), &report); err != nil {
				t.Fatalf("kafka-log-dirs JSON %q: %v", line, err)
			}
		}
	}
	if len(report.Brokers) != 1 || report.Brokers[0].Broker != 1 || len(report.Brokers[0].LogDirs) != 1 {
		t.Fatalf("kafka-log-dirs printed %s, want one broker, 1, with one log dir", out)
	}
	dir := report.Brokers[0].LogDirs[0]
	if dir.LogDir != b.DataDir || dir.Error != nil {
		t.Errorf("log dir %q (error %v), want %q without error", dir.LogDir, dir.Error, b.DataDir)
	}
	var names []string
	for _, p := range dir.Partitions {
		names = append(names, p.Partition)
		if p.Size <= 0 || p.OffsetLag != 0 || p.IsFuture {
			t.Errorf("partition %s: size %d, offsetLag %d, isFuture %v; want a positive size, lag 0, not future", p.Partition, p.Size, p.OffsetLag, p.IsFuture)
		}
	}
	slices.Sort(names)
	var want []string
	for p := range partitions {
		want = append(want, fmt.Sprintf("%s-%d", topic, p))
	}
	if !slices.Equal(names, want) {
		t.Errorf("kafka-log-dirs lists partitions %v, want %v", names, want)
	}
}

// javaPerfRecords is the size of the performance tools' run: enough for
// many batches, small enough for a second or two on a 2-core machine.
const javaPerfRecords = 10000

// TestJavaPerfTools runs kafka-producer-perf-test with acks=all (its
// --command-property takes several values; a second flag would replace the
// first) and then
// kafka-consumer-perf-test over what it wrote.
func TestJavaPerfTools(t *testing.T) {
	b := javaBroker(t)
	const topic = "jperf"
	n := strconv.Itoa(javaPerfRecords)
	out := javaOK(t, b, nil, javaProducerPerf, "--topic", topic, "--num-records", n, "--record-size", "100",
		"--throughput", "-1", "--command-property", "bootstrap.servers="+b.Addr, "acks=all")
	if !strings.Contains(out, n+" records sent,") {
		t.Errorf("kafka-producer-perf-test printed:\n%s\nwant %s records sent", out, n)
	}
	if end := endOffset(t, b, topic); end != javaPerfRecords {
		t.Errorf("%s ends at offset %d after the producer perf test, want %d", topic, end, javaPerfRecords)
	}

	out = javaOK(t, b, nil, javaConsumerPerf, "--bootstrap-server", b.Addr, "--topic", topic,
		"--num-records", n, "--timeout", "30000")
	rows := toolCSV(t, out, "start.time")
	if len(rows) != 1 || rows[0]["data.consumed.in.nMsg"] != n {
		t.Errorf("kafka-consumer-perf-test printed %v, want one row with data.consumed.in.nMsg %s", rows, n)
	}
}

// endOffset is the end offset of partition 0 of topic, asked with franz-go.
func endOffset(t *testing.T, b *Broker, topic string) int64 {
	t.Helper()
	ends, err := javaAdmin(t, b).ListEndOffsets(testContext(t, 30*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := ends.Lookup(topic, 0)
	if !ok || o.Err != nil {
		t.Fatalf("end offset of %s-0: %v, %v", topic, ok, o.Err)
	}
	return o.Offset
}

// toolCSV parses the comma-separated table the perf tools print: the
// header line starting with first, then rows.
func toolCSV(t *testing.T, out, first string) []map[string]string {
	t.Helper()
	var header []string
	var rows []map[string]string
	for _, line := range toolLines(out) {
		fields := strings.Split(line, ",")
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		if header == nil {
			if fields[0] == first {
				header = fields
			}
			continue
		}
		if len(fields) != len(header) {
			continue // a warning line, not a row
		}
		row := map[string]string{}
		for i, name := range header {
			row[name] = fields[i]
		}
		rows = append(rows, row)
	}
	if header == nil {
		t.Fatalf("no CSV header starting %s in:\n%s", first, out)
	}
	return rows
}

// apiVersionLine is one line of kafka-broker-api-versions: an API the
// broker lists, "Name(key): min to max [usable: v]", or "Name(key): v
// [usable: v]" when it serves one version.
var apiVersionLine = regexp.MustCompile(`^\w+\((\d+)\): (\d+)(?: to (\d+))? \[usable: \d+\],?$`)

// TestJavaClusterTools runs kafka-cluster (cluster-id, list-endpoints),
// kafka-broker-api-versions and kafka-features describe.
func TestJavaClusterTools(t *testing.T) {
	b := javaBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testContext(t, 30*time.Second)
	md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil || md.ClusterID == nil {
		t.Fatalf("metadata: %v (cluster id %v)", err, md)
	}
	out := javaOK(t, b, nil, javaCluster, "cluster-id", "--bootstrap-server", b.Addr)
	if strings.TrimSpace(out) != "Cluster ID: "+*md.ClusterID {
		t.Errorf("kafka-cluster cluster-id printed %q, want cluster id %s", out, *md.ClusterID)
	}
	_, port, _ := strings.Cut(b.Addr, ":")
	endpoints := toolTable(t, javaOK(t, b, nil, javaCluster, "list-endpoints", "--bootstrap-server", b.Addr), "ID")
	if len(endpoints) != 1 || endpoints[0]["ID"] != "1" || endpoints[0]["HOST"] != "127.0.0.1" ||
		endpoints[0]["PORT"] != port || endpoints[0]["STATE"] != "unfenced" {
		t.Errorf("kafka-cluster list-endpoints printed %v, want node 1 at %s, unfenced", endpoints, b.Addr)
	}

	checkAPIVersions(t, b, cl)

	checkJavaFeatures(t, b)
}

// javaFeatureLine is kafka-features describe's line for metadata.version
// as Sluice finalizes it at cluster creation (internal/metadata
// features.go); the epoch is the metadata log index that set it.
var javaFeatureLine = regexp.MustCompile(`^Feature: metadata\.version\s+SupportedMinVersion: 3\.3-IV3\s+SupportedMaxVersion: 3\.9-IV0\s+FinalizedVersionLevel: 3\.9-IV0\s+Epoch: \d+$`)

// checkJavaFeatures runs kafka-features: describe lists metadata.version
// only (no transaction.version, group.version or share.version: Sluice has
// none of their protocols); an upgrade past 3.9-IV0, a downgrade, an
// upgrade of transaction.version and an upgrade to a release version
// (which includes kraft.version 1) fail with one clear message each; an
// upgrade of metadata.version to its current level succeeds.
func checkJavaFeatures(t *testing.T, b *Broker) {
	t.Helper()
	lines := toolLines(javaOK(t, b, nil, javaFeatures, "--bootstrap-server", b.Addr, "describe"))
	if len(lines) != 1 || !javaFeatureLine.MatchString(lines[0]) {
		t.Errorf("kafka-features describe printed %q, want one metadata.version line at 3.9-IV0", lines)
	}
	refused := []struct {
		args []string
		want string
	}{
		{[]string{"upgrade", "--feature", "metadata.version=25"}, "invalid update version 25 for feature metadata.version: Sluice supports levels 7 to 21"},
		{[]string{"downgrade", "--feature", "metadata.version=20"}, "refusing to perform the requested downgrade"},
		{[]string{"upgrade", "--feature", "transaction.version=2"}, "invalid update version 2 for feature transaction.version: Sluice does not support this feature"},
		// A release version upgrades every feature to that release's
		// level, kraft.version 1 (KIP-853 dynamic voters) among them.
		{[]string{"upgrade", "--release-version", "3.9"}, "invalid update version 1 for feature kraft.version: Sluice supports levels 0 to 0"},
	}
	for _, c := range refused {
		res := javaTool(t, b, nil, javaFeatures, append([]string{"--bootstrap-server", b.Addr}, c.args...)...)
		if res.ExitCode == 0 || !strings.Contains(res.Stdout+res.Stderr, c.want) {
			t.Errorf("kafka-features %v exited %d, want a failure saying %q; stdout:\n%s\nstderr:\n%s", c.args, res.ExitCode, c.want, clip(res.Stdout), clip(res.Stderr))
		}
	}
	javaOK(t, b, nil, javaFeatures, "--bootstrap-server", b.Addr, "upgrade", "--feature", "metadata.version=21")
}

// checkAPIVersions checks that kafka-broker-api-versions shows exactly the
// version ranges the broker advertises to franz-go.
func checkAPIVersions(t *testing.T, b *Broker, cl *kgo.Client) {
	t.Helper()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(testContext(t, 30*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, k := range resp.ApiKeys {
		want[strconv.Itoa(int(k.ApiKey))] = fmt.Sprintf("%d to %d", k.MinVersion, k.MaxVersion)
	}
	got := map[string]string{}
	out := javaOK(t, b, nil, javaAPIVersions, "--bootstrap-server", b.Addr)
	for _, line := range toolLines(out) {
		if m := apiVersionLine.FindStringSubmatch(line); m != nil {
			if m[3] == "" {
				m[3] = m[2]
			}
			got[m[1]] = m[2] + " to " + m[3]
		}
	}
	for key, w := range want {
		if got[key] != w {
			t.Errorf("kafka-broker-api-versions shows API %s as %q, the broker advertises %q", key, got[key], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("kafka-broker-api-versions shows %d APIs as usable, the broker advertises %d:\n%s", len(got), len(want), clip(out))
	}
}

// TestJavaToolsMissingAPIs runs the tools whose API sluice does not serve
// yet and checks that each fails with the Java client's clear
// UnsupportedVersionException naming the API. Each case flips (and must
// then become a real test) when its API lands; docs/compatibility.md lists
// them.
func TestJavaToolsMissingAPIs(t *testing.T) {
	b := javaBroker(t)
	cases := []struct {
		class   string
		args    []string
		missing string // the API the tool names in its error
	}{
		{javaQuorum, []string{"describe", "--status"}, "DESCRIBE_QUORUM"},
		{javaTransactions, []string{"list"}, "LIST_TRANSACTIONS"},
		{javaClientMetrics, []string{"--list"}, "LIST_CONFIG_RESOURCES"},
	}
	for _, c := range cases {
		res := javaTool(t, b, nil, c.class, append([]string{"--bootstrap-server", b.Addr}, c.args...)...)
		want := "The node does not support " + c.missing
		if res.ExitCode == 0 || !strings.Contains(res.Stdout+res.Stderr, want) {
			t.Errorf("%s %v exited %d, want a failure saying %q; stdout:\n%s\nstderr:\n%s",
				shortClass(c.class), c.args, res.ExitCode, want, clip(res.Stdout), clip(res.Stderr))
		}
	}
}

// TestJavaLeaderElection runs kafka-leader-election against three brokers
// and a topic of replication factor 3 whose partition 0 lost its
// preferred leader to a restart: a preferred election of that partition
// (--topic/--partition) gives it back; --all-topic-partitions elects
// whatever else that broker prefers; an election that is not needed, an
// unclean one where a leader is, says "Valid replica already elected";
// an unknown topic fails the tool with UnknownTopicOrPartitionException.
func TestJavaLeaderElection(t *testing.T) {
	javaClasspath(t)
	c := newCluster(t, append(append(fastFencing, javaBrokerEnv...), noAutoRebalance)...)
	c.start()
	ctx := testContext(t, 3*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	const topic, partitions = "elect", 3
	c.createReplicated(ctx, topic, partitions)
	id := c.moveLeadershipAway(ctx, topic, partitions)
	bootstrap := strings.Join(c.seeds(), ",")
	tool := func(args ...string) toolResult {
		t.Helper()
		return javaTool(t, c.nodes[0], nil, javaLeaderElect, append([]string{"--bootstrap-server", bootstrap}, args...)...)
	}

	res := tool("--election-type", "preferred", "--topic", topic, "--partition", "0")
	if want := "Successfully completed leader election (PREFERRED) for partitions " + topic + "-0"; res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != want {
		t.Fatalf("preferred election of %s-0 exited %d, printed %q, want %q; stderr:\n%s\n%s", topic, res.ExitCode, res.Stdout, want, clip(res.Stderr), c.outputs())
	}
	c.waitElectLayout(ctx, c.nodes, topic, partitions, clusterAgreeMax, fmt.Sprintf("broker %d leads %s-0", id, topic),
		func(l map[int32]electPartition) bool { return l[0].Leader == id })

	res = tool("--election-type", "preferred", "--all-topic-partitions")
	if res.ExitCode != 0 || (res.Stdout != "" && !strings.HasPrefix(res.Stdout, "Successfully completed leader election (PREFERRED)")) {
		t.Fatalf("preferred election of every partition exited %d, printed %q; stderr:\n%s", res.ExitCode, res.Stdout, clip(res.Stderr))
	}
	c.waitElectLayout(ctx, c.nodes, topic, partitions, clusterAgreeMax, "every partition led by its preferred replica", preferredLead)
	if res = tool("--election-type", "preferred", "--all-topic-partitions"); res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "" {
		t.Errorf("with every preferred replica leading, the election of every partition exited %d, printed %q; want nothing", res.ExitCode, res.Stdout)
	}

	for _, how := range []string{"preferred", "unclean"} {
		res = tool("--election-type", how, "--topic", topic, "--partition", "1")
		if want := "Valid replica already elected for partitions " + topic + "-1"; res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != want {
			t.Errorf("%s election of %s-1 exited %d, printed %q, want %q", how, topic, res.ExitCode, res.Stdout, want)
		}
	}
	res = tool("--election-type", "preferred", "--topic", "missing", "--partition", "0")
	if want := "Error completing leader election (PREFERRED) for partition: missing-0: org.apache.kafka.common.errors.UnknownTopicOrPartitionException"; res.ExitCode == 0 || !strings.Contains(res.Stdout, want) {
		t.Errorf("election of an unknown topic exited %d, printed %q, want a failure saying %q", res.ExitCode, res.Stdout, want)
	}
}
