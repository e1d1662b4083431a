package e2e

// Consumer groups driven by clients other than franz-go, against a real
// sluice process: confluent-kafka-python (librdkafka), kafka-python (old
// FindCoordinator, JoinGroup, SyncGroup, OffsetCommit and OffsetFetch
// versions) and kcat's balanced consumer (librdkafka auto commit). Each
// commits part of a topic, the broker restarts, and a new member of the
// same group must resume exactly at the committed offsets. Two members of
// one group must share the partitions (eager and, for librdkafka,
// cooperative); a member must ride through a broker restart without
// losing or repeating records; librdkafka, kafka-python and franz-go must
// form one group together. franz-go's kadm and the clients' own admin
// APIs check what the clients left behind: committed offsets and
// metadata, group states, members and their assignments.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// groupsClientsEnv makes groups quick: no initial rebalance delay, short
// session timeouts allowed.
var groupsClientsEnv = []string{
	"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
	"KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS=1000",
	"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS=5",
}

const (
	// groupsClientsPartitions is the partition count of every topic here.
	groupsClientsPartitions = 4
	// groupsClientsEnd is how many records each partition holds for the
	// Python clients.
	groupsClientsEnd = 40
	// groupPollEvery is the pause between two DescribeGroups while
	// waiting for a group's state.
	groupPollEvery = 50 * time.Millisecond
)

// groupsClientsCommits is where the first member of a group stops in each
// partition: different offsets, so a commit stored under the wrong
// partition shows.
var groupsClientsCommits = []int64{20, 7, 33, 20}

// groupScriptSummary is one JSON line of a groups_*.py script.
type groupScriptSummary struct {
	Client    string             `json:"client"`
	Mode      string             `json:"mode"`
	Phase     string             `json:"phase"`
	Consumed  map[string][]int64 `json:"consumed"`
	Committed map[string]int64   `json:"committed"`
	// CommittedMetadata is kafka-python's committed(metadata=True).
	CommittedMetadata map[string]*string `json:"committed_metadata"`
	APIVersion        string             `json:"api_version"`
	Ignored           int                `json:"ignored"`
	Commits           int                `json:"commits"`
	Assignment        []int32            `json:"assignment"`
	Assignments       map[string][]int32 `json:"assignments"`
	// Assigned lists the partitions of each assignment a "live" member
	// got, in order: one entry per rebalance.
	Assigned     [][]int32 `json:"assigned"`
	CommitErrors []string  `json:"commit_errors"`
	// Admin is the group as the client's own admin API shows it.
	Admin        *groupAdminView `json:"admin"`
	ClientErrors []string        `json:"client_errors"`
}

// groupAdminView is a group as a Python client's admin API shows it:
// librdkafka's list_groups(), kafka-python's KafkaAdminClient.
type groupAdminView struct {
	State        string             `json:"state"`
	ProtocolType string             `json:"protocol_type"`
	Protocol     string             `json:"protocol"`
	Members      map[string][]int32 `json:"members"` // partitions by client id
	Groups       map[string]string  `json:"groups"`  // every listed group's protocol type
	// Offsets and Metadata are every committed offset (kafka-python only).
	Offsets  map[string]int64  `json:"offsets"`
	Metadata map[string]string `json:"metadata"`
}

// check compares the view with the group's expected state and members
// (by client id), and when offsets is not nil, the committed offsets and
// metadata by partition.
func (v *groupAdminView) check(t testing.TB, client, group, state string, members map[string][]int32, offsets []int64, metadata []string) {
	t.Helper()
	if v == nil {
		t.Errorf("%s admin: no view of group %s", client, group)
		return
	}
	if v.State != state || v.ProtocolType != "consumer" || (state == "Stable") != (v.Protocol != "") {
		t.Errorf("%s admin: group %s is %q, protocol type %q, protocol %q; want %s, consumer, a protocol only when Stable",
			client, group, v.State, v.ProtocolType, v.Protocol, state)
	}
	if pt, ok := v.Groups[group]; !ok || pt != "consumer" {
		t.Errorf("%s admin: the group listing %v lacks %s as a consumer group", client, v.Groups, group)
	}
	if len(v.Members) != len(members) {
		t.Errorf("%s admin: group %s members %v, want %v", client, group, v.Members, members)
	}
	for id, want := range members {
		if got, ok := v.Members[id]; !ok || !slices.Equal(got, want) {
			t.Errorf("%s admin: group %s member %s assigned %v (present %v), want %v", client, group, id, got, ok, want)
		}
	}
	if offsets == nil || !strings.Contains(client, "kafka-python") {
		return
	}
	if len(v.Offsets) != len(offsets) {
		t.Errorf("%s admin: group %s committed offsets %v, want %v", client, group, v.Offsets, offsets)
	}
	for p, want := range offsets {
		key := strconv.Itoa(p)
		if got, ok := v.Offsets[key]; !ok || got != want || v.Metadata[key] != metadata[p] {
			t.Errorf("%s admin: group %s partition %d committed %d with metadata %q (present %v), want %d with %q",
				client, group, p, got, v.Metadata[key], ok, want, metadata[p])
		}
	}
}

// scriptOutput is a bytes.Buffer safe for a process's writes and our reads.
type scriptOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *scriptOutput) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buf.Len() < 1<<20 {
		s.buf.Write(p)
	}
	return len(p), nil
}

func (s *scriptOutput) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// groupScript is a running groups_*.py script: its JSON lines arrive on
// lines, a line written to its stdin lets a "share" run close.
type groupScript struct {
	t      testing.TB
	b      *Broker
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *scriptOutput
	lines  chan string
	done   chan struct{}
}

// startGroupScript starts testdata/script with args; the process is
// killed when the test ends, if it still runs.
func startGroupScript(t testing.TB, b *Broker, script string, args ...string) *groupScript {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", script))
	if err != nil {
		t.Fatal(err)
	}
	s := &groupScript{t: t, b: b, name: fmt.Sprintf("%s %v", script, args), stderr: &scriptOutput{},
		lines: make(chan string, 16), done: make(chan struct{})}
	// -B: no __pycache__ beside the scripts in the source tree.
	s.cmd = exec.Command(pythonPath, append([]string{"-B", path}, args...)...)
	s.cmd.Stderr = s.stderr
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// exited explains a script that ended early: a skip for a missing module,
// a failure otherwise.
func (s *groupScript) exited() {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Fatalf("%s closed its output but did not exit", s.name)
	}
	code := s.cmd.ProcessState.ExitCode()
	if code == pythonExitMissing {
		s.t.Skipf("%s: %s", s.name, strings.TrimSpace(s.stderr.String()))
	}
	s.t.Fatalf("%s exited %d before printing its summary:\n%s\nbroker output:\n%s",
		s.name, code, clip(s.stderr.String()), clip(s.b.Output()))
}

// next returns the script's next JSON line.
func (s *groupScript) next(timeout time.Duration) groupScriptSummary {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			s.exited()
		}
		var sum groupScriptSummary
		if err := json.Unmarshal([]byte(line), &sum); err != nil {
			s.t.Fatalf("%s printed %q, not a JSON summary: %v", s.name, clip(line), err)
		}
		return sum
	case <-time.After(timeout):
		s.cmd.Process.Kill()
		s.t.Fatalf("%s printed nothing within %v; stderr:\n%s\nbroker output:\n%s",
			s.name, timeout, clip(s.stderr.String()), clip(s.b.Output()))
	}
	panic("unreachable")
}

// finish reads the script's last JSON line and checks that it exits 0.
func (s *groupScript) finish(timeout time.Duration) groupScriptSummary {
	s.t.Helper()
	sum := s.next(timeout)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		s.t.Fatalf("%s did not exit after its summary", s.name)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Fatalf("%s exited %d:\n%s", s.name, code, clip(s.stderr.String()))
	}
	return sum
}

// send writes line to the script's stdin.
func (s *groupScript) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatalf("%s: write stdin: %v", s.name, err)
	}
}

// goAhead lets a "share" or "member" script close its consumers.
func (s *groupScript) goAhead() {
	s.t.Helper()
	s.send("close")
	s.stdin.Close()
}

// runGroupScript runs a "half" or "resume" script to its end.
func runGroupScript(t testing.TB, b *Broker, script string, args ...string) groupScriptSummary {
	t.Helper()
	return startGroupScript(t, b, script, args...).finish(pythonScriptTimeout)
}

// produceNumbered produces to every partition of topic the records at
// offsets from..to-1, each with the value p<partition>-o<offset>; the
// topic must hold exactly from records per partition before.
func produceNumbered(t testing.TB, cl *kgo.Client, topic string, partitions int, from, to int64) {
	t.Helper()
	var recs []*kgo.Record
	for p := range partitions {
		for o := from; o < to; o++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p),
				Key: []byte(strconv.FormatInt(o, 10)), Value: fmt.Appendf(nil, "p%d-o%d", p, o)})
		}
	}
	if err := cl.ProduceSync(testContext(t, 20*time.Second), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// groupsClientsSetup creates topic with partitions partitions and returns
// a client that produces by partition and its admin.
func groupsClientsSetup(t *testing.T, b *Broker, topic string, partitions int32) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	createTopic(t, adm, topic, partitions)
	return cl, adm
}

// offsetsFromTo is from, from+1, ..., to-1.
func offsetsFromTo(from, to int64) []int64 {
	out := []int64{}
	for o := from; o < to; o++ {
		out = append(out, o)
	}
	return out
}

// checkGroupCommits checks through kadm that group has committed exactly
// want[p] for each partition p of topic with want[p] >= 0 and nothing for
// the others, with no leader epoch (none of these clients sends one), and
// when wantMetadata is not nil, with the commit metadata wantMetadata[p].
func checkGroupCommits(t testing.TB, adm *kadm.Client, group, topic string, want []int64, wantMetadata []string, when string) {
	t.Helper()
	resps, err := adm.FetchOffsets(testContext(t, 10*time.Second), group)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatalf("%s: OffsetFetch for %s: %v", when, group, err)
	}
	for topicName, ps := range resps {
		if topicName != topic {
			t.Errorf("%s: group %s has commits for topic %q, want only %q", when, group, topicName, topic)
			continue
		}
		for p, o := range ps {
			if p < 0 || int(p) >= len(want) || want[p] < 0 {
				t.Errorf("%s: group %s has a commit for %s-%d at %d, want none", when, group, topic, p, o.At)
			}
		}
	}
	for p, w := range want {
		if w < 0 {
			continue
		}
		o, ok := resps.Lookup(topic, int32(p))
		switch {
		case !ok:
			t.Errorf("%s: group %s has no commit for %s-%d, want %d", when, group, topic, p, w)
		case o.At != w || o.LeaderEpoch != -1:
			t.Errorf("%s: group %s committed %s-%d at %d (leader epoch %d), want %d (leader epoch -1)",
				when, group, topic, p, o.At, o.LeaderEpoch, w)
		case wantMetadata != nil && o.Metadata != wantMetadata[p]:
			t.Errorf("%s: group %s committed %s-%d with metadata %q, want %q", when, group, topic, p, o.Metadata, wantMetadata[p])
		}
	}
}

// describeOneGroup describes one group through kadm.
func describeOneGroup(t testing.TB, adm *kadm.Client, group string) kadm.DescribedGroup {
	t.Helper()
	groups, err := adm.DescribeGroups(testContext(t, 10*time.Second), group)
	if err != nil {
		t.Fatalf("DescribeGroups %s: %v", group, err)
	}
	d, ok := groups[group]
	if !ok || d.Err != nil {
		t.Fatalf("DescribeGroups %s: %+v (present %v)", group, d, ok)
	}
	return d
}

// checkEmptyGroup checks through kadm that group is Empty with no members
// (waiting a little: the last member's LeaveGroup may still be on its way)
// and that ListGroups lists it as an Empty consumer group.
func checkEmptyGroup(t testing.TB, adm *kadm.Client, group, when string) {
	t.Helper()
	var d kadm.DescribedGroup
	// On timeout the checks below say what the group looks like.
	testutil.WaitForEvery(10*time.Second, groupPollEvery, func() bool {
		d = describeOneGroup(t, adm, group)
		return d.State == "Empty" && len(d.Members) == 0
	})
	if d.State != "Empty" || len(d.Members) != 0 || d.ProtocolType != "consumer" {
		t.Errorf("%s: group %s is %s with %d members, protocol type %q; want Empty, 0 members, protocol type consumer",
			when, group, d.State, len(d.Members), d.ProtocolType)
	}
	listed, err := adm.ListGroups(testContext(t, 10*time.Second))
	if err != nil {
		t.Fatalf("%s: ListGroups: %v", when, err)
	}
	if l, ok := listed[group]; !ok || l.ProtocolType != "consumer" || l.State != "Empty" {
		t.Errorf("%s: ListGroups lists %s as %+v (present %v), want an Empty consumer group", when, group, l, ok)
	}
}

// groupsClient is one Python client the group scenarios run with.
type groupsClient struct {
	name   string // in topic and group names
	script string
	// metadata is the commit metadata its "half" run stores for a
	// partition ("" when the client sends none).
	metadata func(p int) string
}

var (
	groupsConfluent   = groupsClient{"confluent", "groups_confluent_kafka.py", func(int) string { return "" }}
	groupsKafkaPython = groupsClient{"kafka-python", "groups_kafka_python.py", func(p int) string { return fmt.Sprintf("kafka-python p%d", p) }}
)

// TestGroupsClientsConfluentKafka runs the group scenarios with
// confluent-kafka-python (librdkafka), and the sharing one also with
// librdkafka's cooperative-sticky assignor (incremental rebalances).
func TestGroupsClientsConfluentKafka(t *testing.T) {
	t.Parallel()
	requirePythonModule(t, "confluent_kafka")
	b := StartBroker(t, groupsClientsEnv...)
	t.Run("resume", func(t *testing.T) { groupsClientsResume(t, b, groupsConfluent) })
	t.Run("share", func(t *testing.T) { groupsClientsShare(t, b, groupsConfluent, "") })
	t.Run("live", func(t *testing.T) { groupsClientsLive(t, b, groupsConfluent) })
	t.Run("share-cooperative", func(t *testing.T) { groupsClientsShare(t, b, groupsConfluent, "cooperative-sticky") })
}

// TestGroupsClientsKafkaPython runs the group scenarios with kafka-python,
// whose 2.0.2 finds the coordinator with FindCoordinator v0 and joins with
// JoinGroup v2, SyncGroup v1, Heartbeat v1, LeaveGroup v1, OffsetCommit v2
// and OffsetFetch v1. Its commits carry metadata, which must come back.
func TestGroupsClientsKafkaPython(t *testing.T) {
	t.Parallel()
	requirePythonModule(t, "kafka")
	b := StartBroker(t, groupsClientsEnv...)
	t.Run("resume", func(t *testing.T) { groupsClientsResume(t, b, groupsKafkaPython) })
	t.Run("share", func(t *testing.T) { groupsClientsShare(t, b, groupsKafkaPython, "") })
	t.Run("live", func(t *testing.T) { groupsClientsLive(t, b, groupsKafkaPython) })
}

// groupsClientsResume: the only member of a group processes each
// partition up to groupsClientsCommits[p], commits exactly that
// synchronously and closes; the commits survive a broker restart; a new
// member of the group resumes exactly there: nothing before the commits
// again, everything after them once.
func groupsClientsResume(t *testing.T, b *Broker, c groupsClient) {
	topic, group := c.name+"-resume", c.name+"-resume-group"
	cl, adm := groupsClientsSetup(t, b, topic, groupsClientsPartitions)
	produceNumbered(t, cl, topic, groupsClientsPartitions, 0, groupsClientsEnd)
	commits := make([]string, len(groupsClientsCommits))
	metadata := make([]string, len(groupsClientsCommits))
	for p, o := range groupsClientsCommits {
		commits[p] = strconv.FormatInt(o, 10)
		metadata[p] = c.metadata(p)
	}
	common := []string{b.Addr, topic, group, "--partitions", strconv.Itoa(groupsClientsPartitions),
		"--end", strconv.Itoa(groupsClientsEnd)}

	first := runGroupScript(t, b, c.script, append([]string{"half"}, append(common, "--commit", strings.Join(commits, ","))...)...)
	t.Logf("first member: %d synchronous commits, %d records ignored past the commit points; api version %q; client errors %q",
		first.Commits, first.Ignored, first.APIVersion, first.ClientErrors)
	if !slices.Equal(first.Assignment, []int32{0, 1, 2, 3}) {
		t.Errorf("the only member was assigned %v, want all of [0 1 2 3]", first.Assignment)
	}
	for p, o := range groupsClientsCommits {
		key := strconv.Itoa(p)
		if got, want := first.Consumed[key], offsetsFromTo(0, o); !slices.Equal(got, want) {
			t.Errorf("first member processed partition %d offsets %v, want %v", p, got, want)
		}
		if got := first.Committed[key]; got != o {
			t.Errorf("first member: committed() for partition %d is %d, want %d", p, got, o)
		}
		if m, ok := first.CommittedMetadata[key]; ok && (m == nil || *m != metadata[p]) {
			t.Errorf("first member: committed() metadata for partition %d is %v, want %q", p, m, metadata[p])
		}
	}
	first.Admin.check(t, c.name, group, "Empty", nil, groupsClientsCommits, metadata)
	checkGroupCommits(t, adm, group, topic, groupsClientsCommits, metadata, "after the first member closed")
	checkEmptyGroup(t, adm, group, "after the first member closed")

	b.Stop()
	b.Start()
	checkGroupCommits(t, adm, group, topic, groupsClientsCommits, metadata, "after the restart")
	checkEmptyGroup(t, adm, group, "after the restart")
	lags, err := adm.Lag(testContext(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	var wantLag int64
	for _, o := range groupsClientsCommits {
		wantLag += groupsClientsEnd - o
	}
	if got := lags[group].Lag.Total(); got != wantLag {
		t.Errorf("lag after the restart %d, want %d", got, wantLag)
	}

	second := runGroupScript(t, b, c.script, append([]string{"resume"}, common...)...)
	for p, o := range groupsClientsCommits {
		key := strconv.Itoa(p)
		if got, want := second.Consumed[key], offsetsFromTo(o, groupsClientsEnd); !slices.Equal(got, want) {
			t.Errorf("resumed member got partition %d offsets %v, want exactly %v (from the committed %d)", p, got, want, o)
		}
		if got := second.Committed[key]; got != groupsClientsEnd {
			t.Errorf("resumed member: committed() for partition %d is %d, want %d", p, got, groupsClientsEnd)
		}
	}
	if len(second.ClientErrors) > 0 {
		t.Logf("resumed member: client errors %q", second.ClientErrors)
	}
	end := slices.Repeat([]int64{groupsClientsEnd}, groupsClientsPartitions)
	checkGroupCommits(t, adm, group, topic, end, make([]string, groupsClientsPartitions), "after the resumed member closed")
	checkEmptyGroup(t, adm, group, "after the resumed member closed")
}

// waitStableGroup waits until group is Stable with members members and
// returns its description (the last one seen on timeout).
func waitStableGroup(t testing.TB, adm *kadm.Client, group string, members int) kadm.DescribedGroup {
	t.Helper()
	var d kadm.DescribedGroup
	// On timeout the checks below say what the group looks like.
	testutil.WaitForEvery(20*time.Second, groupPollEvery, func() bool {
		d = describeOneGroup(t, adm, group)
		return d.State == "Stable" && len(d.Members) == members
	})
	if d.State != "Stable" || len(d.Members) != members || d.ProtocolType != "consumer" || d.Protocol == "" {
		t.Errorf("group %s is %s with %d members, protocol type %q, protocol %q; want Stable, %d members, consumer",
			group, d.State, len(d.Members), d.ProtocolType, d.Protocol, members)
	}
	return d
}

// describedAssignments decodes what DescribeGroups shows each member of a
// consumer group assigned, by client id, checking that every member
// subscribed to topic alone and was assigned only its partitions.
func describedAssignments(t testing.TB, d kadm.DescribedGroup, topic string) map[string][]int32 {
	t.Helper()
	out := map[string][]int32{}
	for _, m := range d.Members {
		a, ok := m.Assigned.AsConsumer()
		if !ok {
			t.Errorf("group %s member %s (%s): the assignment does not decode as a consumer assignment", d.Group, m.MemberID, m.ClientID)
			continue
		}
		got := []int32{}
		for _, at := range a.Topics {
			if at.Topic != topic {
				t.Errorf("group %s member %s assigned topic %q, want only %q", d.Group, m.ClientID, at.Topic, topic)
			}
			got = append(got, at.Partitions...)
		}
		slices.Sort(got)
		if _, dup := out[m.ClientID]; dup {
			t.Errorf("group %s: two members with client id %s", d.Group, m.ClientID)
		}
		out[m.ClientID] = got
		if j, ok := m.Join.AsConsumer(); !ok || !slices.Equal(j.Topics, []string{topic}) {
			t.Errorf("group %s member %s join metadata %+v, want a consumer subscription to [%s]", d.Group, m.ClientID, j, topic)
		}
	}
	return out
}

// groupsClientsShare: two members of one group both get partitions,
// disjoint and together all of them; kadm sees the same Stable group with
// both members and their assignments; once both close the group is Empty.
// strategy, when set, is librdkafka's partition.assignment.strategy.
func groupsClientsShare(t *testing.T, b *Broker, c groupsClient, strategy string) {
	topic, group := c.name+"-share", c.name+"-share-group"
	args := []string{"share", b.Addr, topic, group, "--partitions", strconv.Itoa(groupsClientsPartitions)}
	if strategy != "" {
		topic, group = topic+"-"+strategy, group+"-"+strategy
		args = []string{"share", b.Addr, topic, group, "--partitions", strconv.Itoa(groupsClientsPartitions), "--strategy", strategy}
	}
	cl, adm := groupsClientsSetup(t, b, topic, groupsClientsPartitions)
	produceNumbered(t, cl, topic, groupsClientsPartitions, 0, 10)

	s := startGroupScript(t, b, c.script, args...)
	shared := s.next(pythonScriptTimeout)
	if shared.Phase != "shared" || len(shared.Assignments) != 2 {
		t.Fatalf("share: first line %+v, want phase shared with two members' assignments", shared)
	}
	t.Logf("share: assignments %v", shared.Assignments)
	shared.Admin.check(t, c.name, group, "Stable", shared.Assignments, nil, nil)

	d := waitStableGroup(t, adm, group, 2)
	if strategy != "" && d.Protocol != strategy {
		t.Errorf("share: group protocol %q, want %q", d.Protocol, strategy)
	}
	described := describedAssignments(t, d, topic)
	for client, want := range shared.Assignments {
		if got, ok := described[client]; !ok || !slices.Equal(got, want) {
			t.Errorf("share: DescribeGroups shows %s assigned %v (present %v), the client holds %v", client, got, ok, want)
		}
	}

	s.goAhead()
	closed := s.finish(30 * time.Second)
	if closed.Phase != "closed" {
		t.Errorf("share: last line %+v, want phase closed", closed)
	}
	checkEmptyGroup(t, adm, group, "after both members closed")
}

// groupsClientsLive: a member that stays up while the broker restarts
// (a rolling restart, as users do them). It reads and commits everything,
// the broker restarts, more records arrive, and the member must read
// exactly the new ones: nothing twice, nothing lost, its commits accepted.
// Kafka reloads a Stable group with its members from the offsets topic,
// so the member's heartbeats carry on; a rebalance is allowed but logged.
func groupsClientsLive(t *testing.T, b *Broker, c groupsClient) {
	topic, group := c.name+"-live", c.name+"-live-group"
	const before, after = 15, 30
	cl, adm := groupsClientsSetup(t, b, topic, groupsClientsPartitions)
	produceNumbered(t, cl, topic, groupsClientsPartitions, 0, before)
	s := startGroupScript(t, b, c.script, "live", b.Addr, topic, group,
		"--partitions", strconv.Itoa(groupsClientsPartitions), "--end", strconv.Itoa(before))
	if caught := s.next(pythonScriptTimeout); caught.Phase != "caught-up" {
		t.Fatalf("live: first line %+v, want phase caught-up", caught)
	}
	checkGroupCommits(t, adm, group, topic, slices.Repeat([]int64{before}, groupsClientsPartitions), nil, "before the restart")
	waitStableGroup(t, adm, group, 1)

	b.Stop()
	b.Start()
	checkGroupCommits(t, adm, group, topic, slices.Repeat([]int64{before}, groupsClientsPartitions), nil, "after the restart")
	produceNumbered(t, cl, topic, groupsClientsPartitions, before, after)
	s.send(strconv.Itoa(after))
	done := s.finish(pythonScriptTimeout)
	t.Logf("live: assignments over time %v; commit errors %q; %d client errors (the restart's disconnects)",
		done.Assigned, done.CommitErrors, len(done.ClientErrors))
	for p := range groupsClientsPartitions {
		key := strconv.Itoa(p)
		if got, want := done.Consumed[key], offsetsFromTo(0, after); !slices.Equal(got, want) {
			t.Errorf("live: member read partition %d offsets %v, want exactly %v once each", p, got, want)
		}
		if got := done.Committed[key]; got != after {
			t.Errorf("live: committed() for partition %d is %d, want %d", p, got, after)
		}
	}
	if len(done.Assigned) > 1 {
		t.Logf("live: the broker restart caused %d rebalances (Kafka reloads the Stable group and needs none)", len(done.Assigned)-1)
	}
	checkGroupCommits(t, adm, group, topic, slices.Repeat([]int64{after}, groupsClientsPartitions), nil, "after the live member closed")
	checkEmptyGroup(t, adm, group, "after the live member closed")
}

// TestGroupsClientsMixed: one group of three different clients —
// librdkafka, kafka-python and franz-go (range balancer, the assignor all
// three support). The broker must pick the common protocol and hand the
// leader every member's metadata in a form it can read, whoever leads; the
// members then hold disjoint partitions covering the topic, as
// DescribeGroups shows and as each client reports.
func TestGroupsClientsMixed(t *testing.T) {
	t.Parallel()
	requirePythonModule(t, "confluent_kafka")
	requirePythonModule(t, "kafka")
	b := StartBroker(t, groupsClientsEnv...)
	const topic, group, partitions = "mixed", "mixed-group", 6
	cl, adm := groupsClientsSetup(t, b, topic, partitions)
	produceNumbered(t, cl, topic, partitions, 0, 5)

	scripts := map[string]*groupScript{}
	for _, c := range []groupsClient{groupsConfluent, groupsKafkaPython} {
		scripts[c.name] = startGroupScript(t, b, c.script, "member", b.Addr, topic, group,
			"--partitions", strconv.Itoa(partitions), "--client-id", c.name)
	}
	var mu sync.Mutex
	var franzHeld []int32
	franz, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ClientID("franz-go"), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic), kgo.Balancers(kgo.RangeBalancer()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			franzHeld = append([]int32(nil), m[topic]...)
			slices.Sort(franzHeld)
		}))
	if err != nil {
		t.Fatal(err)
	}
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for !franz.PollFetches(context.Background()).IsClientClosed() {
		}
	}()
	defer func() {
		franz.Close()
		<-polled
	}()

	var d kadm.DescribedGroup
	var described map[string][]int32
	if !testutil.WaitForEvery(30*time.Second, 100*time.Millisecond, func() bool {
		d = describeOneGroup(t, adm, group)
		if d.State != "Stable" || len(d.Members) != 3 {
			return false
		}
		described = describedAssignments(t, d, topic)
		var all []int32
		for _, a := range described {
			if len(a) == 0 {
				all = nil
				break
			}
			all = append(all, a...)
		}
		slices.Sort(all)
		mu.Lock()
		franzMatches := slices.Equal(franzHeld, described["franz-go"])
		mu.Unlock()
		return slices.Equal(all, []int32{0, 1, 2, 3, 4, 5}) && franzMatches
	}) {
		t.Fatalf("mixed group never became Stable with three members sharing %d partitions: %s with %d members, assignments %v",
			partitions, d.State, len(d.Members), described)
	}
	t.Logf("mixed group: protocol %q, assignments %v", d.Protocol, described)
	if d.Protocol != "range" {
		t.Errorf("mixed group protocol %q, want range, the only assignor all three members support", d.Protocol)
	}
	for name, s := range scripts {
		s.goAhead()
		closed := s.finish(30 * time.Second)
		if !slices.Equal(closed.Assignment, described[name]) {
			t.Errorf("%s held %v, DescribeGroups showed %v", name, closed.Assignment, described[name])
		}
	}
}

// kcatGroupRecord is one line of `kcat -G ... -f '%p %o %s\n'`.
type kcatGroupRecord struct {
	Partition int32
	Offset    int64
}

// kcatGroup runs kcat's balanced consumer in group with extra flags and
// returns what it printed, checking every value against its partition and
// offset.
func kcatGroup(t *testing.T, b *Broker, group, topic string, extra ...string) []kcatGroupRecord {
	t.Helper()
	args := append([]string{"-b", b.Addr, "-G", group, "-q", "-f", `%p %o %s\n`,
		"-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=300",
		"-X", "fetch.wait.max.ms=100"}, extra...)
	args = append(args, topic)
	res, err := runTool(t, 25*time.Second, nil, lookTool(t, "kcat"), args...)
	if err != nil {
		t.Fatalf("kcat %v: %v\nbroker output:\n%s", args, err, clip(b.Output()))
	}
	if res.ExitCode != 0 {
		t.Fatalf("kcat %v exited %d; stderr:\n%s\nbroker output:\n%s", args, res.ExitCode, clip(res.Stderr), clip(b.Output()))
	}
	var out []kcatGroupRecord
	for line := range strings.Lines(res.Stdout) {
		var r kcatGroupRecord
		var value string
		if _, err := fmt.Sscanf(line, "%d %d %s\n", &r.Partition, &r.Offset, &value); err != nil {
			t.Fatalf("kcat printed %q: %v", line, err)
		}
		if want := fmt.Sprintf("p%d-o%d", r.Partition, r.Offset); value != want {
			t.Errorf("kcat: partition %d offset %d has value %q, want %q", r.Partition, r.Offset, value, want)
		}
		out = append(out, r)
	}
	return out
}

// kcatByPartition groups what kcat printed by partition, in order.
func kcatByPartition(rs []kcatGroupRecord) map[int32][]int64 {
	out := map[int32][]int64{}
	for _, r := range rs {
		out[r.Partition] = append(out[r.Partition], r.Offset)
	}
	return out
}

// TestGroupsClientsKcat: kcat's balanced consumer (-G) reads a bounded
// count (-c) and commits on exit with librdkafka's auto commit; a second
// run continues exactly after the first's committed positions to the end
// (-e); after a broker restart and new records a third run reads exactly
// the new ones. kadm checks the commits and the Empty group after each
// run.
func TestGroupsClientsKcat(t *testing.T) {
	t.Parallel()
	lookTool(t, "kcat")
	b := StartBroker(t, groupsClientsEnv...)
	const topic, group = "kcat-group", "kcat-group-g"
	const perPartition, firstCount, more = 30, 50, 8
	cl, adm := groupsClientsSetup(t, b, topic, groupsClientsPartitions)
	produceNumbered(t, cl, topic, groupsClientsPartitions, 0, perPartition)

	// Run 1: 50 of the 120 records, from wherever librdkafka fetches first.
	first := kcatByPartition(kcatGroup(t, b, group, topic, "-c", strconv.Itoa(firstCount)))
	committed := slices.Repeat([]int64{-1}, groupsClientsPartitions)
	total := 0
	for p, offsets := range first {
		if p < 0 || p >= groupsClientsPartitions {
			t.Fatalf("kcat read partition %d of a %d-partition topic", p, groupsClientsPartitions)
		}
		if want := offsetsFromTo(0, int64(len(offsets))); !slices.Equal(offsets, want) {
			t.Errorf("first kcat run read partition %d offsets %v, want %v", p, offsets, want)
		}
		committed[p] = int64(len(offsets))
		total += len(offsets)
	}
	if total != firstCount {
		t.Errorf("first kcat run read %d records, want -c %d", total, firstCount)
	}
	t.Logf("first kcat run stopped at %v", committed)
	checkGroupCommits(t, adm, group, topic, committed, make([]string, groupsClientsPartitions), "after kcat -c")
	checkEmptyGroup(t, adm, group, "after kcat -c")

	// Run 2: to the end, starting exactly where run 1 committed.
	second := kcatByPartition(kcatGroup(t, b, group, topic, "-e"))
	for p := range groupsClientsPartitions {
		start := max(committed[p], 0)
		if got, want := second[int32(p)], offsetsFromTo(start, perPartition); !slices.Equal(got, want) {
			t.Errorf("second kcat run read partition %d offsets %v, want %v (after the committed %d)", p, got, want, committed[p])
		}
	}
	end := slices.Repeat([]int64{perPartition}, groupsClientsPartitions)
	checkGroupCommits(t, adm, group, topic, end, make([]string, groupsClientsPartitions), "after kcat -e")
	checkEmptyGroup(t, adm, group, "after kcat -e")

	// Run 3: after a restart, exactly the records produced since.
	b.Stop()
	b.Start()
	checkGroupCommits(t, adm, group, topic, end, make([]string, groupsClientsPartitions), "after the restart")
	produceNumbered(t, cl, topic, groupsClientsPartitions, perPartition, perPartition+more)
	third := kcatByPartition(kcatGroup(t, b, group, topic, "-e"))
	for p := range groupsClientsPartitions {
		if got, want := third[int32(p)], offsetsFromTo(perPartition, perPartition+more); !slices.Equal(got, want) {
			t.Errorf("third kcat run read partition %d offsets %v, want %v", p, got, want)
		}
	}
	checkGroupCommits(t, adm, group, topic, slices.Repeat([]int64{perPartition + more}, groupsClientsPartitions), make([]string, groupsClientsPartitions), "after the third kcat run")
	checkEmptyGroup(t, adm, group, "after the third kcat run")
}
