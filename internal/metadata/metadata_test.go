package metadata

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

var ctx = context.Background()

// newTestStore is a store on a MemoryLog with brokers registered.
func newTestStore(t *testing.T, node int32, brokers ...int32) *Store {
	t.Helper()
	s := NewStore(node, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.SetLog(NewMemoryLog(s))
	if err := s.InitCluster(ctx, "test-cluster"); err != nil {
		t.Fatal(err)
	}
	for _, id := range brokers {
		if _, err := s.change(ctx, Record{RegisterBroker: &RegisterBrokerRecord{ID: id,
			Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9000 + id}}}}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestPlaceSpreadsEvenly: partitions lead evenly over the live brokers and
// a partition's replicas are distinct.
func TestPlaceSpreadsEvenly(t *testing.T) {
	s := newTestStore(t, 1, 1, 2, 3)
	for _, rf := range []int16{1, 2, 3, 1, 2, 3, 1, 2, 3} {
		replicas, err := s.Image().Place(12, rf)
		if err != nil {
			t.Fatal(err)
		}
		leaders := map[int32]int{}
		for i, rs := range replicas {
			if len(rs) != int(rf) {
				t.Fatalf("rf %d: partition %d has replicas %v", rf, i, rs)
			}
			seen := map[int32]bool{}
			for _, r := range rs {
				if seen[r] {
					t.Fatalf("rf %d: partition %d names %d twice: %v", rf, i, r, rs)
				}
				seen[r] = true
			}
			leaders[rs[0]]++
		}
		for _, id := range []int32{1, 2, 3} {
			if leaders[id] != 4 {
				t.Fatalf("rf %d: leaders per broker %v, want 4 each", rf, leaders)
			}
		}
	}
	if _, err := s.Image().Place(3, 4); !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("rf 4 on 3 brokers: %v", err)
	}
}

// TestPlaceRackAware: with two racks, consecutive replicas alternate racks.
func TestPlaceRackAware(t *testing.T) {
	s := newTestStore(t, 1)
	for id, rack := range map[int32]string{1: "a", 2: "a", 3: "b", 4: "b"} {
		r := rack
		if _, err := s.change(ctx, Record{RegisterBroker: &RegisterBrokerRecord{ID: id, Rack: &r}}); err != nil {
			t.Fatal(err)
		}
	}
	rackOf := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b"}
	for range 50 { // the start and shift are random
		replicas, err := s.Image().Place(8, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i, rs := range replicas {
			if len(rs) != 3 || rackOf[rs[0]] == rackOf[rs[1]] || rs[2] == rs[0] || rs[2] == rs[1] {
				t.Fatalf("partition %d replicas %v: the first two share a rack or one repeats", i, rs)
			}
		}
	}
}

// TestApplyTopicLifecycle: create, retry of the same create, configs,
// partitions with a stale From, delete, and the image after each.
func TestApplyTopicLifecycle(t *testing.T) {
	s := newTestStore(t, 1, 1, 2)
	top, err := s.CreateTopic(ctx, "orders", 4, 1, nil, map[string]string{"retention.ms": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	if top.Partitions != 4 || len(top.Assignments) != 4 || top.Configs["retention.ms"] != "1000" {
		t.Fatalf("created %+v", top)
	}
	if _, err := s.CreateTopic(ctx, "orders", 4, 1, nil, nil); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
	if err := s.SetPartitions(ctx, "orders", 6); err != nil {
		t.Fatal(err)
	}
	// A retried grow names the old count and must not grow again.
	_, err = s.change(ctx, Record{CreatePartitions: &CreatePartitionsRecord{ID: top.ID, From: 4, Replicas: [][]int32{{1}, {2}}}})
	if !errors.Is(err, kerr.InvalidPartitions) {
		t.Fatalf("stale grow: %v", err)
	}
	if got := s.Image().Topics["orders"].Partitions; got != 6 {
		t.Fatalf("partitions %d, want 6", got)
	}
	if err := s.SetConfigs(ctx, "orders", map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	if got := s.Image().Topics["orders"].Configs; !reflect.DeepEqual(got, map[string]string{"cleanup.policy": "compact"}) {
		t.Fatalf("configs %v", got)
	}
	if err := s.DeleteTopic(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Image().TopicByID(top.ID); ok || len(s.Image().Topics) != 0 {
		t.Fatal("topic still in the image after delete")
	}
	if err := s.DeleteTopic(ctx, "orders"); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("second delete: %v", err)
	}
}

// TestApplyRejectsBadAssignments: unknown brokers and duplicate replicas
// are refused by apply itself, on every node alike.
func TestApplyRejectsBadAssignments(t *testing.T) {
	s := newTestStore(t, 1, 1, 2)
	for _, replicas := range [][][]int32{{{7}}, {{1, 1}}, {{}}, {}} {
		_, err := s.change(ctx, Record{CreateTopic: &CreateTopicRecord{Name: "t", ID: newID(), Replicas: replicas}})
		if err == nil {
			t.Fatalf("replicas %v accepted", replicas)
		}
	}
	if len(s.Image().Topics) != 0 {
		t.Fatal("a refused topic is in the image")
	}
}

// TestSnapshotRoundTrip: Restore(Snapshot()) gives the same image.
func TestSnapshotRoundTrip(t *testing.T) {
	s := newTestStore(t, 1, 1, 2, 3)
	if _, err := s.CreateTopic(ctx, "a", 3, 2, nil, map[string]string{"x": "y"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AllocateProducerIDs(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	// A partition epoch apart from the leader epoch must survive too.
	im := s.Image()
	top := im.Topics["a"]
	p := top.Assignments[0]
	isr := p.Replicas
	if len(p.ISR) > 1 {
		isr = []int32{p.Leader}
	}
	if _, err := s.AlterPartition(ctx, AlterPartitionRecord{TopicID: top.ID, Leader: p.Leader, BrokerEpoch: im.Brokers[p.Leader].Epoch,
		LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, ISR: isr}); err != nil {
		t.Fatal(err)
	}
	if s.Image().Topics["a"].Assignments[0].PartitionEpoch == 0 {
		t.Fatal("the partition epoch did not move")
	}
	index, data, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := NewStore(2, s.logger)
	if err := r.Restore(index, data); err != nil {
		t.Fatal(err)
	}
	a, b := s.Image(), r.Image()
	if a.Index != b.Index || a.ClusterID != b.ClusterID || a.NextProducerID != b.NextProducerID ||
		!reflect.DeepEqual(a.Topics, b.Topics) || !reflect.DeepEqual(a.Brokers, b.Brokers) {
		t.Fatalf("restored image differs:\n%+v\n%+v", a, b)
	}
	if _, ok := b.TopicByID(a.Topics["a"].ID); !ok {
		t.Fatal("restored image cannot find a topic by id")
	}
	if err := r.Restore(1, []byte("{")); err == nil {
		t.Fatal("a corrupt snapshot was accepted")
	}
}

// TestProducerIDBlocksNeverOverlap: blocks follow each other.
func TestProducerIDBlocksNeverOverlap(t *testing.T) {
	s := newTestStore(t, 1, 1)
	a, err := s.AllocateProducerIDs(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AllocateProducerIDs(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if a != 0 || b != 1000 {
		t.Fatalf("blocks at %d and %d", a, b)
	}
}

// FuzzApply: any entry bytes either fail to decode or apply without
// panicking, and the image keeps its invariants.
func FuzzApply(f *testing.F) {
	s := newTestStore(&testing.T{}, 1, 1, 2)
	for _, r := range []Record{
		{CreateTopic: &CreateTopicRecord{Name: "t", ID: newID(), Replicas: [][]int32{{1}, {2, 1}}}},
		{FenceBroker: &FenceBrokerRecord{ID: 2, Epoch: 3, Fenced: true}},
		{CreatePartitions: &CreatePartitionsRecord{From: 2, Replicas: [][]int32{{2}}}},
		{ProducerIDs: &ProducerIDsRecord{Broker: 1, Count: 5}},
		{AlterPartition: &AlterPartitionRecord{Leader: 1, BrokerEpoch: 2, ISR: []int32{1, 2}}},
		{ElectLeader: &ElectLeaderRecord{Partition: 1, Unclean: true}},
		{CreateACLs: &CreateACLsRecord{ACLs: []ACL{{ID: "x", ResourceName: "t"}, {ID: "y", ResourceName: "t"}}}},
		{DeleteACLs: &DeleteACLsRecord{IDs: []string{"x", "z"}}},
	} {
		b, _ := encodeEntry(&Entry{Req: "r", Record: r})
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeEntry(data)
		if err != nil {
			return
		}
		im, _ := s.Image().apply(99, &e.Record)
		for id, a := range im.ACLs {
			if a.ID != id || id == "" {
				t.Fatalf("ACL %+v is held under id %q", a, id)
			}
		}
		for name, top := range im.Topics {
			if top.Name != name || int(top.Partitions) != len(top.Assignments) {
				t.Fatalf("topic %q breaks the invariants: %+v", name, top)
			}
			if got, ok := im.TopicByID(top.ID); !ok || got != top {
				t.Fatalf("topic %q is not found by id", name)
			}
		}
	})
}

// FuzzRestore: a snapshot from disk or from a voter either is refused or
// gives an image whose topics keep their invariants; it never panics.
func FuzzRestore(f *testing.F) {
	s := newTestStore(&testing.T{}, 1, 1, 2)
	if _, err := s.CreateTopic(ctx, "t", 3, 1, nil, map[string]string{"a": "b"}); err != nil {
		f.Fatal(err)
	}
	_, data, err := s.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"topics":[{"name":"x","id":"AAAAAAAAAAAAAAAAAAAAAA","partitions":2,"assignments":[]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewStore(1, s.logger)
		if err := r.Restore(7, data); err != nil {
			return
		}
		for _, top := range r.Image().Topics {
			if int(top.Partitions) != len(top.Assignments) {
				t.Fatalf("topic %q restored with %d partitions and %d assignments", top.Name, top.Partitions, len(top.Assignments))
			}
		}
	})
}
