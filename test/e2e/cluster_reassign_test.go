package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
			func(l map[int32]electPartition) bool { return slices.Equal(l[0].Replicas, replicas) && l[0].Leader == 3 })
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
