package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// TestClusterThreeBrokers: three nodes form one cluster that every node
// describes alike; a topic's partitions are spread evenly over the
// brokers, each answering only for the partitions it leads; records and a
// consumer group work across brokers as on one.
func TestClusterThreeBrokers(t *testing.T) {
	c := newCluster(t)
	c.start()
	ctx := testContext(t, 3*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)

	cl := clusterClient(t, c.seeds())
	adm := kadm.NewClient(cl)
	m, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]string{}
	for _, b := range m.Brokers {
		got[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	if want := c.addrs(c.nodes); !maps.Equal(got, want) {
		t.Errorf("kadm Metadata lists brokers %v, want %v", got, want)
	}
	if c.node(m.Controller) == nil {
		t.Errorf("kadm Metadata names controller %d, not a node", m.Controller)
	}

	const topic = "cluster-spread"
	createTopic(t, adm, topic, 12)
	leaders := c.waitAgreedLeaders(ctx, topic, 12)
	led := map[int32]int{}
	for _, leader := range leaders {
		led[leader]++
	}
	for _, b := range c.nodes {
		if n := led[c.idOf(b)]; n != 4 {
			t.Errorf("node %d leads %d of 12 partitions, want 4 (leaders %v)", c.idOf(b), n, leaders)
		}
	}
	for _, b := range c.nodes {
		err := listOffsetsError(ctx, c.ask(b), topic, 0)
		if leaders[0] == c.idOf(b) && err != nil {
			t.Errorf("node %d leads %s[0] but answers ListOffsets with %v", c.idOf(b), topic, err)
		}
		if leaders[0] != c.idOf(b) && !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Errorf("node %d does not lead %s[0] but answers ListOffsets with %v, want NOT_LEADER_OR_FOLLOWER", c.idOf(b), topic, err)
		}
	}

	prod := clusterClient(t, c.seeds(), kgo.RequiredAcks(kgo.AllISRAcks()))
	sent := makeRecords(topic, 100_000)
	produceAll(t, prod, sent)
	var total int64
	for p, end := range listEnd(t, c.nodes[0].Addr, topic) {
		if end == 0 {
			t.Errorf("%s[%d], led by node %d, received no records", topic, p, leaders[p])
		}
		total += end
	}
	if total != int64(len(sent)) {
		t.Errorf("end offsets add up to %d, produced %d", total, len(sent))
	}
	checkSame(t, sent, consumeN(t, c.nodes[1].Addr, topic, len(sent)))

	checkGroupAcrossBrokers(ctx, t, c, adm, prod)
}

// checkGroupAcrossBrokers: three consumers of one group, each bootstrapped
// from another node, share a 12-partition topic; with no failure every
// record is consumed exactly once, commits land on the coordinator, and
// the coordinator is the leader of the group's __consumer_offsets
// partition.
func checkGroupAcrossBrokers(ctx context.Context, t *testing.T, c *cluster, adm *kadm.Client, prod *kgo.Client) {
	t.Helper()
	const topic, group, records = "cluster-grouped", "cluster-group", 30_000
	createTopic(t, adm, topic, 12)
	c.waitAgreedLeaders(ctx, topic, 12)

	tally := &groupTally{owner: map[int32]int{}, next: map[int32]int64{}}
	pollCtx, stopPolling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, b := range c.nodes {
		member := clusterClient(t, []string{b.Addr}, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.AutoCommitInterval(500*time.Millisecond), kgo.HeartbeatInterval(500*time.Millisecond))
		wg.Go(func() { tally.poll(pollCtx, i+1, member) })
	}
	// Registered after the members' Close, so it runs first: no poll
	// outlives the test.
	t.Cleanup(func() { stopPolling(); wg.Wait() })

	// Records are produced only once the group is settled, so no
	// rebalance can hand a partition over mid-stream.
	waitGroupSpread(ctx, t, adm, group, topic, len(c.nodes), 12)
	sent := makeRecords(topic, records)
	produceAll(t, prod, sent)
	if !testutil.WaitFor(time.Minute, func() bool { return tally.count() >= records }) {
		t.Fatalf("the group consumed %d of %d records in a minute; problems: %v", tally.count(), records, tally.problemList())
	}
	waitCommitted(ctx, t, adm, group, topic, listEnd(t, c.nodes[2].Addr, topic))
	checkCoordinator(ctx, t, c, adm, group)
	stopPolling()
	wg.Wait()
	tally.check(t, sent, len(c.nodes))
}

// groupTally collects what the members of a group consumed, and the first
// breaches of "each partition is read by one member, in order, once".
type groupTally struct {
	mu       sync.Mutex
	records  []*kgo.Record
	owner    map[int32]int   // partition → the member that consumed it
	next     map[int32]int64 // partition → the offset expected next
	problems []string        // at most tallyProblemsMax
}

const tallyProblemsMax = 20

// poll consumes as member until ctx ends.
func (g *groupTally) poll(ctx context.Context, member int, cl *kgo.Client) {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			g.problem("member %d: fetch %s[%d]: %v", member, topic, p, err)
		})
		g.add(member, fs.Records())
	}
}

func (g *groupTally) add(member int, recs []*kgo.Record) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range recs {
		if owner, ok := g.owner[r.Partition]; ok && owner != member {
			g.problemLocked("partition %d consumed by member %d and member %d", r.Partition, owner, member)
		}
		g.owner[r.Partition] = member
		if next := g.next[r.Partition]; r.Offset != next {
			g.problemLocked("member %d got %d/%d, expected offset %d next", member, r.Partition, r.Offset, next)
		}
		g.next[r.Partition] = r.Offset + 1
		g.records = append(g.records, r)
	}
}

func (g *groupTally) problem(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.problemLocked(format, args...)
}

// REQUIRES: g.mu
func (g *groupTally) problemLocked(format string, args ...any) {
	if len(g.problems) < tallyProblemsMax {
		g.problems = append(g.problems, fmt.Sprintf(format, args...))
	}
}

func (g *groupTally) problemList() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.problems)
}

func (g *groupTally) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.records)
}

// check runs once polling stopped: every record of sent consumed once,
// in order, each partition by one member, every member busy.
func (g *groupTally) check(t *testing.T, sent []*kgo.Record, members int) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.problems {
		t.Error(p)
	}
	perMember := map[int]int{}
	for _, member := range g.owner {
		perMember[member]++
	}
	for member := 1; member <= members; member++ {
		if perMember[member] != len(g.owner)/members {
			t.Errorf("members consumed %v partitions each, want an even share of %d", perMember, len(g.owner))
			break
		}
	}
	checkSame(t, sent, g.records)
}

// waitGroupSpread waits until group is Stable with members members that
// own an even share of the partitions of topic, all of them together.
func waitGroupSpread(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string, members, partitions int) {
	t.Helper()
	problem := ""
	if !testutil.WaitForEvery(30*time.Second, clusterPollEvery, func() bool {
		groups, err := adm.DescribeGroups(ctx, group)
		d := groups[group]
		switch {
		case err != nil:
			problem = err.Error()
		case d.Err != nil:
			problem = d.Err.Error()
		case d.State != "Stable" || len(d.Members) != members:
			problem = fmt.Sprintf("%s with %d members", d.State, len(d.Members))
		default:
			problem = assignmentProblem(d, topic, members, partitions)
		}
		return problem == ""
	}) {
		t.Fatalf("group %s is not settled in 30s: %s", group, problem)
	}
}

// assignmentProblem says how d's assignment of topic is not an even split
// of all its partitions, or "".
func assignmentProblem(d kadm.DescribedGroup, topic string, members, partitions int) string {
	all := map[int32]bool{}
	var counts []int
	for _, m := range d.Members {
		a, ok := m.Assigned.AsConsumer()
		if !ok {
			return "an assignment that is not a consumer's"
		}
		n := 0
		for _, at := range a.Topics {
			if at.Topic == topic {
				n += len(at.Partitions)
				for _, p := range at.Partitions {
					all[p] = true
				}
			}
		}
		counts = append(counts, n)
	}
	for _, n := range counts {
		if n != partitions/members || len(all) != partitions {
			return fmt.Sprintf("members own %v partitions, %d distinct of %d", counts, len(all), partitions)
		}
	}
	return ""
}

// waitCommitted waits until group's committed offsets of topic are ends.
func waitCommitted(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string, ends map[int32]int64) {
	t.Helper()
	problem := ""
	if !testutil.WaitForEvery(15*time.Second, clusterPollEvery, func() bool {
		problem = ""
		offsets, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			problem = err.Error()
		}
		for p, end := range ends {
			o, ok := offsets.Lookup(topic, p)
			if problem == "" && (!ok || o.Err != nil || o.At != end) {
				problem = fmt.Sprintf("%s[%d] committed %+v, end offset %d", topic, p, o, end)
			}
		}
		return problem == ""
	}) {
		t.Fatalf("group %s has not committed its end offsets in 15s: %s", group, problem)
	}
}

// checkCoordinator: FindCoordinator and DescribeGroups name the same node,
// at its advertised address, and it leads the group's partition of
// __consumer_offsets.
func checkCoordinator(ctx context.Context, t *testing.T, c *cluster, adm *kadm.Client, group string) {
	t.Helper()
	found, ok := adm.FindGroupCoordinators(ctx, group)[group]
	if !ok || found.Err != nil {
		t.Fatalf("FindCoordinator %s: %+v", group, found)
	}
	coordinator := c.node(found.NodeID)
	if coordinator == nil {
		t.Fatalf("FindCoordinator %s names node %d, not a node of the cluster", group, found.NodeID)
	}
	if addr := net.JoinHostPort(found.Host, strconv.Itoa(int(found.Port))); addr != coordinator.Addr {
		t.Errorf("FindCoordinator %s names node %d at %s, it is at %s", group, found.NodeID, addr, coordinator.Addr)
	}
	groups, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if described := groups[group].Coordinator.NodeID; described != found.NodeID {
		t.Errorf("DescribeGroups names coordinator %d, FindCoordinator %d", described, found.NodeID)
	}
	leaders, err := partitionLeaders(ctx, c.ask(coordinator), "__consumer_offsets")
	if err != nil {
		t.Fatalf("metadata of __consumer_offsets: %v", err)
	}
	p := offsetsPartition(group, len(leaders))
	if leaders[p] != found.NodeID {
		t.Errorf("group %s lives in __consumer_offsets[%d], led by node %d, but its coordinator is node %d",
			group, p, leaders[p], found.NodeID)
	}
}

// offsetsPartition is Kafka's partition of __consumer_offsets for a group:
// abs(groupId.hashCode()) % partitions, with Java's String.hashCode over
// UTF-16 and Kafka's Utils.abs, which maps MIN_VALUE to 0.
func offsetsPartition(group string, partitions int) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(group)) {
		h = 31*h + int32(u)
	}
	if h == math.MinInt32 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % int32(partitions)
}

// topicOp is one step of TestClusterControllerFailover.
type topicOp struct {
	create bool
	topic  string
}

func (op topicOp) String() string {
	if op.create {
		return "create " + op.topic
	}
	return "delete " + op.topic
}

// failoverOps creates t00..t39 and, after every fourth create, deletes
// the oldest topic not yet deleted: 50 operations, t10..t39 left.
func failoverOps() []topicOp {
	var ops []topicOp
	for i := range 40 {
		ops = append(ops, topicOp{create: true, topic: fmt.Sprintf("t%02d", i)})
		if i%4 == 3 {
			ops = append(ops, topicOp{topic: fmt.Sprintf("t%02d", i/4)})
		}
	}
	return ops
}

// topicsAfter is the set of topics ops leave.
func topicsAfter(ops []topicOp) map[string]bool {
	out := map[string]bool{}
	for _, op := range ops {
		if op.create {
			out[op.topic] = true
		} else {
			delete(out, op.topic)
		}
	}
	return out
}

const (
	// failoverKillAfter is how many operations run before the controller
	// is killed.
	failoverKillAfter = 15
	// failoverKillDelay is how long after that operation is sent the
	// controller is killed: while the operation is in flight.
	failoverKillDelay = 3 * time.Millisecond
	// failoverPartitions is the partition count of each created topic:
	// one per node when placement is even, so the killed node leads some
	// partitions of every topic.
	failoverPartitions = 3
	// newControllerMax bounds the election of a new controller.
	newControllerMax = 5 * time.Second
	// watchPollEvery is the pause between two rounds of asking the
	// survivors who the controller is.
	watchPollEvery = 50 * time.Millisecond
	// failoverAgreeMax bounds how long after the last operation the
	// survivors may take to show its result.
	failoverAgreeMax = 5 * time.Second
	// topicOpAttemptMax bounds one attempt of one operation; topicOpMax
	// bounds the operation with every retry.
	topicOpAttemptMax = 15 * time.Second
	topicOpMax        = 30 * time.Second
)

// TestClusterControllerFailover kills the active controller with SIGKILL
// in the middle of 50 sequential topic creations and deletions sent to
// any node: another controller is elected within 5 s, every operation is
// applied exactly once, and within 5 s of the last one both survivors show
// exactly the expected topics.
func TestClusterControllerFailover(t *testing.T) {
	c := newCluster(t, fastFencing...)
	c.start()
	ctx := testContext(t, 3*time.Minute)
	controllerID := c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	killed := c.node(controllerID)
	survivors := c.others(killed)
	adm := kadm.NewClient(clusterClient(t, c.seeds()))

	ops := failoverOps()
	want := topicsAfter(ops)
	var killedAt time.Time
	var sighting <-chan controllerSighting
	var ledByKilled map[string][]int32
	var lost []string
	for i, op := range ops {
		var killDone chan struct{}
		if i == failoverKillAfter {
			// The kill lands while this operation is in flight: it must
			// take effect once or fail with a retriable error.
			ledByKilled = c.partitionsLedBy(ctx, topicsAfter(ops[:i]), want, controllerID)
			killDone = make(chan struct{})
			go func() {
				defer close(killDone)
				// The delay is the scenario: the kill lands mid-operation.
				time.Sleep(failoverKillDelay)
				killed.Kill()
				killedAt = time.Now()
			}()
		}
		if runTopicOp(ctx, t, adm, op, i >= failoverKillAfter) {
			lost = append(lost, op.String())
		}
		if killDone != nil {
			<-killDone
			t.Logf("killed node %d, the controller, %v into operation %d (%s)", controllerID, failoverKillDelay, i, op)
			sighting = c.watchNewController(ctx, survivors, controllerID, killedAt)
		}
	}
	lastOp := time.Now()
	t.Logf("%d operations; the %d after the kill took %v; applied before their answer was lost: %v",
		len(ops), len(ops)-failoverKillAfter, lastOp.Sub(killedAt).Round(time.Millisecond), lost)

	if s := <-sighting; !s.ok {
		t.Errorf("no node names a new controller within %v of the kill of node %d (last look: %s)",
			newControllerMax, controllerID, s.last)
	} else {
		t.Logf("node %d named controller %d, %v after the kill", s.by, s.id, s.after.Round(time.Millisecond))
	}
	for _, b := range survivors {
		c.waitTopicSet(ctx, b, want, lastOp.Add(failoverAgreeMax))
	}
	c.waitFenced(ctx, survivors, controllerID, ledByKilled, killedAt.Add(newControllerMax+fastFencingSession+4*time.Second))
}

// partitionsLedBy waits until all nodes show a leader for every partition
// of the topics that exist now and are kept to the end, and returns
// topic → partitions led by node id.
func (c *cluster) partitionsLedBy(ctx context.Context, now, kept map[string]bool, id int32) map[string][]int32 {
	c.t.Helper()
	counts := map[string]int{}
	for topic := range now {
		if kept[topic] {
			counts[topic] = failoverPartitions
		}
	}
	out := map[string][]int32{}
	for topic, l := range c.waitAgreedLayouts(ctx, counts, nil, clusterAgreeMax) {
		for p, leader := range l.Leaders {
			if leader == id {
				out[topic] = append(out[topic], p)
			}
		}
	}
	return out
}

// controllerSighting is the first survivor's Metadata that names a new
// controller, or why there was none in time.
type controllerSighting struct {
	ok    bool
	by    int32 // the node that answered
	id    int32 // the controller it named
	after time.Duration
	last  string // when not ok: the last answer seen
}

// watchNewController asks the survivors in turn, until newControllerMax
// after killedAt, for a controller other than old; the answer arrives on
// the returned channel. It never touches the test, so it may outlive it.
func (c *cluster) watchNewController(ctx context.Context, survivors []*Broker, old int32, killedAt time.Time) <-chan controllerSighting {
	out := make(chan controllerSighting, 1)
	go func() {
		last := "no answer yet"
		var seen controllerSighting
		// WaitFor, not Eventually: this goroutine must not fail the test.
		// No look at all once newControllerMax has passed.
		remaining := newControllerMax - time.Since(killedAt)
		if remaining > 0 && testutil.WaitForEvery(remaining, watchPollEvery, func() bool {
			for _, b := range survivors {
				ctx, cancel := context.WithTimeout(ctx, clusterAskMax/2)
				v, err := metadataView(ctx, c.ask(b))
				cancel()
				switch {
				case err != nil:
					last = fmt.Sprintf("node %d: %v", c.idOf(b), err)
				case v.controller >= 0 && v.controller != old && slices.Contains(survivors, c.node(v.controller)):
					seen = controllerSighting{ok: true, by: c.idOf(b), id: v.controller, after: time.Since(killedAt)}
					return true
				default:
					last = fmt.Sprintf("node %d names controller %d", c.idOf(b), v.controller)
				}
			}
			return false
		}) {
			out <- seen
			return
		}
		out <- controllerSighting{last: last}
	}()
	return out
}

// runTopicOp applies op through adm, retrying what may not have been
// applied. TOPIC_ALREADY_EXISTS for a create, or UNKNOWN_TOPIC_OR_PARTITION
// for a delete, is accepted only after the kill (afterKill): the operation
// was then applied once by an attempt whose answer was lost (kgo retries
// internally too), and runTopicOp reports it by returning true.
func runTopicOp(ctx context.Context, t *testing.T, adm *kadm.Client, op topicOp, afterKill bool) (lostAnswer bool) {
	t.Helper()
	deadline := time.Now().Add(topicOpMax)
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, topicOpAttemptMax)
		var err error
		if op.create {
			_, err = adm.CreateTopic(actx, failoverPartitions, 1, nil, op.topic)
		} else {
			_, err = adm.DeleteTopic(actx, op.topic)
		}
		cancel()
		already := op.create && errors.Is(err, kerr.TopicAlreadyExists) ||
			!op.create && errors.Is(err, kerr.UnknownTopicOrPartition)
		switch {
		case err == nil:
			return false
		case already && afterKill:
			t.Logf("%s, attempt %d: %v: it was applied before its answer was lost", op, attempt, err)
			return true
		case already:
			t.Fatalf("%s before any failure: %v", op, err)
		case retriableAdminError(err) && time.Now().Before(deadline):
			t.Logf("%s, attempt %d: %v; retrying", op, attempt, err)
			time.Sleep(200 * time.Millisecond) // back-off between attempts, not a wait
		default:
			t.Fatalf("%s, attempt %d: %v", op, attempt, err)
		}
	}
}

// retriableAdminError: transport errors and timeouts leave an operation's
// fate unknown, as do Kafka's retriable codes; other codes are final.
func retriableAdminError(err error) bool {
	var kafkaErr *kerr.Error
	if errors.As(err, &kafkaErr) {
		return kafkaErr.Retriable
	}
	return true
}

// waitTopicSet waits until b, asked directly, shows exactly the topics of
// want, failing the test at deadline.
func (c *cluster) waitTopicSet(ctx context.Context, b *Broker, want map[string]bool, deadline time.Time) {
	c.t.Helper()
	var got map[string]bool
	var err error
	if testutil.WaitForEvery(time.Until(deadline), clusterPollEvery, func() bool {
		actx, cancel := context.WithTimeout(ctx, clusterAskMax)
		var layouts map[string]topicLayout
		layouts, err = topicLayouts(actx, c.ask(b))
		cancel()
		got = map[string]bool{}
		for topic := range layouts {
			got[topic] = true
		}
		return err == nil && maps.Equal(got, want)
	}) {
		return
	}
	var missing, unexpected []string
	for topic := range want {
		if !got[topic] {
			missing = append(missing, topic)
		}
	}
	for topic := range got {
		if !want[topic] {
			unexpected = append(unexpected, topic)
		}
	}
	slices.Sort(missing)
	slices.Sort(unexpected)
	c.t.Errorf("node %d: topics missing %v, unexpected %v (error %v)\n%s", c.idOf(b), missing, unexpected, err, c.outputs())
}

// waitFenced waits until every survivor lists only the survivors as
// brokers, names a controller other than dead, and shows no leader (-1)
// for the partitions dead led, failing the test at deadline.
func (c *cluster) waitFenced(ctx context.Context, survivors []*Broker, dead int32, led map[string][]int32, deadline time.Time) {
	c.t.Helper()
	want := c.addrs(survivors)
	for _, b := range survivors {
		var problem string
		if !testutil.WaitForEvery(time.Until(deadline), clusterPollEvery, func() bool {
			problem = c.fencedProblem(ctx, b, want, dead, led)
			return problem == ""
		}) {
			c.t.Errorf("node %d, once the dead node %d should be fenced: %s", c.idOf(b), dead, problem)
		}
	}
}

// fencedProblem is waitFenced's look at survivor b.
func (c *cluster) fencedProblem(ctx context.Context, b *Broker, want map[int32]string, dead int32, led map[string][]int32) string {
	ctx, cancel := context.WithTimeout(ctx, clusterAskMax)
	defer cancel()
	v, err := metadataView(ctx, c.ask(b))
	switch {
	case err != nil:
		return err.Error()
	case !maps.Equal(v.brokers, want):
		return fmt.Sprintf("lists brokers %v, want the live %v", v.brokers, want)
	case v.controller == dead:
		return fmt.Sprintf("still names the dead node %d controller", dead)
	}
	topics := slices.Sorted(maps.Keys(led))
	if len(topics) == 0 {
		return ""
	}
	layouts, err := topicLayouts(ctx, c.ask(b), topics...)
	if err != nil {
		return err.Error()
	}
	for _, topic := range topics {
		for _, p := range led[topic] {
			if leader, ok := layouts[topic].Leaders[p]; !ok || leader != -1 {
				return fmt.Sprintf("shows leader %d (listed %v) for %s[%d], led by the dead node %d; want -1", leader, ok, topic, p, dead)
			}
		}
	}
	return ""
}

// TestClusterRestartKeepsMetadata: after all three nodes stop (SIGTERM)
// and start again, topics keep their names, ids, partitions, replicas,
// leaders and config overrides, the records written before, and records
// can be written and read again.
func TestClusterRestartKeepsMetadata(t *testing.T) {
	c := newCluster(t)
	c.start()
	ctx := testContext(t, 3*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	adm := kadm.NewClient(clusterClient(t, c.seeds()))

	const overridden, dataTopic = "keep-seven", "keep-five"
	overrides := map[string]*string{"retention.ms": kadm.StringPtr("3600000"), "max.message.bytes": kadm.StringPtr("500000")}
	counts := map[string]int{"keep-one": 1, dataTopic: 5, overridden: 7}
	for _, topic := range slices.Sorted(maps.Keys(counts)) {
		var configs map[string]*string
		if topic == overridden {
			configs = overrides
		}
		resp, err := adm.CreateTopic(ctx, int32(counts[topic]), 1, configs, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}
	before := c.waitAgreedLayouts(ctx, counts, nil, clusterAgreeMax)
	configsBefore := topicConfigs(ctx, t, adm, overridden)
	for key, value := range overrides {
		if want := *value + " (DYNAMIC_TOPIC_CONFIG)"; configsBefore[key] != want {
			t.Errorf("%s %s is %q, want %q", overridden, key, configsBefore[key], want)
		}
	}
	sent := makeRecords(dataTopic, 4000)
	produceOnce(t, c.seeds(), sent[:2000])

	c.stop()
	for _, b := range c.nodes {
		if code := b.ExitCode(); code != 0 {
			t.Errorf("node %d exited %d after SIGTERM", c.idOf(b), code)
		}
	}
	c.start()
	c.waitMembership(ctx, c.nodes, clusterRestartAgreeMax)
	c.waitAgreedLayouts(ctx, counts, before, clusterRestartAgreeMax)
	adm = kadm.NewClient(clusterClient(t, c.seeds()))
	if configsAfter := topicConfigs(ctx, t, adm, overridden); !maps.Equal(configsAfter, configsBefore) {
		t.Errorf("%s configs changed over the restart:\nbefore %v\nafter  %v", overridden, configsBefore, configsAfter)
	}
	produceOnce(t, c.seeds(), sent[2000:])
	checkSame(t, sent, consumeN(t, c.nodes[2].Addr, dataTopic, len(sent)))
}

// produceOnce produces recs with a new idempotent acks=all client.
func produceOnce(t *testing.T, seeds []string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceAll(t, cl, recs)
}

// topicConfigs is every config of topic as "value (SOURCE)".
func topicConfigs(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) map[string]string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	out := map[string]string{}
	for _, cfg := range rc.Configs {
		value := "null"
		if cfg.Value != nil {
			value = *cfg.Value
		}
		out[cfg.Key] = value + " (" + cfg.Source.String() + ")"
	}
	return out
}

// refusedNodeExitMax bounds how long a misconfigured node may run before
// it exits.
const refusedNodeExitMax = 10 * time.Second

// TestClusterMisconfiguredQuorum: a node whose quorum cannot work exits
// non-zero, without becoming ready, with one sentence that says why.
func TestClusterMisconfiguredQuorum(t *testing.T) {
	hosts := []string{nodeHost(1), nodeHost(2), nodeHost(3), nodeHost(4)}
	ports := sharedFreePorts(t, hosts, 2)
	kafkaPort, controllerPort := strconv.Itoa(ports[0]), strconv.Itoa(ports[1])
	voter := func(id, host int) string {
		return fmt.Sprintf("%d@%s", id, net.JoinHostPort(nodeHost(host), controllerPort))
	}
	voters := strings.Join([]string{voter(1, 1), voter(2, 2), voter(3, 3)}, ",")

	t.Run("node id not a voter", func(t *testing.T) {
		out := runRefusedNode(t, 4, voters, kafkaPort, controllerPort)
		wantSentence(t, out, regexp.MustCompile(`node\.id.*controller\.quorum\.voters|controller\.quorum\.voters.*node\.id`))
	})
	t.Run("duplicate voter id", func(t *testing.T) {
		out := runRefusedNode(t, 1, voter(1, 1)+","+voter(1, 2), kafkaPort, controllerPort)
		wantSentence(t, out, regexp.MustCompile(`(?i)duplicate.*\b1\b|\b1\b.*duplicate`))
	})
	t.Run("voters unreachable", func(t *testing.T) {
		out := runRefusedNode(t, 1, voters, kafkaPort, controllerPort, quorumStartupTimeoutEnv+"=3000")
		for _, host := range []int{2, 3} {
			if addr := net.JoinHostPort(nodeHost(host), controllerPort); !strings.Contains(out, addr) {
				t.Errorf("the output does not name the unreachable voter %s:\n%s", addr, out)
			}
		}
	})
}

// runRefusedNode starts node id alone with voters and waits for it to
// exit; it must exit non-zero within refusedNodeExitMax, without a ready
// line or a stack trace. It returns what the node printed.
func runRefusedNode(t *testing.T, id int, voters, kafkaPort, controllerPort string, extraEnv ...string) string {
	t.Helper()
	host := nodeHost(id)
	b := &Broker{t: t, DataDir: t.TempDir(), Addr: net.JoinHostPort(host, kafkaPort)}
	b.Env = append(nodeEnv(id, host, b.Addr, net.JoinHostPort(host, controllerPort), voters, b.DataDir), extraEnv...)
	t.Cleanup(b.Stop)
	launched := time.Now()
	b.Launch()
	select {
	case <-b.exited:
	case <-time.After(refusedNodeExitMax):
		t.Fatalf("node %d with voters %s still runs %v after its start; it should refuse to start:\n%s",
			id, voters, refusedNodeExitMax, b.Output())
	}
	out := b.Output()
	select {
	case <-b.ready:
		t.Errorf("node %d printed its ready line before it exited:\n%s", id, out)
	default:
	}
	if code := b.ExitCode(); code <= 0 {
		t.Errorf("node %d exited with code %d, want an error code:\n%s", id, code, out)
	}
	if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
		t.Errorf("node %d printed a stack trace, not a sentence:\n%s", id, out)
	}
	t.Logf("node %d exited after %v", id, time.Since(launched).Round(time.Millisecond))
	return out
}

// wantSentence fails the test unless one line of out matches sentence.
func wantSentence(t *testing.T, out string, sentence *regexp.Regexp) {
	t.Helper()
	for line := range strings.Lines(out) {
		if sentence.MatchString(line) {
			t.Logf("the node said: %s", strings.TrimSpace(line))
			return
		}
	}
	t.Errorf("no line of the output matches %s:\n%s", sentence, out)
}

// TestClusterControlledShutdown: a broker stopped with SIGTERM tells the
// controller, so it leaves Metadata at once rather than after its 9 s
// session, and its restart registers without waiting the session out.
func TestClusterControlledShutdown(t *testing.T) {
	c := newCluster(t)
	c.start()
	ctx := testContext(t, time.Minute)
	controller := c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	// First a broker that is not the controller, then the controller.
	for round := range 2 {
		stopped := c.node(controller)
		if round == 0 {
			stopped = c.others(stopped)[0]
		}
		live := c.others(stopped)
		start := time.Now()
		stopped.Stop()
		c.waitMembership(ctx, live, 3*time.Second) // the session is 9 s
		t.Logf("node %d left Metadata %v after SIGTERM", c.idOf(stopped), time.Since(start).Round(time.Millisecond))
		start = time.Now()
		stopped.Start()
		controller = c.waitMembership(ctx, c.nodes, 5*time.Second)
		t.Logf("node %d was back %v after its restart", c.idOf(stopped), time.Since(start).Round(time.Millisecond))
	}
}
