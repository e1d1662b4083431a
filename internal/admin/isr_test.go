package admin

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/metrics"
)

// image builds an image of brokers 1 and 2 live and 3 fenced, with topics
// given as name -> partitions.
func image(topics map[string][]metadata.Partition) *metadata.Image {
	im := &metadata.Image{Topics: map[string]*metadata.Topic{}, Brokers: map[int32]*metadata.Broker{
		1: {ID: 1}, 2: {ID: 2}, 3: {ID: 3, Fenced: true},
	}}
	for name, ps := range topics {
		im.Topics[name] = &metadata.Topic{Name: name, ID: metadata.TopicID{byte(len(name))}, Partitions: int32(len(ps)), Assignments: ps}
	}
	return im
}

// TestClusterStateCountsLeaders: this node's leaders and under-replicated
// partitions, and the cluster's leaderless ones.
func TestClusterStateCountsLeaders(t *testing.T) {
	im := image(map[string][]metadata.Partition{
		"a": {
			{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1},        // led here, full
			{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, Leader: 1},           // led here, under-replicated
			{Replicas: []int32{2, 1}, ISR: []int32{2}, Leader: 2},                 // under-replicated elsewhere
			{Replicas: []int32{3, 1}, ISR: []int32{3}, Leader: metadata.NoLeader}, // offline
		},
		"b": {{Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}},
	})
	got := clusterState(im, 1, true)
	want := metrics.ClusterState{ActiveController: true, ActiveBrokers: 2, FencedBrokers: 1, Topics: 2, Partitions: 5,
		NoLeaderParts: 1, Leaders: 3, UnderReplicated: 1}
	if got != want {
		t.Errorf("clusterState = %+v, want %+v", got, want)
	}
	if got := clusterState(im, 2, false); got.Leaders != 1 || got.UnderReplicated != 1 || got.ActiveController {
		t.Errorf("clusterState for node 2 = %+v, want 1 leader, 1 under-replicated", got)
	}
}

// TestISRChanges: shrinks and expansions of partitions this node leads
// in both images under one leader epoch, one per partition.
func TestISRChanges(t *testing.T) {
	p := func(leader, epoch int32, isr ...int32) metadata.Partition {
		return metadata.Partition{Replicas: []int32{1, 2, 3}, ISR: isr, Leader: leader, LeaderEpoch: epoch}
	}
	prev := image(map[string][]metadata.Partition{
		"a":    {p(1, 0, 1, 2, 3), p(1, 0, 1, 2), p(1, 0, 1, 2), p(2, 0, 2, 1), p(2, 0, 2, 1), p(1, 0, 1, 2)},
		"same": {p(1, 0, 1, 2, 3)},
		"gone": {p(1, 0, 1, 2, 3)},
	})
	next := image(map[string][]metadata.Partition{
		"a": {
			p(1, 0, 1, 2),    // shrink
			p(1, 0, 1, 2, 3), // expand
			p(1, 0, 1, 3),    // 2 left and 3 joined: one of each
			p(1, 1, 1),       // became leader here: not counted
			p(2, 0, 2),       // led elsewhere: not counted
			p(1, 0, 1, 2),    // unchanged
			p(1, 0, 1),       // a new partition
		},
		"new": {p(1, 0, 1)},
	})
	next.Topics["same"] = prev.Topics["same"]
	if shrinks, expands := ISRChanges(prev, next, 1); shrinks != 2 || expands != 2 {
		t.Errorf("ISRChanges = %d shrinks, %d expands; want 2, 2", shrinks, expands)
	}
	if shrinks, expands := ISRChanges(prev, next, 2); shrinks != 1 || expands != 0 {
		t.Errorf("ISRChanges for node 2 = %d shrinks, %d expands; want 1, 0", shrinks, expands)
	}
	// A topic deleted and created again under its name is another topic.
	again := image(map[string][]metadata.Partition{"gone": {p(1, 0, 1)}})
	again.Topics["gone"].ID = metadata.TopicID{99}
	if shrinks, expands := ISRChanges(prev, again, 1); shrinks != 0 || expands != 0 {
		t.Errorf("ISRChanges across a recreated topic = %d, %d; want 0, 0", shrinks, expands)
	}
}

// TestPartitionInfoHealth: replicas, ISR, offline replicas, a fenced
// leader shown as none, and the under-replicated flag.
func TestPartitionInfoHealth(t *testing.T) {
	im := image(nil)
	for _, tc := range []struct {
		p               metadata.Partition
		leader          int32
		offline         []int32
		underReplicated bool
	}{
		{metadata.Partition{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1}, 1, []int32{}, false},
		{metadata.Partition{Replicas: []int32{1, 3}, ISR: []int32{1}, Leader: 1}, 1, []int32{3}, true},
		{metadata.Partition{Replicas: []int32{3, 4}, ISR: []int32{3}, Leader: metadata.NoLeader}, -1, []int32{3, 4}, true},
		{metadata.Partition{Replicas: []int32{3, 1}, ISR: []int32{3, 1}, Leader: 3}, -1, []int32{3}, false},
	} {
		pi := partitionInfo(im, 0, tc.p)
		if pi.Leader != tc.leader || !slices.Equal(pi.OfflineReplicas, tc.offline) || pi.UnderReplicated != tc.underReplicated ||
			!slices.Equal(pi.Replicas, tc.p.Replicas) || !slices.Equal(pi.ISR, tc.p.ISR) || pi.HighWatermark != -1 {
			t.Errorf("partitionInfo(%+v) = %+v; want leader %d, offline %v, under-replicated %v",
				tc.p, pi, tc.leader, tc.offline, tc.underReplicated)
		}
	}
}

// TestControllerSource: a controller-only node reports the controller
// metrics from its metadata and hosts nothing.
func TestControllerSource(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	meta, err := metadata.OpenMemory(1, "127.0.0.1", 9092, logger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := meta.CreateTopic(context.Background(), "t", 3, 1, nil, nil); err != nil {
		t.Fatal(err)
	}
	var src metrics.Source = ControllerSource{Meta: meta, NodeID: 1}
	if !src.HasTopic("t") || src.HasTopic("u") {
		t.Errorf("HasTopic(t) = %v, HasTopic(u) = %v", src.HasTopic("t"), src.HasTopic("u"))
	}
	src.Partitions(func(p metrics.PartitionState) { t.Errorf("a controller hosts partition %+v", p) })
	if got := src.GroupOffsets(context.Background()); got != nil {
		t.Errorf("a controller reports group offsets %v", got)
	}
	want := metrics.ClusterState{ActiveController: true, ActiveBrokers: 1, Topics: 1, Partitions: 3, Leaders: 3}
	if got := src.Cluster(); got != want {
		t.Errorf("Cluster() = %+v, want %+v", got, want)
	}
	if got := (ControllerSource{Meta: meta, NodeID: 2}).Cluster(); got.ActiveController || got.Leaders != 0 {
		t.Errorf("Cluster() of another node = %+v, want not active, no leaders", got)
	}
}
