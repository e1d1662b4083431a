package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// The network partition faults: partition 0's leader is cut off from the
// other brokers (and, in the second fault, from the controllers too) but
// not from the clients, for faultCutLen, then healed. The nodes run in
// network namespaces (fault_net_test.go), so these faults need root; they
// are skipped elsewhere.

const (
	// faultCutLen is how long a cut lasts: past the ISR shrink
	// (replica.lag.time.max.ms, 5 s here), past the leader's fencing
	// (faultSession), and past the clients' wait for a silent or
	// refusing leader, so the partition must make what progress it can
	// without the cut-off broker.
	faultCutLen = faultPause
	// faultShrinkMax bounds the shrink of the cut-off leader's ISR to
	// itself: the lag time, then the ISR loop's period (half of it), the
	// AlterPartition and the new image reaching the brokers.
	faultShrinkMax = faultLagTime + faultLagTime/2 + 5*time.Second
	// faultProgressMax bounds the wait for acknowledgements on the
	// partitions the cut-off broker does not lead.
	faultProgressMax = faultLagTime + 10*time.Second
)

// partitionLeader: cut partition 0's leader off from the two other
// brokers, not from the controllers or the clients. Kafka's behaviour:
// the leader keeps its controller session, so it stays leader; its
// followers stop fetching, so after replica.lag.time.max.ms it shrinks
// the ISR to itself, and then min.insync.replicas=2 refuses every acks=all
// produce (NOT_ENOUGH_REPLICAS) until the followers are back. Nothing may
// be acknowledged with the ISR at one. The partitions it follows drop it
// from their ISRs and go on with two.
func partitionLeader(r *faultRun) {
	leader := r.leaderOf(0, r.fc.brokers)
	id := r.fc.id(leader)
	at := time.Now()
	r.cut(leader, r.fc.others(leader)...)
	acks := r.watchAcks(0, at)
	hws := r.watchHighWatermark(leader, 0, at)
	ackedBefore := r.check.ackedOffsets(0)
	r.t.Logf("cut node %d, leader of %s[0], off from the other brokers", id, r.topic)
	// A record first written after the cut reaches no follower: the
	// leader must never acknowledge it, only time out or, once the ISR
	// is itself alone, refuse it (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		offset, err := r.probeWithin(leader, 0, "after-cut", faultShrinkMax)
		if err == nil {
			r.check.Acked("after-cut", faultPos{0, offset})
			r.t.Errorf("node %d acknowledged an acks=all produce written after its followers were cut off, at offset %d", id, offset)
			return
		}
		r.t.Logf("node %d answered an acks=all produce written after the cut with %v %v after the cut", id, errorKind(err), time.Since(at).Round(time.Millisecond))
	}()

	// The ISR shrinks to the leader alone, leader unchanged.
	var last string
	var isrs []string // each ISR seen, with when
	shrinkAt := faultShrinkMax
	if !testutil.WaitForEvery(faultShrinkMax, clusterPollEvery, func() bool {
		l, err := r.fc.layoutFrom(r.ctx, r.fc.brokers, r.topic)
		if err != nil {
			last = err.Error()
			return false
		}
		if seen := fmt.Sprint(l[0].ISR); len(isrs) == 0 || !strings.HasPrefix(isrs[len(isrs)-1], seen) {
			isrs = append(isrs, fmt.Sprintf("%s at +%v", seen, time.Since(at).Round(time.Millisecond)))
		}
		last = fmt.Sprintf("%+v", l[0])
		return l[0].Leader == id && slices.Equal(l[0].ISR, []int32{id})
	}) {
		r.t.Errorf("%s[0]'s ISR did not shrink to its cut-off leader %d within %v (last look %s)", r.topic, id, faultShrinkMax, last)
	} else {
		shrinkAt = time.Since(at)
		r.t.Logf("%s[0]'s ISR shrank to [%d] %v after the cut (ISRs seen: %s)", r.topic, id, shrinkAt.Round(time.Millisecond), strings.Join(isrs, ", "))
	}
	shrunk := r.w.acksOf(0)
	r.expectNotEnoughReplicas(leader, 0)

	r.expectProgressElsewhere(0, at)
	time.Sleep(time.Until(at.Add(faultCutLen))) // the fault's length
	if n := r.w.acksOf(0) - shrunk; n > 0 {
		r.t.Errorf("node %d acknowledged an acks=all produce %d times with %s[0]'s ISR shrunk to itself (min.insync.replicas=2)", id, n, r.topic)
	}
	// Acknowledgements during the cut are fine for records the followers
	// fetched before it: below the high watermark the leader had while
	// its ISR was whole (sampled until the shrink was seen, an upper
	// bound). A record at or above it was acknowledged with one copy.
	acks.end()
	hwText, hwBefore := hws(shrinkAt)
	r.t.Logf("%s[0] during the cut: %s; high watermark on node %d: %s", r.topic, acks, id, hwText)
	var during []int64
	for value, offset := range r.check.ackedOffsets(0) {
		if _, ok := ackedBefore[value]; !ok && !strings.HasPrefix(value, "after-cut") {
			during = append(during, offset)
		}
	}
	if len(during) > 0 {
		slices.Sort(during)
		r.t.Logf("%s[0] acknowledged %d records during the cut, offsets %d to %d", r.topic, len(during), during[0], during[len(during)-1])
		if top := during[len(during)-1]; hwBefore >= 0 && top >= hwBefore {
			r.t.Errorf("node %d acknowledged an acks=all produce at offset %d during the cut, at or above its high watermark %d before the ISR shrank",
				id, top, hwBefore)
		}
	}
	<-probed
	r.healCuts(at)
}

// ackWatch is partition p's acknowledgements from a cut on, sampled.
type ackWatch struct {
	at    time.Time
	start int
	mu    sync.Mutex
	times []time.Duration // since at, one per sample that saw more acks
	count []int           // acks since at, at each of times
	stop  chan struct{}
}

// watchAcks samples partition p's acknowledgements every 20 ms from at
// until stopped (at the latest when the test ends).
func (r *faultRun) watchAcks(p int32, at time.Time) *ackWatch {
	w := &ackWatch{at: at, start: r.w.acksOf(p), stop: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := w.start
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			if n := r.w.acksOf(p); n != last && len(w.times) < 10_000 {
				last = n
				w.mu.Lock()
				w.times = append(w.times, time.Since(at))
				w.count = append(w.count, n-w.start)
				w.mu.Unlock()
			}
		}
	}()
	r.t.Cleanup(func() { w.end(); <-done })
	return w
}

// end stops the sampling; it may be called more than once.
func (w *ackWatch) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
}

// String is the samples as "+time:count" pairs, the first and last few.
func (w *ackWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.times) == 0 {
		return "no acknowledgement after the cut"
	}
	var parts []string
	for i, t := range w.times {
		if i < 5 || i >= len(w.times)-5 {
			parts = append(parts, fmt.Sprintf("+%v:%d", t.Round(time.Millisecond), w.count[i]))
		} else if i == 5 {
			parts = append(parts, "...")
		}
	}
	return "acknowledgements since the cut " + strings.Join(parts, " ")
}

// partitionLeaderFromAll: cut partition 0's leader off from the other
// brokers and from the controllers, not from the clients. It cannot
// heartbeat, so the controller fences it and elects another ISR member;
// it does not know and goes on taking produces from clients with old
// metadata: a zombie. It must acknowledge none (its followers no longer
// fetch from it, so its high watermark stands still, and its ISR shrink
// cannot reach the controller); what it appended is truncated once it
// follows the new leader. The checker proves that nothing it may have
// acknowledged was lost.
func partitionLeaderFromAll(r *faultRun) {
	leader := r.leaderOf(0, r.fc.brokers)
	at := time.Now()
	r.cut(leader, append(r.fc.others(leader), r.fc.controllers...)...)
	r.t.Logf("cut node %d, leader of %s[0], off from the other brokers and the controllers", r.fc.id(leader), r.topic)
	r.expectFailover(0, leader, r.liveBrokers(leader), at)
	r.expectZombieRefuses(leader, 0, at.Add(faultCutLen))
	time.Sleep(time.Until(at.Add(faultCutLen))) // the fault's length
	r.healCuts(at)
}

// expectZombieRefuses sends acks=all produces of partition p straight to
// old, cut off and replaced as its leader, one after the other until
// until (at least one): none may be acknowledged. Its followers no longer
// fetch from it, so the wait for them must end in a timeout or a refusal.
// A probe acknowledged is a record like any other for the checker, which
// then finds it lost once old follows the new leader and truncates.
func (r *faultRun) expectZombieRefuses(old *Broker, p int32, until time.Time) {
	r.t.Helper()
	seen := map[string]int{}
	for i := 0; i == 0 || time.Now().Before(until); i++ {
		value := fmt.Sprintf("zombie-%d", i)
		offset, err := r.probe(old, p, value)
		if err == nil {
			r.check.Acked(value, faultPos{p, offset})
			r.t.Errorf("node %d, cut off and replaced as leader of %s[%d], acknowledged an acks=all produce at offset %d",
				r.fc.id(old), r.topic, p, offset)
			continue
		}
		seen[errorKind(err)]++
	}
	r.t.Logf("node %d, cut off and replaced as leader of %s[%d], answered acks=all produces sent to it with %v",
		r.fc.id(old), r.topic, p, formatCounts(seen))
}

// cut cuts node a off from each of bs.
func (r *faultRun) cut(a *Broker, bs ...*Broker) {
	r.t.Helper()
	if r.fc.net == nil {
		r.t.Fatal("a network partition needs the cluster in network namespaces")
	}
	var ids []int
	for _, b := range bs {
		ids = append(ids, int(r.fc.id(b)))
	}
	r.fc.net.cut(int(r.fc.id(a)), ids...)
}

// healCuts restores every cut link, made at at.
func (r *faultRun) healCuts(at time.Time) {
	r.fc.net.healAll()
	r.t.Logf("healed the network %v after the cut", time.Since(at).Round(time.Millisecond))
}

// expectProgressElsewhere checks that every partition but p acknowledges
// records after since+faultLagTime (once the cut-off broker left their
// ISRs), within faultProgressMax of since.
func (r *faultRun) expectProgressElsewhere(p int32, since time.Time) {
	r.t.Helper()
	time.Sleep(time.Until(since.Add(faultLagTime))) // not a wait for a condition: the baseline is taken after the lag time
	before := map[int32]int{}
	for q := range int32(faultTopicPartitions) {
		before[q] = r.w.acksOf(q)
	}
	ok := testutil.WaitFor(time.Until(since.Add(faultProgressMax)), func() bool {
		for q := range int32(faultTopicPartitions) {
			if q != p && r.w.acksOf(q) <= before[q] {
				return false
			}
		}
		return true
	})
	var got []int
	for q := range int32(faultTopicPartitions) {
		got = append(got, r.w.acksOf(q)-before[q])
	}
	if !ok {
		r.t.Errorf("no progress during the cut: partitions acknowledged %v records (partition %d excepted), want some on each", got, p)
	} else {
		r.t.Logf("during the cut, partitions acknowledged %v records after the lag time", got)
	}
}

// watchHighWatermark polls partition p's high watermark (ListOffsets
// latest) on b every 50 ms from at; the function returned stops it and
// says each value seen and when, and the largest seen before d after at
// (-1: none).
func (r *faultRun) watchHighWatermark(b *Broker, p int32, at time.Time) func(d time.Duration) (string, int64) {
	stop := make(chan struct{})
	done := make(chan struct{})
	var seen []string
	var values []int64
	var times []time.Duration
	go func() {
		defer close(done)
		last := int64(-2)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			hw, err := r.highWatermark(b, p)
			if err == nil && hw != last && len(seen) < 1000 {
				last = hw
				since := time.Since(at)
				seen = append(seen, fmt.Sprintf("%d at +%v", hw, since.Round(time.Millisecond)))
				values, times = append(values, hw), append(times, since)
			}
		}
	}()
	var once sync.Once
	end := func(d time.Duration) (string, int64) {
		once.Do(func() { close(stop); <-done })
		top := int64(-1)
		for i, v := range values {
			if times[i] < d {
				top = max(top, v)
			}
		}
		return strings.Join(seen, ", "), top
	}
	r.t.Cleanup(func() { end(0) })
	return end
}

// highWatermark is partition p's high watermark as b answers ListOffsets.
func (r *faultRun) highWatermark(b *Broker, p int32) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = r.topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = p
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(r.ctx, faultAskMax)
	defer cancel()
	resp, err := req.RequestWith(ctx, r.fc.ask(b))
	if err != nil {
		return 0, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("ListOffsets answered %d topics", len(resp.Topics))
	}
	rpr := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(rpr.ErrorCode); err != nil {
		return 0, err
	}
	return rpr.Offset, nil
}
