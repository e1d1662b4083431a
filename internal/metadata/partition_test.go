package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
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

// TestElectionInvariants drives random fencing, unfencing, registrations,
// elections and AlterPartitions (seeded, so a failure repeats) and checks after
// every step that each partition keeps its invariants: the ISR is a
// non-empty subset of the replicas in replica order; a leader is a live
// ISR member; a fenced member is alone in the ISR and then nobody leads;
// a partition with a live ISR member has a leader; epochs never go back,
// a leader change bumps the leader epoch and any change the partition
// epoch.
func TestElectionInvariants(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		s := newTestStore(t, 1, 1, 2, 3, 4)
		top, err := s.CreateTopic(ctx, "t", 6, 3, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for step := range 300 {
			before := s.Image()
			id := int32(1 + rng.IntN(4))
			b := before.Brokers[id]
			var what string
			switch op := rng.IntN(5); op {
			case 0:
				what = fmt.Sprintf("fence %d", id)
				err = s.FenceBroker(ctx, id, b.Epoch, true)
			case 1:
				what = fmt.Sprintf("unfence %d", id)
				err = s.FenceBroker(ctx, id, b.Epoch, false)
			case 2:
				what = fmt.Sprintf("register %d", id)
				_, err = s.RegisterBroker(ctx, RegisterBrokerRecord{ID: id})
			case 3:
				part, unclean := int32(rng.IntN(6)), rng.IntN(2) == 0
				what = fmt.Sprintf("elect %d unclean=%v", part, unclean)
				_, err = s.ElectLeaders(ctx, top.ID, part, unclean)
				if errors.Is(err, kerr.ElectionNotNeeded) || errors.Is(err, kerr.PreferredLeaderNotAvailable) || errors.Is(err, kerr.EligibleLeadersNotAvailable) {
					err = nil
				}
			default:
				part := int32(rng.IntN(6))
				p := before.Topics["t"].Assignments[part]
				if p.Leader == NoLeader {
					continue
				}
				isr := []int32{p.Leader}
				for _, r := range p.Replicas {
					if r != p.Leader && rng.IntN(2) == 0 {
						isr = append(isr, r)
					}
				}
				what = fmt.Sprintf("alter %d isr %v", part, isr)
				_, err = s.AlterPartition(ctx, AlterPartitionRecord{TopicID: top.ID, Partition: part, Leader: p.Leader,
					BrokerEpoch: before.Brokers[p.Leader].Epoch, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: isr})
				if errors.Is(err, kerr.IneligibleReplica) {
					err = nil
				}
			}
			if err != nil {
				t.Fatalf("seed %d step %d %s: %v", seed, step, what, err)
			}
			after := s.Image()
			for i, p := range after.Topics["t"].Assignments {
				if msg := partitionBroken(after, before.Topics["t"].Assignments[i], p); msg != "" {
					t.Fatalf("seed %d step %d %s: partition %d %+v (was %+v): %s", seed, step, what, i, p, before.Topics["t"].Assignments[i], msg)
				}
			}
		}
	}
}

// partitionBroken says which invariant p breaks in im, given it was old
// in the image before; "" when none.
func partitionBroken(im *Image, old, p Partition) string {
	switch {
	case len(p.ISR) == 0:
		return "empty ISR"
	case !slices.Equal(inReplicaOrder(p.Replicas, p.ISR), p.ISR):
		return "ISR not a subset of the replicas in replica order"
	case p.Leader != NoLeader && (!slices.Contains(p.ISR, p.Leader) || !im.Live(p.Leader)):
		return "leader is not a live ISR member"
	case p.Leader == NoLeader && firstLive(im, p.Replicas, p.ISR) != NoLeader:
		return "a live ISR member is not elected"
	case p.LeaderEpoch < old.LeaderEpoch || p.PartitionEpoch < old.PartitionEpoch:
		return "an epoch went back"
	case p.Leader != old.Leader && p.LeaderEpoch == old.LeaderEpoch:
		return "leader changed in the same leader epoch"
	case (p.Leader != old.Leader || !slices.Equal(p.ISR, old.ISR)) && p.PartitionEpoch == old.PartitionEpoch:
		return "changed in the same partition epoch"
	}
	for _, id := range p.ISR {
		if !im.Live(id) && (len(p.ISR) > 1 || p.Leader != NoLeader) {
			return fmt.Sprintf("fenced broker %d is in the ISR with others or under a leader", id)
		}
	}
	return ""
}

// TestElectLeaders: the preferred election moves leadership back to the
// first replica only when it is a live ISR member; the unclean election
// acts only on a leaderless partition, prefers a live ISR member and
// otherwise makes a live replica the whole ISR; each answers Kafka's
// errors otherwise, and leaves the image alone then.
func TestElectLeaders(t *testing.T) {
	s, top, alter := alterFixture(t)
	epoch := func(id int32) uint64 { return s.Image().Brokers[id].Epoch }
	part := func() Partition { return s.Image().Topics["t"].Assignments[0] }
	refused := func(unclean bool, want error) {
		t.Helper()
		before := s.Image().Topics["t"]
		if _, err := s.ElectLeaders(ctx, top.ID, 0, unclean); !errors.Is(err, want) {
			t.Fatalf("unclean=%v: %v, want %v", unclean, err, want)
		}
		if s.Image().Topics["t"] != before {
			t.Fatal("a refused election changed the topic")
		}
	}
	if _, err := s.ElectLeaders(ctx, newID(), 0, false); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("unknown topic: %v", err)
	}
	if _, err := s.ElectLeaders(ctx, top.ID, 3, true); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("unknown partition: %v", err)
	}
	refused(false, kerr.ElectionNotNeeded) // 1 leads
	refused(true, kerr.ElectionNotNeeded)

	// 1 is fenced: 2 leads. Preferred is impossible while 1 is fenced, and
	// once it is back but not in the ISR; once in the ISR, it leads again.
	if err := s.FenceBroker(ctx, 1, epoch(1), true); err != nil {
		t.Fatal(err)
	}
	refused(false, kerr.PreferredLeaderNotAvailable)
	if err := s.FenceBroker(ctx, 1, epoch(1), false); err != nil {
		t.Fatal(err)
	}
	refused(false, kerr.PreferredLeaderNotAvailable)
	p := part()
	if p.Leader != 2 {
		t.Fatalf("leader %d, want 2", p.Leader)
	}
	if _, err := s.AlterPartition(ctx, AlterPartitionRecord{TopicID: top.ID, Leader: 2, BrokerEpoch: epoch(2),
		LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: []int32{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	before := part()
	got, err := s.ElectLeaders(ctx, top.ID, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	want := Partition{Replicas: before.Replicas, ISR: before.ISR, Leader: 1, LeaderEpoch: before.LeaderEpoch + 1, PartitionEpoch: before.PartitionEpoch + 1}
	if !samePartition(got, want) || !samePartition(part(), want) {
		t.Fatalf("preferred election: returned %+v, image %+v, want %+v", got, part(), want)
	}

	// The ISR shrinks to 1, which crashes: the partition waits for it.
	r := alter()
	r.ISR = []int32{1}
	if _, err := s.AlterPartition(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int32{1, 2, 3} {
		if err := s.FenceBroker(ctx, id, epoch(id), true); err != nil {
			t.Fatal(err)
		}
	}
	if p := part(); p.Leader != NoLeader || !slices.Equal(p.ISR, []int32{1}) {
		t.Fatalf("after the crash %+v", p)
	}
	refused(true, kerr.EligibleLeadersNotAvailable)
	refused(false, kerr.PreferredLeaderNotAvailable)
	if err := s.FenceBroker(ctx, 3, epoch(3), false); err != nil {
		t.Fatal(err)
	}
	if part().Leader != NoLeader {
		t.Fatal("a replica outside the ISR was elected without an unclean election")
	}
	before = part()
	got, err = s.ElectLeaders(ctx, top.ID, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	want = Partition{Replicas: before.Replicas, ISR: []int32{3}, Leader: 3, LeaderEpoch: before.LeaderEpoch + 1, PartitionEpoch: before.PartitionEpoch + 1}
	if !samePartition(got, want) || !samePartition(part(), want) {
		t.Fatalf("unclean election: returned %+v, image %+v, want %+v", got, part(), want)
	}
	refused(true, kerr.ElectionNotNeeded)
}

// TestUncleanElectionPrefersISR: an unclean election with a live ISR
// member (possible when the record races an unfencing) is a clean one.
func TestUncleanElectionPrefersISR(t *testing.T) {
	im := emptyImage()
	im.Brokers = map[int32]*Broker{1: {ID: 1}, 2: {ID: 2}, 3: {ID: 3}}
	top := &Topic{Name: "t", ID: newID(), Partitions: 1,
		Assignments: []Partition{{Replicas: []int32{1, 2, 3}, ISR: []int32{3}, Leader: NoLeader}}}
	im.putTopic(top)
	next, res := im.apply(9, &Record{ElectLeader: &ElectLeaderRecord{TopicID: top.ID, Unclean: true}})
	if res.Err != nil || res.Unclean {
		t.Fatalf("result %+v", res)
	}
	if p := next.Topics["t"].Assignments[0]; p.Leader != 3 || !slices.Equal(p.ISR, []int32{3}) || p.LeaderEpoch != 1 {
		t.Fatalf("partition %+v", p)
	}
}

// TestUncleanElectionWarns: an unclean outcome is logged as a warning
// naming the partition; a clean one is not.
func TestUncleanElectionWarns(t *testing.T) {
	s, top, alter := alterFixture(t)
	var logged bytes.Buffer
	s.logger = slog.New(slog.NewTextHandler(&logged, nil))
	r := alter()
	r.ISR = []int32{1}
	if _, err := s.AlterPartition(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.FenceBroker(ctx, 1, s.Image().Brokers[1].Epoch, true); err != nil {
		t.Fatal(err)
	}
	if logged.Len() != 0 {
		t.Fatalf("logged before any election: %s", logged.String())
	}
	if _, err := s.ElectLeaders(ctx, top.ID, 0, true); err != nil {
		t.Fatal(err)
	}
	if out := logged.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "unclean leader election") ||
		!strings.Contains(out, "topic=t") || !strings.Contains(out, "lastISR=[1]") {
		t.Fatalf("log %q", out)
	}
}
