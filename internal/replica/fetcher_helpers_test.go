package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/vfs"
)

// leaderNode is the broker the fake leader runs as; the follower under
// test is testNode.
const leaderNode int32 = 2

// testLogger discards.
func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openLeaderPartition opens a partition in its own dir, standing for the
// leader's copy on another broker, led there in epoch.
func openLeaderPartition(t *testing.T, epoch int32) *Partition {
	t.Helper()
	l, err := log.Open(t.TempDir(), log.DefaultConfig(), log.OpenOptions{RecoveryPoint: -1, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	p := newPartition(TP{"t", 0}, metadata.TopicID{1}, l, vfs.Default, testLogger())
	if err := p.recoverState(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.close() })
	leadIn(p, epoch)
	return p
}

// leadIn makes p lead in epoch, as the leader's Manager would, with
// itself alone in the ISR: its high watermark is its durable offset.
func leadIn(p *Partition, epoch int32) {
	p.setAssignment(metadata.Partition{Replicas: []int32{leaderNode, testNode}, ISR: []int32{leaderNode},
		Leader: leaderNode, LeaderEpoch: epoch}, leaderNode, time.Now())
}

// appendN appends batches of the given sizes as the partition's leader
// and waits for them to be durable.
func appendN(t *testing.T, p *Partition, sizes ...int) {
	t.Helper()
	for _, n := range sizes {
		res, err := p.Append(testBatch(t, n, -1, -1), appendOptions())
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WaitDurable(context.Background(), res.NextOffset); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeLeader is a Transport whose one broker, leaderNode, answers replica
// fetches from a real Partition the way a leader does: CurrentLeaderEpoch
// checked, LastFetchedEpoch compared with its epoch cache (KIP-595),
// OFFSET_OUT_OF_RANGE with its offsets, records up to its log end.
type fakeLeader struct {
	t *testing.T

	mu sync.Mutex // guards the fields below
	p  *Partition
	// script, when set, answers a partition instead (nil: as usual).
	script func(FetchPartition) *FetchedPartition
	// block, when set, holds every fetch until it is closed or the
	// fetch's context ends.
	block chan struct{}
	// fail, when set, fails whole fetches with it.
	fail     error
	fetches  int
	requests []FetchRequest
	opened   int
	closed   int
}

func newFakeLeader(t *testing.T, p *Partition) *fakeLeader { return &fakeLeader{t: t, p: p} }

func (fl *fakeLeader) Open(leader int32) (FetchConn, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if leader != leaderNode {
		return nil, fmt.Errorf("no broker %d", leader)
	}
	fl.opened++
	return fl, nil
}

func (fl *fakeLeader) Close() {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.closed++
}

// pollWait stands for the leader's long poll when it has nothing.
const pollWait = 2 * time.Millisecond

func (fl *fakeLeader) Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error) {
	fl.mu.Lock()
	fl.fetches++
	fl.requests = append(fl.requests, *req)
	block, fail := fl.block, fl.fail
	fl.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return nil, fail
	}
	resp := &FetchResponse{}
	empty := true
	for _, fp := range req.Partitions {
		r := fl.answer(fp)
		empty = empty && len(r.Records) == 0
		resp.Partitions = append(resp.Partitions, r)
	}
	if empty {
		select {
		case <-time.After(pollWait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return resp, nil
}

// answer reads one partition as a leader does.
func (fl *fakeLeader) answer(fp FetchPartition) FetchedPartition {
	fl.mu.Lock()
	p, script := fl.p, fl.script
	fl.mu.Unlock()
	if script != nil {
		if r := script(fp); r != nil {
			return *r
		}
	}
	return fl.read(p, fp)
}

// read answers from the leader's partition, as a leader does.
func (fl *fakeLeader) read(p *Partition, fp FetchPartition) FetchedPartition {
	r := FetchedPartition{Topic: fp.Topic, Partition: fp.Partition, DivergingEpoch: -1, DivergingEndOffset: -1,
		HighWatermark: p.HighWatermark(), LogStartOffset: p.LogStartOffset()}
	if err := p.CheckLeaderEpoch(fp.CurrentLeaderEpoch); err != nil {
		r.Err = err
		return r
	}
	if fp.LastFetchedEpoch >= 0 {
		epoch, end := p.EndOffsetForEpoch(fp.LastFetchedEpoch)
		if epoch < fp.LastFetchedEpoch || end < fp.FetchOffset {
			r.DivergingEpoch, r.DivergingEndOffset = epoch, end
			return r
		}
	}
	b, err := p.Read(fp.FetchOffset, int(fp.MaxBytes), true)
	if err != nil {
		r.Err = err
		if !errors.Is(err, kerr.OffsetOutOfRange) {
			fl.t.Errorf("leader read at %d: %v", fp.FetchOffset, err)
		}
		return r
	}
	r.Records = b
	return r
}

func (fl *fakeLeader) set(fn func(fl *fakeLeader)) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fn(fl)
}

func (fl *fakeLeader) fetchCount() int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.fetches
}

// testFetcherConfig is a fetcher config for tests: quick backoff.
func testFetcherConfig(tr Transport) FetcherConfig {
	return FetcherConfig{NodeID: testNode, Transport: tr, MaxBytes: 1 << 20, ResponseMaxBytes: 10 << 20,
		MinBytes: 1, MaxWait: 10 * time.Millisecond, Backoff: 20 * time.Millisecond, NumFetchers: 1, Logger: testLogger()}
}

// followedCluster is a testCluster whose Manager has fetchers over tr.
func followedCluster(t *testing.T, tr Transport) (*testCluster, *Fetchers) {
	t.Helper()
	c := newTestCluster(t)
	fs := NewFetchers(testFetcherConfig(tr))
	c.m.SetFetchers(fs)
	return c, fs
}

// setAssignment puts topic "t" (id 1, one partition) into the image with
// replicas [leaderNode, testNode], the given leader and epoch, and both
// brokers registered and live, then reconciles.
func (c *testCluster) setAssignment(leader, epoch int32) {
	c.t.Helper()
	topic := &metadata.Topic{Name: "t", ID: metadata.TopicID{1}, Partitions: 1, Assignments: []metadata.Partition{{
		Replicas: []int32{leaderNode, testNode}, ISR: []int32{leaderNode, testNode}, Leader: leader, LeaderEpoch: epoch}}}
	c.image.Store(&metadata.Image{
		Topics: map[string]*metadata.Topic{"t": topic},
		Brokers: map[int32]*metadata.Broker{
			leaderNode: {ID: leaderNode, Epoch: 10},
			testNode:   {ID: testNode, Epoch: 11},
		},
	})
	c.reconcile()
}

// hosted returns the follower's partition "t"-0.
func (c *testCluster) hosted() *Partition {
	c.t.Helper()
	p, ok := c.m.Get("t", 0)
	if !ok {
		c.t.Fatal("partition t-0 not hosted")
	}
	return p
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// sameLog checks that follower holds exactly leader's batches, with
// the same epoch cache.
func sameLog(t *testing.T, follower, leader *Partition) {
	t.Helper()
	fs, fl := follower.LogStartOffset(), leader.LogStartOffset()
	if fs != fl {
		t.Errorf("log start: follower %d, leader %d", fs, fl)
	}
	fb, err := follower.log.Read(fs, 1<<30, true)
	if err != nil && !errors.Is(err, log.ErrOffsetOutOfRange) {
		t.Fatal(err)
	}
	lb, err := leader.log.Read(fl, 1<<30, true)
	if err != nil && !errors.Is(err, log.ErrOffsetOutOfRange) {
		t.Fatal(err)
	}
	if string(fb) != string(lb) {
		t.Errorf("follower's %d bytes differ from the leader's %d", len(fb), len(lb))
	}
	if f, l := follower.LeaderEpochs(), leader.LeaderEpochs(); fmt.Sprint(f) != fmt.Sprint(l) {
		t.Errorf("epoch cache: follower %v, leader %v", f, l)
	}
}

// caughtUp reports whether follower's log ends where leader's does.
func caughtUp(follower, leader *Partition) func() bool {
	return func() bool {
		return follower.LogEndOffset() == leader.LogEndOffset() && follower.HighWatermark() == leader.HighWatermark()
	}
}
