package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// Partition reassignment (AlterPartitionReassignments, key 45, and
// ListPartitionReassignments, key 46) against three real brokers.

// reassignMoveMax bounds a move of a few thousand records: the new
// replica fetches them, joins the ISR, and the old one is deleted.
const reassignMoveMax = time.Minute

// createAssigned creates topic with one partition on replicas.
func (c *cluster) createAssigned(ctx context.Context, topic string, replicas []int32) {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, clusterClient(c.t, c.seeds()))
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		c.t.Fatalf("create %s on %v: %v", topic, replicas, err)
	}
	c.waitElectLayout(ctx, c.nodes, topic, 1, clusterAgreeMax, "topic "+topic+" created",
		func(l map[int32]electPartition) bool { return slices.Equal(l[0].Replicas, replicas) })
}

// reassign moves each topic's partition 0 to its replicas (nil cancels)
// with kadm and fails the test on any error.
func reassign(ctx context.Context, t *testing.T, adm *kadm.Client, targets map[string][]int32) {
	t.Helper()
	var req kadm.AlterPartitionAssignmentsReq
	for topic, replicas := range targets {
		req.Assign(topic, 0, replicas)
	}
	// A controller election (a node just stopped) answers NOT_CONTROLLER,
	// which Kafka's admin client retries; so does this.
	var err error
	testutil.WaitFor(clusterAgreeMax, func() bool {
		var res kadm.AlterPartitionAssignmentsResponses
		res, err = adm.AlterPartitionAssignments(ctx, req)
		if err == nil {
			err = res.Error()
		}
		return !errors.Is(err, kerr.NotController)
	})
	if err != nil {
		t.Fatalf("reassign %v: %v", targets, err)
	}
}

// TestClusterReassignPartitions: kadm drives Kafka's reassignment APIs.
// Topic "solo" (replication factor 1, on broker 1) and topic "wide"
// (replicas [1 2]) hold records. With broker 3 stopped, moving both to
// broker 3 stays in progress and ListPartitionReassignments shows it;
// cancelling restores the replicas. With broker 3 back, "solo" moves to
// [3] and "wide" to [3 2]: broker 3 catches up and leads both, broker 1
// deletes its copies, and every record reads back intact.
func TestClusterReassignPartitions(t *testing.T) {
	c := newCluster(t, append(fastFencing, noAutoRebalance)...)
	c.start()
	ctx := testContext(t, 4*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	c.createAssigned(ctx, "solo", []int32{1})
	c.createAssigned(ctx, "wide", []int32{1, 2})
	prod := clusterClient(t, c.seeds(), kgo.RequiredAcks(kgo.AllISRAcks()))
	sent := map[string][]*kgo.Record{"solo": makeRecords("solo", 3000), "wide": makeRecords("wide", 3000)}
	for _, recs := range sent {
		produceAll(t, prod, recs)
	}
	adm := kadm.NewClient(clusterClient(t, c.seeds()))
	targets := map[string][]int32{"solo": {3}, "wide": {3, 2}}

	// The target is down: the move starts and cannot finish.
	c.node(3).Stop()
	live := c.others(c.node(3))
	c.waitMembership(ctx, live, clusterAgreeMax)
	reassign(ctx, t, adm, targets)
	all := kadm.TopicsSet{}
	all.Add("solo", 0)
	all.Add("wide", 0)
	listed, err := adm.ListPartitionReassignments(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if r := listed["solo"][0]; !slices.Equal(r.Replicas, []int32{3, 1}) || !slices.Equal(r.AddingReplicas, []int32{3}) ||
		!slices.Equal(r.RemovingReplicas, []int32{1}) {
		t.Errorf("solo-0 in progress: %+v", r)
	}
	if r := listed["wide"][0]; !slices.Equal(r.Replicas, []int32{3, 2, 1}) || !slices.Equal(r.AddingReplicas, []int32{3}) ||
		!slices.Equal(r.RemovingReplicas, []int32{1}) {
		t.Errorf("wide-0 in progress: %+v", r)
	}
	reassign(ctx, t, adm, map[string][]int32{"solo": nil, "wide": nil})
	if listed, err := adm.ListPartitionReassignments(ctx, all); err != nil || len(listed) != 0 {
		t.Fatalf("after the cancel: %v, %v; want nothing in progress", listed, err)
	}
	c.waitElectLayout(ctx, live, "solo", 1, clusterAgreeMax, "solo back on [1]",
		func(l map[int32]electPartition) bool { return slices.Equal(l[0].Replicas, []int32{1}) })
	c.waitElectLayout(ctx, live, "wide", 1, clusterAgreeMax, "wide back on [2 1]",
		func(l map[int32]electPartition) bool { return slices.Equal(l[0].Replicas, []int32{2, 1}) })

	// The target is back: the move completes.
	c.node(3).Start()
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	reassign(ctx, t, adm, targets)
	for topic, replicas := range targets {
		c.waitElectLayout(ctx, c.nodes, topic, 1, reassignMoveMax, fmt.Sprintf("%s on %v led by 3", topic, replicas),
			func(l map[int32]electPartition) bool {
				return slices.Equal(l[0].Replicas, replicas) && l[0].Leader == 3
			})
	}
	if listed, err := adm.ListPartitionReassignments(ctx, all); err != nil || len(listed) != 0 {
		t.Fatalf("after the move: %v, %v; want nothing in progress", listed, err)
	}
	for topic, recs := range sent {
		checkSame(t, recs, consumeAll(t, c.nodes[2].Addr, topic, int64(len(recs))))
	}
	for _, topic := range []string{"solo", "wide"} {
		dir := filepath.Join(c.node(1).DataDir, topic+"-0")
		if !testutil.WaitFor(clusterAgreeMax, func() bool { _, err := os.Stat(dir); return os.IsNotExist(err) }) {
			t.Errorf("broker 1 still holds %s after %s moved away", dir, topic)
		}
	}
}

// TestClusterDecommission: `sluice cluster decommission 1` refuses while
// a topic of replication factor 3 could not keep it on the two other
// brokers, changing nothing; once that topic is gone it moves every
// replica of an RF=2 topic off broker 1, waits, and says broker 1 can be
// stopped; the records read back intact. Broker 1 then stops and
// UnregisterBroker removes it from the cluster.
func TestClusterDecommission(t *testing.T) {
	c := newCluster(t, append(fastFencing, noAutoRebalance)...)
	c.start()
	ctx := testContext(t, 4*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	adm := kadm.NewClient(clusterClient(t, c.seeds()))
	for topic, rf := range map[string]int16{"d2": 2, "d3": 3} {
		resp, err := adm.CreateTopic(ctx, 3, rf, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatal(err)
		}
		c.waitElectLayout(ctx, c.nodes, topic, 3, clusterAgreeMax, topic+" created", func(map[int32]electPartition) bool { return true })
	}
	sent := makeRecords("d2", 3000)
	for i, r := range sent {
		r.Partition = int32(i % 3)
	}
	produceAll(t, clusterClient(t, c.seeds(), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner())), sent)

	r := cliFails(t, c.nodes[1].Addr, "cluster", "decommission", "1")
	if !strings.Contains(r.stderr, "cannot move d3-") {
		t.Fatalf("decommission with an RF=3 topic: %s", r.stderr)
	}
	if l, err := c.electLayout(ctx, c.nodes[1], "d2"); err != nil || !slices.ContainsFunc(slices.Collect(maps.Values(l)),
		func(p electPartition) bool { return slices.Contains(p.Replicas, 1) }) {
		t.Fatalf("the refused decommission moved replicas: %v, %v", l, err)
	}
	if resp, err := adm.DeleteTopic(ctx, "d3"); err != nil || resp.Err != nil {
		t.Fatalf("delete d3: %v, %v", err, resp.Err)
	}
	out := cliOK(t, c.nodes[1], "", "cluster", "decommission", "1")
	if !strings.Contains(out, "broker 1 holds no replica; it can be stopped") {
		t.Fatalf("decommission printed:\n%s", out)
	}
	c.waitElectLayout(ctx, c.nodes, "d2", 3, clusterAgreeMax, "d2 off broker 1", func(l map[int32]electPartition) bool {
		for _, p := range l {
			if slices.Contains(p.Replicas, 1) {
				return false
			}
		}
		return true
	})
	got := consumeAllPartitions(t, c.nodes[1].Addr, "d2", 3, int64(len(sent)))
	checkSame(t, sent, got)

	// Broker 1 stops for good and is unregistered (UnregisterBroker, key 64).
	c.node(1).Stop()
	live := c.others(c.node(1))
	c.waitMembership(ctx, live, clusterAgreeMax)
	unregister := kmsg.NewPtrUnregisterBrokerRequest()
	unregister.BrokerID = 1
	var err error
	testutil.WaitFor(clusterAgreeMax, func() bool {
		var resp *kmsg.UnregisterBrokerResponse
		if resp, err = unregister.RequestWith(ctx, clusterClient(t, []string{live[0].Addr})); err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		return !errors.Is(err, kerr.NotController)
	})
	if err != nil {
		t.Fatalf("unregister broker 1: %v", err)
	}
	if !testutil.WaitFor(clusterAgreeMax, func() bool {
		meta, err := kadm.NewClient(clusterClient(t, []string{live[0].Addr})).BrokerMetadata(ctx)
		return err == nil && !slices.ContainsFunc(meta.Brokers, func(b kadm.BrokerDetail) bool { return b.NodeID == 1 })
	}) {
		t.Fatal("broker 1 is still listed after UnregisterBroker")
	}
}

// consumeAllPartitions reads partitions 0..partitions-1 of topic from the
// start until it holds total records.
func consumeAllPartitions(t *testing.T, addr, topic string, partitions int32, total int64) []*kgo.Record {
	t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := range partitions {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testContext(t, time.Minute)
	var out []*kgo.Record
	for int64(len(out)) < total {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d records of %d: %v", len(out), total, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}
