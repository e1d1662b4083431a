package e2e

// Kafka's topic, console, group and config tools (Kafka 4.4, see
// java_harness_test.go) against a real sluice process. Each test checks
// what the tool printed, not only its exit code, and docs/compatibility.md
// lists the results.

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// javaAdmin is a franz-go admin client for setting up and checking what a
// Java tool did.
func javaAdmin(t *testing.T, b *Broker) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// describedTopic is what kafka-topics --describe printed for one topic.
type describedTopic struct {
	Fields     map[string]string   // the topic line: PartitionCount, Configs, …
	Partitions []map[string]string // one per partition line, in printed order
}

// parseTopicDescribe reads kafka-topics --describe output: a line of
// tab-separated "Name: value" fields per topic, then one per partition.
func parseTopicDescribe(t testing.TB, out, topic string) describedTopic {
	t.Helper()
	var d describedTopic
	for _, line := range toolLines(out) {
		fields := map[string]string{}
		for _, f := range strings.Split(line, "\t") {
			name, value, _ := strings.Cut(strings.TrimSpace(f), ":")
			fields[name] = strings.TrimSpace(value)
		}
		if fields["Topic"] != topic {
			continue
		}
		if _, ok := fields["Partition"]; ok {
			d.Partitions = append(d.Partitions, fields)
		} else {
			d.Fields = fields
		}
	}
	if d.Fields == nil {
		t.Fatalf("kafka-topics --describe printed no line for %s:\n%s", topic, out)
	}
	return d
}

// checkTopicDescribe checks the partition count, the dynamic configs and
// that every partition is led by node 1, alone in its replicas and ISR.
func checkTopicDescribe(t testing.TB, out, topic string, partitions int, configs string) {
	t.Helper()
	d := parseTopicDescribe(t, out, topic)
	if got := d.Fields["PartitionCount"]; got != strconv.Itoa(partitions) {
		t.Errorf("%s: PartitionCount %q, want %d", topic, got, partitions)
	}
	if got := d.Fields["ReplicationFactor"]; got != "1" {
		t.Errorf("%s: ReplicationFactor %q, want 1", topic, got)
	}
	if got := d.Fields["Configs"]; got != configs {
		t.Errorf("%s: Configs %q, want %q", topic, got, configs)
	}
	if len(d.Partitions) != partitions {
		t.Fatalf("%s: %d partition lines, want %d:\n%s", topic, len(d.Partitions), partitions, out)
	}
	for i, p := range d.Partitions {
		if p["Partition"] != strconv.Itoa(i) || p["Leader"] != "1" || p["Replicas"] != "1" || p["Isr"] != "1" {
			t.Errorf("%s: partition line %d is %v, want partition %d led by 1 with replicas and ISR [1]", topic, i, p, i)
		}
	}
}

// TestJavaTopics runs kafka-topics: create with a config, list, describe,
// alter --partitions, the errors for a duplicate create and a shrink, and
// delete.
func TestJavaTopics(t *testing.T) {
	b := javaBroker(t)
	topics := func(args ...string) toolResult {
		return javaTool(t, b, nil, javaTopics, append([]string{"--bootstrap-server", b.Addr}, args...)...)
	}
	ok := func(args ...string) string {
		t.Helper()
		return javaOK(t, b, nil, javaTopics, append([]string{"--bootstrap-server", b.Addr}, args...)...)
	}
	if out := ok("--create", "--topic", "jt", "--partitions", "3", "--replication-factor", "1",
		"--config", "retention.ms=86400000"); strings.TrimSpace(out) != "Created topic jt." {
		t.Errorf("create printed %q", out)
	}
	if lines := toolLines(ok("--list")); !slices.Contains(lines, "jt") {
		t.Errorf("--list printed %v, want jt among them", lines)
	}
	checkTopicDescribe(t, ok("--describe", "--topic", "jt"), "jt", 3, "retention.ms=86400000")

	ok("--alter", "--topic", "jt", "--partitions", "5")
	checkTopicDescribe(t, ok("--describe", "--topic", "jt"), "jt", 5, "retention.ms=86400000")
	// Two partitions a response: the admin client follows the cursor of
	// DescribeTopicPartitions (key 75) through three pages.
	checkTopicDescribe(t, ok("--describe", "--topic", "jt", "--partition-size-limit-per-response", "2"), "jt", 5, "retention.ms=86400000")
	checkDescribedThroughKey75(t, b, 5)

	if res := topics("--create", "--topic", "jt", "--partitions", "1"); res.ExitCode == 0 ||
		!strings.Contains(res.Stdout+res.Stderr, "already exists") {
		t.Errorf("a second create of jt exited %d, want an 'already exists' error; stderr:\n%s", res.ExitCode, clip(res.Stderr))
	}
	if res := topics("--alter", "--topic", "jt", "--partitions", "2"); res.ExitCode == 0 ||
		!strings.Contains(res.Stdout+res.Stderr, "InvalidPartitionsException") {
		t.Errorf("shrinking jt to 2 partitions exited %d, want InvalidPartitionsException; stderr:\n%s", res.ExitCode, clip(res.Stderr))
	}

	ok("--delete", "--topic", "jt")
	checkTopicGone(t, b, ok)
}

// metricsAddress is where a broker's output says its HTTP listener is.
var metricsAddress = regexp.MustCompile(`console and metrics on (http://\S+)`)

// checkDescribedThroughKey75 checks that the broker answered at least
// want DescribeTopicPartitions requests: kafka-topics --describe used it
// rather than falling back to Metadata.
func checkDescribedThroughKey75(t *testing.T, b *Broker, want float64) {
	t.Helper()
	m := metricsAddress.FindStringSubmatch(b.Output())
	if m == nil {
		t.Fatalf("no metrics address in the broker's output:\n%s", b.Output())
	}
	got := sumMetric(scrape(t, m[1]), "kafka_network_requestmetrics_requests_total", `request="DescribeTopicPartitions"`)
	if got < want {
		t.Errorf("the broker answered %v DescribeTopicPartitions requests, want at least %v", got, want)
	}
}

// checkTopicGone checks that kafka-topics no longer lists jt once its
// delete returned, and that describing it fails.
func checkTopicGone(t *testing.T, b *Broker, ok func(args ...string) string) {
	t.Helper()
	if lines := toolLines(ok("--list")); slices.Contains(lines, "jt") {
		t.Errorf("--list after delete printed %v, still with jt", lines)
	}
	res := javaTool(t, b, nil, javaTopics, "--bootstrap-server", b.Addr, "--describe", "--topic", "jt")
	if res.ExitCode == 0 || !strings.Contains(res.Stdout+res.Stderr, "Topic 'jt' does not exist") {
		t.Errorf("--describe of the deleted topic exited %d, want \"Topic 'jt' does not exist\"; stderr:\n%s", res.ExitCode, clip(res.Stderr))
	}
}

// javaConsoleRecords is how many records the console test produces.
const javaConsoleRecords = 30

// TestJavaConsoleProducerConsumer produces keyed records with headers with
// kafka-console-producer, reads them back with kafka-console-consumer in
// a group from the beginning, and checks with kafka-consumer-groups that
// the consumer committed its position (lag 0 everywhere).
func TestJavaConsoleProducerConsumer(t *testing.T) {
	b := javaBroker(t)
	const topic, group = "jc", "jc-group"
	createTopic(t, javaAdmin(t, b), topic, 3)

	var input strings.Builder
	want := map[string]bool{}
	for i := range javaConsoleRecords {
		headers, key, value := fmt.Sprintf("h1:a%d,h2:b", i), fmt.Sprintf("key-%d", i), fmt.Sprintf("value %d", i)
		fmt.Fprintf(&input, "%s|%s|%s\n", headers, key, value)
		want[headers+"\t"+key+"\t"+value] = true
	}
	javaOK(t, b, []byte(input.String()), javaProducer, "--bootstrap-server", b.Addr, "--topic", topic,
		"--reader-property", "parse.key=true", "--reader-property", "key.separator=|",
		"--reader-property", "parse.headers=true", "--reader-property", "headers.delimiter=|",
		"--reader-property", "headers.separator=,", "--reader-property", "headers.key.separator=:")

	out := javaOK(t, b, nil, javaConsumer, "--bootstrap-server", b.Addr, "--topic", topic,
		"--group", group, "--from-beginning", "--max-messages", strconv.Itoa(javaConsoleRecords),
		"--timeout-ms", "30000",
		"--formatter-property", "print.key=true", "--formatter-property", "print.headers=true",
		"--formatter-property", "print.partition=true", "--formatter-property", "print.offset=true")
	checkConsoleOutput(t, out, want)

	rows := toolTable(t, javaOK(t, b, nil, javaGroups, "--bootstrap-server", b.Addr, "--describe", "--group", group), "GROUP")
	total := 0
	for _, r := range rows {
		if r["LAG"] != "0" || r["CURRENT-OFFSET"] != r["LOG-END-OFFSET"] {
			t.Errorf("after the console consumer, group row %v: want lag 0", r)
		}
		n, _ := strconv.Atoi(r["LOG-END-OFFSET"])
		total += n
	}
	if len(rows) != 3 || total != javaConsoleRecords {
		t.Errorf("group %s describes %d partitions with %d records, want 3 with %d: %v", group, len(rows), total, javaConsoleRecords, rows)
	}
}

// checkConsoleOutput checks the console consumer's lines
// "Partition:P\tOffset:O\theaders\tkey\tvalue": every record produced read
// once, offsets consecutive from 0 in each partition, each key in one
// partition, and more than one partition used.
func checkConsoleOutput(t *testing.T, out string, want map[string]bool) {
	t.Helper()
	lines := toolLines(out)
	if len(lines) != len(want) {
		t.Fatalf("console consumer printed %d lines, want %d:\n%s", len(lines), len(want), clip(out))
	}
	next := map[string]int{}
	for _, line := range lines {
		fields := strings.SplitN(line, "\t", 3)
		if len(fields) != 3 || !strings.HasPrefix(fields[0], "Partition:") || !strings.HasPrefix(fields[1], "Offset:") {
			t.Fatalf("console consumer line %q is not Partition:P<tab>Offset:O<tab>record", line)
		}
		p := strings.TrimPrefix(fields[0], "Partition:")
		if off := strings.TrimPrefix(fields[1], "Offset:"); off != strconv.Itoa(next[p]) {
			t.Errorf("partition %s: offset %s, want %d", p, off, next[p])
		}
		next[p]++
		if !want[fields[2]] {
			t.Errorf("record %q was not produced, or was read twice", fields[2])
		}
		delete(want, fields[2])
	}
	if len(next) < 2 {
		t.Errorf("records keyed by %d keys landed in partitions %v only", len(lines), next)
	}
}

// TestJavaConsoleProducerCodecs produces with each codec through
// kafka-console-producer and checks on disk that the batches carry the
// codec and a producer id: the Java producer is idempotent by default.
func TestJavaConsoleProducerCodecs(t *testing.T) {
	b := javaBroker(t)
	const records = 20
	var input strings.Builder
	for i := range records {
		fmt.Fprintf(&input, "%s\n", strings.Repeat(fmt.Sprintf("compressible line %d ", i), 20))
	}
	for _, codec := range codecs[1:] {
		topic := "jcodec-" + codec
		javaOK(t, b, []byte(input.String()), javaProducer, "--bootstrap-server", b.Addr, "--topic", topic,
			"--compression-codec", codec)
		for _, batch := range checkDiskCodec(t, b.DataDir, topic, 0, codec, records) {
			if batch.ProducerID < 0 {
				t.Errorf("%s: batch at offset %d has no producer id: the Java producer did not use idempotence", topic, batch.BaseOffset)
			}
		}
	}
}

// TestJavaConsumerGroups runs kafka-consumer-groups on a group with known
// committed offsets: --list, --describe with the exact lag per partition,
// --describe --state, --reset-offsets --to-earliest --execute, --delete.
func TestJavaConsumerGroups(t *testing.T) {
	b := javaBroker(t)
	const topic, group = "jg", "jg-group"
	adm := javaAdmin(t, b)
	createTopic(t, adm, topic, 2)
	produceToPartitions(t, b, topic, []int{5, 7})
	offsets := kadm.Offsets{}
	offsets.AddOffset(topic, 0, 2, -1)
	offsets.AddOffset(topic, 1, 7, -1)
	if err := adm.CommitAllOffsets(testContext(t, 30*time.Second), group, offsets); err != nil {
		t.Fatalf("commit offsets for %s: %v", group, err)
	}
	groups := func(args ...string) string {
		t.Helper()
		return javaOK(t, b, nil, javaGroups, append([]string{"--bootstrap-server", b.Addr}, args...)...)
	}
	if lines := toolLines(groups("--list")); !slices.Contains(lines, group) {
		t.Errorf("--list printed %v, want %s among them", lines, group)
	}
	checkGroupLag(t, groups("--describe", "--group", group), map[string][3]string{"0": {"2", "5", "3"}, "1": {"7", "7", "0"}})
	if out := groups("--describe", "--group", group, "--state"); !strings.Contains(out, "Empty") {
		t.Errorf("--describe --state of a group without members printed:\n%s\nwant state Empty", out)
	}

	reset := toolTable(t, groups("--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute"), "GROUP")
	if len(reset) != 2 || reset[0]["NEW-OFFSET"] != "0" || reset[1]["NEW-OFFSET"] != "0" {
		t.Errorf("--reset-offsets --to-earliest printed %v, want new offset 0 on both partitions", reset)
	}
	checkGroupLag(t, groups("--describe", "--group", group), map[string][3]string{"0": {"0", "5", "5"}, "1": {"0", "7", "7"}})

	if out := groups("--delete", "--group", group); !strings.Contains(out, "Deletion of requested consumer groups ('"+group+"') was successful.") {
		t.Errorf("--delete printed:\n%s", out)
	}
	if lines := toolLines(groups("--list")); slices.Contains(lines, group) {
		t.Errorf("--list after delete printed %v, still with %s", lines, group)
	}
}

// checkGroupLag checks --describe rows: want maps a partition to its
// current offset, log end offset and lag.
func checkGroupLag(t *testing.T, out string, want map[string][3]string) {
	t.Helper()
	rows := toolTable(t, out, "GROUP")
	if len(rows) != len(want) {
		t.Fatalf("--describe printed %d rows, want %d:\n%s", len(rows), len(want), out)
	}
	for _, r := range rows {
		w, ok := want[r["PARTITION"]]
		got := [3]string{r["CURRENT-OFFSET"], r["LOG-END-OFFSET"], r["LAG"]}
		if !ok || got != w {
			t.Errorf("partition %s: current, log end, lag = %v, want %v", r["PARTITION"], got, w)
		}
	}
}

// TestJavaConfigs runs kafka-configs on a topic (describe, alter with
// --add-config and --delete-config, describe --all, an invalid value) and
// on the broker (describe; alter, which sluice refuses today).
func TestJavaConfigs(t *testing.T) {
	b := javaBroker(t)
	const topic = "jcfg"
	retention := "86400000"
	resp, err := javaAdmin(t, b).CreateTopic(testContext(t, 30*time.Second), 1, 1, map[string]*string{"retention.ms": &retention}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	configs := func(args ...string) toolResult {
		return javaTool(t, b, nil, javaConfigs, append([]string{"--bootstrap-server", b.Addr}, args...)...)
	}
	ok := func(args ...string) string {
		t.Helper()
		return javaOK(t, b, nil, javaConfigs, append([]string{"--bootstrap-server", b.Addr}, args...)...)
	}
	describe := []string{"--describe", "--entity-type", "topics", "--entity-name", topic}
	alter := []string{"--alter", "--entity-type", "topics", "--entity-name", topic}

	checkConfigLines(t, ok(describe...), []string{"retention.ms=86400000"}, []string{"cleanup.policy="})
	ok(append(alter, "--add-config", "retention.ms=3600000,cleanup.policy=compact")...)
	checkConfigLines(t, ok(describe...), []string{"retention.ms=3600000", "cleanup.policy=compact"}, nil)
	ok(append(alter, "--delete-config", "cleanup.policy")...)
	checkConfigLines(t, ok(describe...), []string{"retention.ms=3600000"}, []string{"cleanup.policy="})
	checkConfigLines(t, ok(append(describe, "--all")...),
		[]string{"retention.ms=3600000", "cleanup.policy=delete", "segment.bytes="}, nil)
	if res := configs(append(alter, "--add-config", "retention.ms=soon")...); res.ExitCode == 0 ||
		!strings.Contains(res.Stderr, "InvalidConfigurationException") {
		t.Errorf("retention.ms=soon exited %d, want InvalidConfigurationException; stderr:\n%s", res.ExitCode, clip(res.Stderr))
	}

	broker := []string{"--entity-type", "brokers", "--entity-name", "1"}
	checkConfigLines(t, ok(append([]string{"--describe", "--all"}, broker...)...),
		[]string{"advertised.listeners=PLAINTEXT://" + b.Addr, "log.dirs=" + b.DataDir, "num.partitions=1"}, nil)
	// Limitation: broker configs are static in sluice (no dynamic broker
	// configs through IncrementalAlterConfigs). This flips when they land.
	res := configs(append([]string{"--alter", "--add-config", "log.cleaner.threads=2"}, broker...)...)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "broker configs are static in this version of sluice") {
		t.Errorf("altering a broker config exited %d; stderr:\n%s\nwant today's refusal 'broker configs are static'", res.ExitCode, clip(res.Stderr))
	}
}

// checkConfigLines checks that kafka-configs printed a config line
// starting with each of want and none starting with any of unwanted.
func checkConfigLines(t *testing.T, out string, want, unwanted []string) {
	t.Helper()
	lines := toolLines(out)
	has := func(prefix string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
	}
	for _, w := range want {
		if !has(w) {
			t.Errorf("kafka-configs printed no line starting %q:\n%s", w, clip(out))
		}
	}
	for _, u := range unwanted {
		if has(u) {
			t.Errorf("kafka-configs printed a line starting %q:\n%s", u, clip(out))
		}
	}
}
