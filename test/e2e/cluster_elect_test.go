package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// Preferred leaders: a broker that stops hands its leaderships over; when
// it is back and in sync, a preferred election (ElectLeaders, key 43, from
// an operator; or the controller's auto.leader.rebalance.enable) gives
// them back to it, the first replica of each partition.

// noAutoRebalance keeps the controller from moving leaders back on its
// own, so that a test sees what an operator's election does.
const noAutoRebalance = "KAFKA_AUTO_LEADER_REBALANCE_ENABLE=false"

// electRejoinMax bounds how long a restarted broker takes to register,
// catch up and be back in every ISR.
const electRejoinMax = time.Minute

// electPartition is one partition as Metadata shows it.
type electPartition struct {
	Leader   int32
	Replicas []int32
	ISR      []int32 // sorted
}

// electLayout is topic's partitions as b shows them.
func (c *cluster) electLayout(ctx context.Context, b *Broker, topic string) (map[int32]electPartition, error) {
	ctx, cancel := context.WithTimeout(ctx, clusterAskMax)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.ask(b))
	if err != nil {
		return nil, err
	}
	if len(resp.Topics) != 1 {
		return nil, fmt.Errorf("metadata for %d topics, want 1", len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil && !errors.Is(err, kerr.LeaderNotAvailable) {
		return nil, err
	}
	out := map[int32]electPartition{}
	for _, p := range resp.Topics[0].Partitions {
		out[p.Partition] = electPartition{Leader: p.Leader, Replicas: p.Replicas, ISR: slices.Sorted(slices.Values(p.ISR))}
	}
	return out, nil
}

// waitElectLayout waits until every node of live shows topic with
// partitions partitions, each led and with every replica in its ISR, and
// ok true of the layout; it returns that layout.
func (c *cluster) waitElectLayout(ctx context.Context, live []*Broker, topic string, partitions int, d time.Duration,
	what string, ok func(map[int32]electPartition) bool) map[int32]electPartition {
	c.t.Helper()
	var got map[int32]electPartition
	problem := ""
	if !testutil.WaitForEvery(d, clusterPollEvery, func() bool {
		for _, b := range live {
			l, err := c.electLayout(ctx, b, topic)
			if err != nil {
				problem = fmt.Sprintf("node %d: %v", c.idOf(b), err)
				return false
			}
			if len(l) != partitions {
				problem = fmt.Sprintf("node %d shows %d partitions", c.idOf(b), len(l))
				return false
			}
			for p, ep := range l {
				if ep.Leader < 0 || !slices.Equal(ep.ISR, slices.Sorted(slices.Values(ep.Replicas))) {
					problem = fmt.Sprintf("node %d: partition %d %+v", c.idOf(b), p, ep)
					return false
				}
			}
			if !ok(l) {
				problem = fmt.Sprintf("node %d shows %+v", c.idOf(b), l)
				return false
			}
			got = l
		}
		return true
	}) {
		c.t.Fatalf("%s: not within %v: %s\n%s", what, d, problem, c.outputs())
	}
	return got
}

// preferredLead reports whether every partition of l is led by its first
// replica.
func preferredLead(l map[int32]electPartition) bool {
	for _, p := range l {
		if p.Leader != p.Replicas[0] {
			return false
		}
	}
	return true
}

// createReplicated creates topic with partitions partitions of
// replication factor 3 and writes a few records to each with acks=all.
func (c *cluster) createReplicated(ctx context.Context, topic string, partitions int32) {
	c.t.Helper()
	adm := kadm.NewClient(clusterClient(c.t, c.seeds()))
	resp, err := adm.CreateTopic(ctx, partitions, 3, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.waitElectLayout(ctx, c.nodes, topic, int(partitions), clusterAgreeMax, "topic "+topic+" replicated", preferredLead)
	prod := clusterClient(c.t, c.seeds(), kgo.RequiredAcks(kgo.AllISRAcks()))
	produceAll(c.t, prod, makeRecords(topic, 30))
}

// moveLeadershipAway stops the preferred (and current) leader of topic's
// partition 0, waits until another replica leads it, starts it again and
// waits until it is back in every ISR of topic, still not leading: the
// state in which a preferred election is needed. It returns the
// restarted broker's id.
func (c *cluster) moveLeadershipAway(ctx context.Context, topic string, partitions int) int32 {
	c.t.Helper()
	l, err := c.electLayout(ctx, c.nodes[0], topic)
	if err != nil {
		c.t.Fatal(err)
	}
	id := l[0].Replicas[0]
	b := c.node(id)
	b.Stop()
	rest := c.others(b)
	if !testutil.WaitFor(clusterAgreeMax, func() bool {
		now, err := c.electLayout(ctx, rest[0], topic)
		return err == nil && now[0].Leader >= 0 && now[0].Leader != id
	}) {
		c.t.Fatalf("no new leader of %s-0 after broker %d stopped\n%s", topic, id, c.outputs())
	}
	b.Start()
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	c.waitElectLayout(ctx, c.nodes, topic, partitions, electRejoinMax, fmt.Sprintf("broker %d back in every ISR", id),
		func(l map[int32]electPartition) bool { return l[0].Leader != id })
	return id
}

// TestClusterElectLeaders: franz-go's kadm.ElectLeaders against three
// brokers and a topic of replication factor 3. After the leader of
// partition 0 restarts, a preferred election of that partition gives it
// back to its first replica; one for every partition (nil set) elects
// the rest and then lists nothing; an election where the preferred
// replica leads is ELECTION_NOT_NEEDED, and so is an unclean one where a
// leader is; an unknown topic is UNKNOWN_TOPIC_OR_PARTITION.
func TestClusterElectLeaders(t *testing.T) {
	c := newCluster(t, append(fastFencing, noAutoRebalance)...)
	c.start()
	ctx := testContext(t, 3*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	const topic, partitions = "elect", 3
	c.createReplicated(ctx, topic, partitions)
	id := c.moveLeadershipAway(ctx, topic, partitions)

	adm := kadm.NewClient(clusterClient(t, c.seeds()))
	one := kadm.TopicsSet{}
	one.Add(topic, 0)
	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, one)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := res[topic][0]; !ok || r.Err != nil || r.How != kadm.ElectPreferredReplica {
		t.Fatalf("preferred election of %s-0: %+v (in %v), want success", topic, r, res)
	}
	c.waitElectLayout(ctx, c.nodes, topic, partitions, clusterAgreeMax, fmt.Sprintf("broker %d leads %s-0", id, topic),
		func(l map[int32]electPartition) bool { return l[0].Leader == id })

	// Every partition: whatever else broker id prefers moves back too
	// (the offsets topic's partitions, if any); then there is nothing to
	// elect, and the answer lists nothing.
	if _, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil); err != nil {
		t.Fatal(err)
	}
	c.waitElectLayout(ctx, c.nodes, topic, partitions, clusterAgreeMax, "every partition led by its preferred replica", preferredLead)
	if res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil); err != nil || len(res) != 0 {
		t.Errorf("election of every partition with every preferred replica leading: %v, %v; want an empty answer", res, err)
	}

	named := kadm.TopicsSet{}
	named.Add(topic, 0, 1)
	named.Add("missing", 0)
	for _, how := range []kadm.ElectLeadersHow{kadm.ElectPreferredReplica, kadm.ElectLiveReplica} {
		res, err := adm.ElectLeaders(ctx, how, named)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []int32{0, 1} {
			if r := res[topic][p]; !errors.Is(r.Err, kerr.ElectionNotNeeded) {
				t.Errorf("election %v of %s-%d with its leader in place: %v, want ELECTION_NOT_NEEDED", how, topic, p, r.Err)
			}
		}
		if r := res["missing"][0]; !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			t.Errorf("election %v of an unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", how, r.Err)
		}
	}
}

// TestClusterAutoLeaderRebalance: with auto.leader.rebalance.enable (the
// default) and leader.imbalance.check.interval.seconds of 1, a broker
// that restarted leads its preferred partitions again, with no operator.
func TestClusterAutoLeaderRebalance(t *testing.T) {
	c := newCluster(t, append(fastFencing, "KAFKA_LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS=1")...)
	c.start()
	ctx := testContext(t, 3*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	const topic, partitions = "rebalanced", 3
	c.createReplicated(ctx, topic, partitions)

	l, err := c.electLayout(ctx, c.nodes[0], topic)
	if err != nil {
		t.Fatal(err)
	}
	id := l[0].Replicas[0]
	b := c.node(id)
	b.Stop()
	if !testutil.WaitFor(clusterAgreeMax, func() bool {
		now, err := c.electLayout(ctx, c.others(b)[0], topic)
		return err == nil && now[0].Leader >= 0 && now[0].Leader != id
	}) {
		t.Fatalf("no new leader of %s-0 after broker %d stopped\n%s", topic, id, c.outputs())
	}
	b.Start()
	c.waitElectLayout(ctx, c.nodes, topic, partitions, electRejoinMax,
		fmt.Sprintf("broker %d leads its preferred partitions again", id), preferredLead)
}
