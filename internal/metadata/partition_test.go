package metadata

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// alterFixture is a store with brokers 1..4 and topic "t" whose partition
// 0 has replicas 1,2,3, led by 1; alter returns an AlterPartition from
// that leader naming the current epochs.
func alterFixture(t *testing.T) (*Store, *Topic, func() AlterPartitionRecord) {
	t.Helper()
	s := newTestStore(t, 1, 1, 2, 3, 4)
	top, err := s.CreateTopic(ctx, "t", 1, 3, [][]int32{{1, 2, 3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	alter := func() AlterPartitionRecord {
		im := s.Image()
		p := im.Topics["t"].Assignments[0]
		return AlterPartitionRecord{TopicID: top.ID, Partition: 0, Leader: 1, BrokerEpoch: im.Brokers[1].Epoch,
			LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: []int32{1, 2}}
	}
	return s, top, alter
}

// TestAlterPartitionChecks: every check refuses with Kafka's error, a
// record failing several checks gets the first one's, and a refused
// change leaves the image alone.
func TestAlterPartitionChecks(t *testing.T) {
	s, _, alter := alterFixture(t)
	for _, tc := range []struct {
		name   string
		change func(*AlterPartitionRecord)
		want   error
	}{
		{"unknown topic", func(r *AlterPartitionRecord) { r.TopicID = newID() }, kerr.UnknownTopicOrPartition},
		{"partition past the end", func(r *AlterPartitionRecord) { r.Partition = 1 }, kerr.UnknownTopicOrPartition},
		{"negative partition", func(r *AlterPartitionRecord) { r.Partition = -1 }, kerr.UnknownTopicOrPartition},
		{"unknown partition before a stale epoch", func(r *AlterPartitionRecord) { r.Partition, r.BrokerEpoch = 1, 0 }, kerr.UnknownTopicOrPartition},
		{"stale broker epoch", func(r *AlterPartitionRecord) { r.BrokerEpoch++ }, kerr.StaleBrokerEpoch},
		{"unregistered leader", func(r *AlterPartitionRecord) { r.Leader = 9 }, kerr.StaleBrokerEpoch},
		{"stale epoch before not leader", func(r *AlterPartitionRecord) { r.Leader = 2 }, kerr.StaleBrokerEpoch},
		{"not the leader", func(r *AlterPartitionRecord) {
			r.Leader, r.BrokerEpoch = 2, s.Image().Brokers[2].Epoch
		}, kerr.NotLeaderForPartition},
		{"not the leader before a fenced epoch", func(r *AlterPartitionRecord) {
			r.Leader, r.BrokerEpoch, r.LeaderEpoch = 2, s.Image().Brokers[2].Epoch, 7
		}, kerr.NotLeaderForPartition},
		{"older leader epoch", func(r *AlterPartitionRecord) { r.LeaderEpoch-- }, kerr.FencedLeaderEpoch},
		{"newer leader epoch", func(r *AlterPartitionRecord) { r.LeaderEpoch++ }, kerr.FencedLeaderEpoch},
		{"fenced epoch before a stale version", func(r *AlterPartitionRecord) { r.LeaderEpoch++; r.PartitionEpoch++ }, kerr.FencedLeaderEpoch},
		{"older partition epoch", func(r *AlterPartitionRecord) { r.PartitionEpoch-- }, kerr.InvalidUpdateVersion},
		{"newer partition epoch", func(r *AlterPartitionRecord) { r.PartitionEpoch++ }, kerr.InvalidUpdateVersion},
		{"stale version before a bad ISR", func(r *AlterPartitionRecord) { r.PartitionEpoch++; r.ISR = nil }, kerr.InvalidUpdateVersion},
		{"empty ISR", func(r *AlterPartitionRecord) { r.ISR = nil }, kerr.InvalidRequest},
		{"ISR without the leader", func(r *AlterPartitionRecord) { r.ISR = []int32{2, 3} }, kerr.InvalidRequest},
		{"duplicate member", func(r *AlterPartitionRecord) { r.ISR = []int32{1, 2, 1} }, kerr.InvalidRequest},
		{"member not a replica", func(r *AlterPartitionRecord) { r.ISR = []int32{1, 4} }, kerr.InvalidRequest},
		{"unregistered member not a replica", func(r *AlterPartitionRecord) { r.ISR = []int32{1, 9} }, kerr.InvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Image().Topics["t"]
			r := alter()
			tc.change(&r)
			_, err := s.AlterPartition(ctx, r)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if s.Image().Topics["t"] != before {
				t.Fatal("a refused AlterPartition changed the topic")
			}
		})
	}
}

// TestAlterPartitionIneligible: a fenced broker cannot join the ISR.
func TestAlterPartitionIneligible(t *testing.T) {
	s, _, alter := alterFixture(t)
	shrink := alter()
	shrink.ISR = []int32{1}
	if _, err := s.AlterPartition(ctx, shrink); err != nil {
		t.Fatal(err)
	}
	if err := s.FenceBroker(ctx, 3, s.Image().Brokers[3].Epoch, true); err != nil {
		t.Fatal(err)
	}
	r := alter()
	r.ISR = []int32{1, 3}
	if _, err := s.AlterPartition(ctx, r); !errors.Is(err, kerr.IneligibleReplica) {
		t.Fatalf("fenced broker joins: %v", err)
	}
	r.ISR = []int32{1, 2}
	p, err := s.AlterPartition(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.ISR, []int32{1, 2}) {
		t.Fatalf("ISR %v, want [1 2]", p.ISR)
	}
}

// TestAlterPartitionAccepted: an accepted change replaces the ISR (kept
// in replica order) and bumps only the partition epoch; the same record
// again is stale; an unchanged ISR bumps nothing.
func TestAlterPartitionAccepted(t *testing.T) {
	s, _, alter := alterFixture(t)
	shrink := alter()
	shrink.ISR = []int32{1}
	if _, err := s.AlterPartition(ctx, shrink); err != nil {
		t.Fatal(err)
	}
	before := s.Image().Topics["t"].Assignments[0]
	r := alter()
	r.ISR = []int32{3, 1}
	p, err := s.AlterPartition(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	want := Partition{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 3}, Leader: 1, LeaderEpoch: before.LeaderEpoch, PartitionEpoch: before.PartitionEpoch + 1}
	if !samePartition(p, want) {
		t.Fatalf("returned %+v, want %+v", p, want)
	}
	if got := s.Image().Topics["t"].Assignments[0]; !samePartition(got, want) {
		t.Fatalf("image has %+v, want %+v", got, want)
	}
	p.ISR[0] = 42 // the caller's copy, not the image's
	if s.Image().Topics["t"].Assignments[0].ISR[0] != 1 {
		t.Fatal("the returned partition shares the image's ISR")
	}
	if _, err := s.AlterPartition(ctx, r); !errors.Is(err, kerr.InvalidUpdateVersion) {
		t.Fatalf("the same change again: %v", err)
	}
	same := alter()
	same.ISR = []int32{1, 3}
	if p, err := s.AlterPartition(ctx, same); err != nil || p.PartitionEpoch != want.PartitionEpoch {
		t.Fatalf("unchanged ISR: %+v, %v", p, err)
	}
}

// samePartition compares partitions field by field.
func samePartition(a, b Partition) bool {
	return slices.Equal(a.Replicas, b.Replicas) && slices.Equal(a.ISR, b.ISR) && a.Leader == b.Leader &&
		a.LeaderEpoch == b.LeaderEpoch && a.PartitionEpoch == b.PartitionEpoch
}

// TestDecodeEntryAlterPartition: an AlterPartition is one record kind; a
// record that sets it with another is refused.
func TestDecodeEntryAlterPartition(t *testing.T) {
	ok := []byte(`{"req":"r","record":{"alterPartition":{"topicId":"AAAAAAAAAAAAAAAAAAAAAA","partition":0,"isr":[1]}}}`)
	if e, err := decodeEntry(ok); err != nil || e.Record.AlterPartition == nil {
		t.Fatalf("decode: %+v, %v", e, err)
	}
	two := []byte(`{"req":"r","record":{"alterPartition":{"isr":[1]},"producerIds":{"broker":1,"count":1}}}`)
	if _, err := decodeEntry(two); err == nil {
		t.Fatal("a record of two kinds decoded")
	}
}
