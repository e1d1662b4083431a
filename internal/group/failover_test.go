package group

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// leadership is a test's view of which offsets partitions this broker
// leads.
type leadership struct {
	mu  sync.Mutex
	led map[int32]bool
}

func (l *leadership) leads(p int32) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.led[p]
}

func (l *leadership) set(p int32, led bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.led[p] = led
}

// blockingStorage holds Replay of one partition until released.
type blockingStorage struct {
	*memStorage
	hold    atomic.Int32 // partition whose replay blocks; -1 none
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStorage) Replay(p int32, fn func(key, value []byte)) error {
	if b.hold.Load() == p {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.memStorage.Replay(p, fn)
}

// TestGroupsFollowOffsetsPartitionLeadership moves the leadership of a
// group's offsets partition away and back: away, the group's requests
// hear NOT_COORDINATOR and a parked join is answered with it; back, the
// partition is replayed (COORDINATOR_LOAD_IN_PROGRESS meanwhile) and the
// committed offsets are there again.
func TestGroupsFollowOffsetsPartitionLeadership(t *testing.T) {
	mem := &memStorage{batches: map[int32][][]byte{}, partitions: 4}
	st := &blockingStorage{memStorage: mem, entered: make(chan struct{}), release: make(chan struct{})}
	st.hold.Store(-1)
	p := PartitionFor("g", 4)
	lead := &leadership{led: map[int32]bool{0: true, 1: true, 2: true, 3: true}}
	clock := &fakeClock{now: time.UnixMilli(1_700_000_000_000)}
	c, err := Start(Config{
		OffsetsPartitions: 4, GroupMaxSize: 3, InitialRebalanceDelay: time.Second, MinSessionTimeout: time.Second, MaxSessionTimeout: time.Minute,
		OffsetsRetention: time.Hour, Storage: st, Clock: clock, Leads: lead.leads,
		Owns: func(id string) bool { return lead.leads(PartitionFor(id, 4)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	commit := CommitRequest{Group: "g", Generation: -1, Commits: []Commit{{"t", 0, 42, 3, ""}}}
	if code := c.CommitOffsets(ctx, commit); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	// A member parks in a join (the first of a group waits for the
	// initial rebalance delay, which the fake clock never ends).
	_, joined := joinNew(t, c, "range")

	lead.set(p, false)
	c.Reconcile()
	if r := recvJoin(t, joined); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("parked join after resignation: error %d, want NOT_COORDINATOR", r.ErrorCode)
	}
	if _, code := c.FetchOffsets(ctx, "g", nil); code != kerr.NotCoordinator.Code {
		t.Fatalf("fetch after resignation: %d, want NOT_COORDINATOR", code)
	}
	testutil.Eventually(t, groupWaitMax, "the group to be dropped", func() bool {
		n, _ := call(ctx, c.shardFor("g"), func() int { return len(c.shardFor("g").groups) })
		return n == 0
	})

	st.hold.Store(p)
	lead.set(p, true)
	c.Reconcile()
	<-st.entered
	if _, code := c.FetchOffsets(ctx, "g", nil); code != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("fetch while loading: %d, want COORDINATOR_LOAD_IN_PROGRESS", code)
	}
	close(st.release)
	testutil.Eventually(t, groupWaitMax, "the partition to load", func() bool {
		return c.partitionState(p) == loaded
	})
	got, code := c.FetchOffsets(ctx, "g", []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0}}})
	if code != 0 || len(got) != 1 || got[0].Partitions[0].Offset != 42 {
		t.Fatalf("offsets after taking the partition back: code %d %+v, want offset 42", code, got)
	}
}
