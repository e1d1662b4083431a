package cli

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errText is err's sentence, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParseCreate(t *testing.T) {
	for _, tc := range []struct {
		partitions int32
		replicas   int16
		configs    []string
		want       string // error; "" for success
	}{
		{-1, -1, nil, ""},
		{6, 3, []string{"retention.ms=1", "cleanup.policy=compact"}, ""},
		{0, 1, nil, "-p must be at least 1 (or -1 for the broker's default), not 0"},
		{-2, 1, nil, "-p must be at least 1 (or -1 for the broker's default), not -2"},
		{1, 0, nil, "-r must be at least 1 (or -1 for the broker's default), not 0"},
		{1, 1, []string{"retention.ms"}, `-c "retention.ms" must look like key=value`},
		// A bad config is named before a bad count, as before.
		{0, 0, []string{"=x"}, `-c "=x" must look like key=value`},
	} {
		req, err := parseCreate(tc.partitions, tc.replicas, tc.configs, true)
		if got := errText(err); got != tc.want {
			t.Errorf("parseCreate(%d, %d, %q): %q, want %q", tc.partitions, tc.replicas, tc.configs, got, tc.want)
			continue
		}
		if err == nil && (req.partitions != tc.partitions || req.replicas != tc.replicas || len(req.configs) != len(tc.configs) || !req.dryRun) {
			t.Errorf("parseCreate(%d, %d, %q) = %+v", tc.partitions, tc.replicas, tc.configs, req)
		}
	}
}

func TestCheckPartitionCount(t *testing.T) {
	const want = "give either -n (partitions to add) or --total (the new partition count), as a positive number"
	for _, tc := range []struct {
		add, total int
		ok         bool
	}{{2, 0, true}, {0, 8, true}, {0, 0, false}, {2, 8, false}, {-1, 0, false}} {
		err := checkPartitionCount(tc.add, tc.total)
		if (err == nil) != tc.ok || (err != nil && err.Error() != want) {
			t.Errorf("checkPartitionCount(%d, %d): %v", tc.add, tc.total, err)
		}
	}
}

func TestSeekTargetCheck(t *testing.T) {
	for _, tc := range []struct {
		target                    seekTarget
		timestampGiven, offsetGiv bool
		want                      string
	}{
		{seekTarget{earliest: true, timestampMs: -1, offset: -1}, false, false, ""},
		{seekTarget{timestampMs: 1700000000000, offset: -1}, true, false, ""},
		{seekTarget{timestampMs: -1, offset: 0}, false, true, ""},
		{seekTarget{timestampMs: -5, offset: -1}, true, false, "--to-timestamp must be a Unix time in milliseconds, not -5"},
		{seekTarget{timestampMs: -1, offset: -1}, false, true, "--to-offset must not be negative, not -1"},
	} {
		if got := errText(tc.target.check(tc.timestampGiven, tc.offsetGiv)); got != tc.want {
			t.Errorf("%+v.check(%v, %v): %q, want %q", tc.target, tc.timestampGiven, tc.offsetGiv, got, tc.want)
		}
	}
}

// listed builds ListListedOffsets from topic/partition/offset triples.
func listed(entries ...kadm.ListedOffset) kadm.ListedOffsets {
	l := kadm.ListedOffsets{}
	for _, e := range entries {
		if l[e.Topic] == nil {
			l[e.Topic] = map[int32]kadm.ListedOffset{}
		}
		l[e.Topic][e.Partition] = e
	}
	return l
}

func TestBoundOffset(t *testing.T) {
	starts := listed(
		kadm.ListedOffset{Topic: "t", Partition: 0, Offset: 10},
		kadm.ListedOffset{Topic: "t", Partition: 1, Offset: 0},
		kadm.ListedOffset{Topic: "t", Partition: 2, Offset: 0},
	)
	for _, tc := range []struct {
		offset int64
		want   [3]int64 // partitions 0, 1, 2 (2 keeps its error and offset)
	}{
		{5, [3]int64{10, 5, -1}},   // below the log start of p0
		{15, [3]int64{15, 8, -1}},  // past the end of p1
		{100, [3]int64{20, 8, -1}}, // past every end
	} {
		ends := listed(
			kadm.ListedOffset{Topic: "t", Partition: 0, Offset: 20},
			kadm.ListedOffset{Topic: "t", Partition: 1, Offset: 8},
			kadm.ListedOffset{Topic: "t", Partition: 2, Offset: -1, Err: kerr.NotLeaderForPartition},
		)
		boundOffset(tc.offset, starts, ends)
		for p, want := range tc.want {
			if got := ends["t"][int32(p)].Offset; got != want {
				t.Errorf("boundOffset(%d): partition %d at %d, want %d", tc.offset, p, got, want)
			}
		}
	}
}

func TestSeekMoves(t *testing.T) {
	partitions := kadm.TopicsSet{}
	partitions.Add("b", 1, 0)
	partitions.Add("a", 0)
	committed := kadm.OffsetResponses{
		"b": {0: {Offset: kadm.Offset{Topic: "b", Partition: 0, At: 7}}},
		"a": {0: {Offset: kadm.Offset{Topic: "a", Partition: 0, At: 3}, Err: kerr.UnknownTopicOrPartition}},
	}
	newOffsets := listed(
		kadm.ListedOffset{Topic: "a", Partition: 0, Offset: 0},
		kadm.ListedOffset{Topic: "b", Partition: 0, Offset: 2},
		kadm.ListedOffset{Topic: "b", Partition: 1, Offset: 4},
	)
	moves, err := seekMoves(partitions, committed, newOffsets)
	if err != nil {
		t.Fatal(err)
	}
	want := []seekMove{
		{Topic: "a", Partition: 0, Previous: -1, New: 0}, // a commit with an error is no commit
		{Topic: "b", Partition: 0, Previous: 7, New: 2},
		{Topic: "b", Partition: 1, Previous: -1, New: 4},
	}
	if !reflect.DeepEqual(moves, want) {
		t.Fatalf("seekMoves = %+v, want %+v", moves, want)
	}

	delete(newOffsets["b"], 1)
	_, err = seekMoves(partitions, committed, newOffsets)
	if got, want := errText(err), `cannot list the offsets of topic "b" partition 1: the partition's leader did not answer`; got != want {
		t.Fatalf("seekMoves without an offset: %q, want %q", got, want)
	}
}

func TestPrintSeek(t *testing.T) {
	moves := []seekMove{{Topic: "t", Partition: 0, Previous: -1, New: 5}}
	for _, tc := range []struct {
		asJSON, dryRun bool
		want           string
	}{
		{false, false, "GROUP  TOPIC  PARTITION  PREVIOUS-OFFSET  NEW-OFFSET\ng      t      0          -                5\n"},
		{false, true, "GROUP  TOPIC  PARTITION  PREVIOUS-OFFSET  NEW-OFFSET (DRY RUN)\ng      t      0          -                5\n"},
		{true, true, "[\n  {\n    \"topic\": \"t\",\n    \"partition\": 0,\n    \"previous_offset\": -1,\n    \"new_offset\": 5\n  }\n]\n"},
	} {
		var out bytes.Buffer
		if err := printSeek(&out, tc.asJSON, "g", moves, tc.dryRun); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("printSeek(json=%v, dryRun=%v):\n%q\nwant\n%q", tc.asJSON, tc.dryRun, out.String(), tc.want)
		}
	}
}

func TestRemainingPartitions(t *testing.T) {
	starts := listed(
		kadm.ListedOffset{Topic: "t", Partition: 0, Offset: 0},
		kadm.ListedOffset{Topic: "t", Partition: 1, Offset: 5},
		kadm.ListedOffset{Topic: "t", Partition: 2, Offset: 0},
	)
	ends := listed(
		kadm.ListedOffset{Topic: "t", Partition: 0, Offset: 10},
		kadm.ListedOffset{Topic: "t", Partition: 1, Offset: 5}, // empty
		kadm.ListedOffset{Topic: "t", Partition: 2, Offset: 3, Err: kerr.NotLeaderForPartition},
	)
	after := listed(kadm.ListedOffset{Topic: "t", Partition: 0, Offset: -1}) // no record after the time
	for _, tc := range []struct {
		start startOffset
		want  map[string]map[int32]int64
	}{
		{startOffset{kind: "start"}, map[string]map[int32]int64{"t": {0: 10}}},
		{startOffset{kind: "end"}, map[string]map[int32]int64{}},
		{startOffset{kind: "exact", value: 9}, map[string]map[int32]int64{"t": {0: 10}}},
		{startOffset{kind: "exact", value: 10}, map[string]map[int32]int64{}},
		{startOffset{kind: "relative", value: 1}, map[string]map[int32]int64{"t": {0: 10}}},
		{startOffset{kind: "time", value: 1}, map[string]map[int32]int64{}},
	} {
		if got := remainingPartitions(tc.start, starts, ends, after); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("remainingPartitions(%+v) = %v, want %v", tc.start, got, tc.want)
		}
	}
}

func TestDeletedTopics(t *testing.T) {
	resps := kadm.DeleteTopicResponses{
		"gone":   {Topic: "gone"},
		"absent": {Topic: "absent", Err: kerr.UnknownTopicOrPartition},
		"locked": {Topic: "locked", Err: kerr.PolicyViolation, ErrMessage: "No deletes on Fridays."},
	}
	out, failures := deletedTopics([]string{"gone", "absent", "locked", "unanswered"}, resps)
	wantOut := []deletedTopic{
		{Topic: "gone"},
		{Topic: "absent", Error: `topic "absent" does not exist`},
		{Topic: "locked", Error: "no deletes on Fridays (POLICY_VIOLATION)"},
		{Topic: "unanswered", Error: `topic "unanswered" does not exist`},
	}
	if !reflect.DeepEqual(out, wantOut) {
		t.Errorf("deletedTopics rows = %+v, want %+v", out, wantOut)
	}
	wantFailures := []string{
		`topic "absent" does not exist`,
		`cannot delete topic "locked": no deletes on Fridays (POLICY_VIOLATION)`,
		`topic "unanswered" does not exist`,
	}
	if !reflect.DeepEqual(failures, wantFailures) {
		t.Errorf("deletedTopics failures = %q, want %q", failures, wantFailures)
	}
	var table bytes.Buffer
	err := printDeletedTopics(&table, false, []string{"gone", "absent"}, resps)
	if table.String() != "TOPIC  STATUS\ngone   deleted\n" || errText(err) != `deleting topics: 1 of 2 failed: topic "absent" does not exist` {
		t.Errorf("printDeletedTopics: %q, %v", table.String(), err)
	}
}

func TestDeletedGroups(t *testing.T) {
	resps := kadm.DeleteGroupResponses{
		"old":    {Group: "old"},
		"absent": {Group: "absent", Err: kerr.GroupIDNotFound},
		"busy":   {Group: "busy", Err: kerr.NonEmptyGroup},
	}
	_, failures := deletedGroups([]string{"old", "absent", "busy", "silent"}, resps)
	want := []string{
		`group "absent" does not exist`,
		`group "busy" still has members; stop its consumers before deleting it`,
		`cannot delete group "silent": its coordinator did not answer`,
	}
	if !reflect.DeepEqual(failures, want) {
		t.Errorf("deletedGroups failures = %q, want %q", failures, want)
	}
	var table bytes.Buffer
	err := printDeletedGroups(&table, false, []string{"old"}, resps)
	if table.String() != "GROUP  STATUS\nold    deleted\n" || err != nil {
		t.Errorf("printDeletedGroups: %q, %v", table.String(), err)
	}
}

func TestDescribeGroups(t *testing.T) {
	lags := kadm.DescribedGroupLags{
		"live":   {Group: "live", State: "Stable"},
		"dead":   {Group: "dead", State: "Dead"},
		"broken": {Group: "broken", State: "Stable", FetchErr: kerr.CoordinatorNotAvailable},
	}
	for _, tc := range []struct {
		groups []string
		want   string
	}{
		{[]string{"live"}, ""},
		{[]string{"live", "dead"}, `group "dead" does not exist`},
		{[]string{"unknown"}, `group "unknown" does not exist`},
		{[]string{"broken"}, `cannot describe group "broken": the coordinator is not available (COORDINATOR_NOT_AVAILABLE)`},
	} {
		got, err := describeGroups(tc.groups, lags)
		if errText(err) != tc.want {
			t.Errorf("describeGroups(%q): %q, want %q", tc.groups, errText(err), tc.want)
		}
		if err == nil && (len(got) != len(tc.groups) || got[0].Group != tc.groups[0]) {
			t.Errorf("describeGroups(%q) = %+v", tc.groups, got)
		}
	}
}

func TestNewClusterInfo(t *testing.T) {
	rack := "r1"
	meta := kadm.Metadata{
		Cluster:    "c1",
		Controller: 2,
		Brokers: kadm.BrokerDetails{
			{NodeID: 2, Host: "b", Port: 9092},
			{NodeID: 1, Host: "a", Port: 9092, Rack: &rack},
		},
		Topics: kadm.TopicDetails{
			"t": {Topic: "t", Partitions: kadm.PartitionDetails{0: {}, 1: {}}},
			"u": {Topic: "u", Partitions: kadm.PartitionDetails{0: {}}},
		},
	}
	want := clusterInfo{ClusterID: "c1", Controller: 2, Topics: 2, Partitions: 3, Brokers: []clusterBroker{
		{ID: 1, Host: "a", Port: 9092, Rack: "r1"},
		{ID: 2, Host: "b", Port: 9092, Controller: true},
	}}
	if got := newClusterInfo(meta); !reflect.DeepEqual(got, want) {
		t.Errorf("newClusterInfo = %+v, want %+v", got, want)
	}
}

func TestCheckHealth(t *testing.T) {
	meta := kadm.Metadata{
		Controller: 1,
		Brokers:    kadm.BrokerDetails{{NodeID: 1}, {NodeID: 2}},
		Topics: kadm.TopicDetails{"t": {Topic: "t", Partitions: kadm.PartitionDetails{
			0: {Topic: "t", Partition: 0, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}},
			1: {Topic: "t", Partition: 1, Leader: -1, Replicas: []int32{2}, ISR: []int32{}},
		}}},
	}
	up := kadm.BrokersApiVersions{1: {NodeID: 1}, 2: {NodeID: 2}}
	for _, tc := range []struct {
		name     string
		meta     kadm.Metadata
		versions kadm.BrokersApiVersions
		want     string
	}{
		{"leaderless", meta, up, "the cluster is not healthy: 1 partition without a leader, 1 under-replicated partition"},
		{"broker down", meta, kadm.BrokersApiVersions{1: {NodeID: 1}}, "the cluster is not healthy: 1 of 2 brokers does not answer, 1 partition without a leader, 1 under-replicated partition"},
		{"healthy", kadm.Metadata{Controller: 1, Brokers: kadm.BrokerDetails{{NodeID: 1}}}, up, ""},
		{"no controller", kadm.Metadata{Controller: -1, Brokers: kadm.BrokerDetails{{NodeID: 1}}}, up, "the cluster is not healthy: no controller is known"},
	} {
		h := checkHealth(tc.meta, tc.versions)
		if got := errText(h.problem()); got != tc.want || h.Healthy != (tc.want == "") {
			t.Errorf("%s: healthy=%v, %q, want %q", tc.name, h.Healthy, got, tc.want)
		}
	}
}

func TestProducerOpts(t *testing.T) {
	for _, tc := range []struct {
		compression, acks string
		partition         int32
		want              string
	}{
		{"", "all", -1, ""},
		{"ZSTD", "-1", 0, ""},
		{"lz4", "0", -1, ""},
		{"brotli", "all", -1, `--compression must be none, gzip, snappy, lz4 or zstd, not "brotli"`},
		{"none", "2", -1, `--acks must be all, -1, 1 or 0, not "2"`},
		{"none", "1", -2, "--partition must be a partition number or -1, not -2"},
	} {
		o := &produceOptions{compression: tc.compression, acks: tc.acks, partition: tc.partition}
		opts, err := o.producerOpts()
		if got := errText(err); got != tc.want {
			t.Errorf("producerOpts(%q, %q, %d): %q, want %q", tc.compression, tc.acks, tc.partition, got, tc.want)
			continue
		}
		if err == nil {
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Errorf("producerOpts(%q, %q, %d): kgo refuses the options: %v", tc.compression, tc.acks, tc.partition, err)
				continue
			}
			cl.Close()
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	root := &cobra.Command{Use: "sluice"}
	parent := &cobra.Command{Use: "topic"}
	parent.AddCommand(&cobra.Command{Use: "list", Run: func(*cobra.Command, []string) {}})
	root.AddCommand(parent)
	RequireSubcommands(root)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"topic", "list"}, ""},
		{[]string{"topic"}, ""},
		{[]string{"topic", "lsit"}, `unknown command "lsit" for "sluice topic"; did you mean "list"?`},
		{[]string{"topic", "nosuch"}, `unknown command "nosuch" for "sluice topic"`},
		{[]string{"topic", "nosuch", "--bogus"}, `unknown command "nosuch" for "sluice topic"`},
		{[]string{"topic", "list", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"completion", "nosuch"}, `unknown command "nosuch" for "sluice completion"`},
	} {
		root.SetArgs(tc.args)
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		root.SilenceErrors, root.SilenceUsage = true, true
		if got := errText(root.Execute()); got != tc.want {
			t.Errorf("sluice %s: %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
}
