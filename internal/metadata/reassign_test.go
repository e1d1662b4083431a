package metadata

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// reassignFixture is a store with brokers 1..4 and topic "t" whose
// partition 0 has replicas 1,2 led by 1 (ISR 1,2).
func reassignFixture(t *testing.T) (*Store, *Topic) {
	t.Helper()
	s := newTestStore(t, 1, 1, 2, 3, 4)
	top, err := s.CreateTopic(ctx, "t", 1, 2, [][]int32{{1, 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, top
}

// isrAs proposes an AlterPartition from the current leader setting the ISR.
func isrAs(t *testing.T, s *Store, top *Topic, isr ...int32) Partition {
	t.Helper()
	im := s.Image()
	p := im.Topics["t"].Assignments[0]
	got, err := s.AlterPartition(ctx, AlterPartitionRecord{TopicID: top.ID, Partition: 0, Leader: p.Leader,
		BrokerEpoch: im.Brokers[p.Leader].Epoch, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: isr})
	if err != nil {
		t.Fatalf("AlterPartition %v: %v", isr, err)
	}
	return got
}

// TestReassignRefusals: bad targets get Kafka's errors and change nothing.
func TestReassignRefusals(t *testing.T) {
	s, top := reassignFixture(t)
	before := s.Image().Topics["t"].Assignments[0]
	for _, tc := range []struct {
		name     string
		id       TopicID
		part     int32
		replicas []int32
		want     error
	}{
		{"unknown topic", TopicID{9}, 0, []int32{1}, kerr.UnknownTopicOrPartition},
		{"unknown partition", top.ID, 1, []int32{1}, kerr.UnknownTopicOrPartition},
		{"empty", top.ID, 0, []int32{}, kerr.InvalidReplicaAssignment},
		{"duplicate", top.ID, 0, []int32{1, 1}, kerr.InvalidReplicaAssignment},
		{"unknown broker", top.ID, 0, []int32{1, 7}, kerr.InvalidReplicaAssignment},
		{"cancel without one", top.ID, 0, nil, kerr.NoReassignmentInProgress},
	} {
		if _, err := s.Reassign(ctx, tc.id, tc.part, tc.replicas); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if after := s.Image().Topics["t"].Assignments[0]; !sameAssignment(before, after) {
		t.Fatalf("refusals changed the partition: %+v -> %+v", before, after)
	}
}

// TestReassignMoveCompletes: moving [1 2] to [3 2] adds 3, keeps the
// leader until 3 joins the ISR, then removes 1 and moves leadership off
// it, bumping the epochs at every step.
func TestReassignMoveCompletes(t *testing.T) {
	s, top := reassignFixture(t)
	p0 := s.Image().Topics["t"].Assignments[0]
	p, err := s.Reassign(ctx, top.ID, 0, []int32{3, 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Replicas, []int32{3, 2, 1}) || !slices.Equal(p.AddingReplicas, []int32{3}) ||
		!slices.Equal(p.RemovingReplicas, []int32{1}) || p.Leader != 1 || !slices.Equal(p.ISR, []int32{1, 2}) {
		t.Fatalf("started: %+v", p)
	}
	if p.PartitionEpoch != p0.PartitionEpoch+1 || p.LeaderEpoch != p0.LeaderEpoch {
		t.Fatalf("epochs after start: %+v (before %+v)", p, p0)
	}
	rs := s.Image().Reassignments()
	if len(rs) != 1 || rs[0].Topic != "t" || !slices.Equal(rs[0].AddingReplicas, []int32{3}) {
		t.Fatalf("in progress: %+v", rs)
	}
	// Replacing the ISR without 3 does not complete.
	p = isrAs(t, s, top, 1)
	if !p.Reassigning() {
		t.Fatalf("completed without 3 in the ISR: %+v", p)
	}
	p = isrAs(t, s, top, 1, 2, 3)
	if p.Reassigning() || !slices.Equal(p.Replicas, []int32{3, 2}) || !slices.Equal(p.ISR, []int32{3, 2}) {
		t.Fatalf("completed: %+v", p)
	}
	if p.Leader != 3 || p.LeaderEpoch != p0.LeaderEpoch+1 {
		t.Fatalf("the leaving leader 1 handed over to %d at epoch %d", p.Leader, p.LeaderEpoch)
	}
	if len(s.Image().Reassignments()) != 0 {
		t.Fatal("still listed")
	}
}

// TestReassignRemovalCompletesAtOnce: a target whose replicas are all in
// the ISR (shrinking the replication factor) completes in the same record.
func TestReassignRemovalCompletesAtOnce(t *testing.T) {
	s, top := reassignFixture(t)
	p0 := s.Image().Topics["t"].Assignments[0]
	p, err := s.Reassign(ctx, top.ID, 0, []int32{2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Reassigning() || !slices.Equal(p.Replicas, []int32{2}) || !slices.Equal(p.ISR, []int32{2}) || p.Leader != 2 {
		t.Fatalf("shrunk: %+v", p)
	}
	if p.PartitionEpoch != p0.PartitionEpoch+1 || p.LeaderEpoch != p0.LeaderEpoch+1 {
		t.Fatalf("epochs: %+v", p)
	}
	// The same target again changes nothing.
	again, err := s.Reassign(ctx, top.ID, 0, []int32{2})
	if err != nil || !sameAssignment(again, p) {
		t.Fatalf("again: %+v, %v", again, err)
	}
}

// TestReassignCancel: cancelling removes the adding replicas from the
// replicas and the ISR and keeps the removing ones.
func TestReassignCancel(t *testing.T) {
	s, top := reassignFixture(t)
	if _, err := s.Reassign(ctx, top.ID, 0, []int32{3, 4}); err != nil {
		t.Fatal(err)
	}
	p := isrAs(t, s, top, 1, 2, 3) // 3 caught up, 4 not: still in progress
	if !p.Reassigning() || !slices.Equal(p.Replicas, []int32{3, 4, 1, 2}) {
		t.Fatalf("in progress: %+v", p)
	}
	p, err := s.Reassign(ctx, top.ID, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Reassigning() || !slices.Equal(p.Replicas, []int32{1, 2}) || !slices.Equal(p.ISR, []int32{1, 2}) || p.Leader != 1 {
		t.Fatalf("cancelled: %+v", p)
	}
}

// TestReassignReplaced: a new target replaces one in progress, computed
// from the current (merged) replicas, as Kafka does.
func TestReassignReplaced(t *testing.T) {
	s, top := reassignFixture(t)
	if _, err := s.Reassign(ctx, top.ID, 0, []int32{3, 4}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Reassign(ctx, top.ID, 0, []int32{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	// 3 was already a replica (adding in the old reassignment), so
	// nothing is being added and the removal of 4 and 2 completes at once.
	if p.Reassigning() || !slices.Equal(p.Replicas, []int32{1, 3}) || !slices.Equal(p.ISR, []int32{1}) || p.Leader != 1 {
		t.Fatalf("replaced: %+v", p)
	}
}

// TestReassignSurvivesSnapshot: the reassignment state is metadata-log
// state: it is in the snapshot a new controller starts from.
func TestReassignSurvivesSnapshot(t *testing.T) {
	s, top := reassignFixture(t)
	if _, err := s.Reassign(ctx, top.ID, 0, []int32{3, 4}); err != nil {
		t.Fatal(err)
	}
	index, data, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := NewStore(2, s.logger)
	if err := r.Restore(index, data); err != nil {
		t.Fatal(err)
	}
	p := r.Image().Topics["t"].Assignments[0]
	if !slices.Equal(p.AddingReplicas, []int32{3, 4}) || !slices.Equal(p.RemovingReplicas, []int32{1, 2}) {
		t.Fatalf("after the snapshot: %+v", p)
	}
}
