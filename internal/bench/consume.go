package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/kclient"
)

// consumeRun is the consuming side of a run: --groups groups of
// --consumers clients, each group reading every record once.
type consumeRun struct {
	o          *benchOptions
	runID      uint64 // e2e: only records stamped with it count
	partitions []int32
	groups     []*groupRun
	latency    histogram // e2e: scheduled send time to poll
	foreign    atomic.Int64
	errs       firstError
	start      time.Time // consumer clients created
}

// groupRun tracks one group: what it has read, and when it is done.
type groupRun struct {
	name       string // "" when partitions are assigned directly
	partitions int
	done       chan struct{}
	doneOnce   sync.Once

	mu     sync.Mutex
	next   map[int32]int64 // next unread offset per partition; guarded by mu
	target int64           // records to read; -1 until known; guarded by mu

	records  atomic.Int64
	bytes    atomic.Int64
	assigned atomic.Int64 // partitions currently assigned to its members
	fetching atomic.Int64 // direct consumers that have sent a Fetch
	readyAt  atomic.Int64 // Unix ns when every partition was assigned
	firstAt  atomic.Int64 // Unix ns of the first record polled
	lastAt   atomic.Int64 // Unix ns of the last record polled
}

func newGroupRun(name string, partitions int) *groupRun {
	return &groupRun{name: name, partitions: partitions, done: make(chan struct{}), next: map[int32]int64{}, target: -1}
}

// setTarget sets how many records the group must read to be done.
func (g *groupRun) setTarget(n int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.target = n
	g.checkDoneLocked()
}

// checkDoneLocked closes done when the target is reached. REQUIRES: mu.
func (g *groupRun) checkDoneLocked() {
	if g.target >= 0 && g.records.Load() >= g.target {
		g.doneOnce.Do(func() { close(g.done) })
	}
}

// add counts the records of one fetched partition that the group has not
// counted yet: after a rebalance a member may be handed records another
// member already read.
func (c *consumeRun) add(g *groupRun, ftp kgo.FetchTopicPartition, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	next, seen := g.next[ftp.Partition]
	var n, bytes int64
	for _, r := range ftp.Records {
		if seen && r.Offset < next {
			continue
		}
		next, seen = r.Offset+1, true
		if c.o.mode == benchE2E {
			sched, ok := readStamp(r.Value, c.runID)
			if !ok {
				c.foreign.Add(1)
				continue
			}
			if sched.UnixNano() == 0 {
				continue // the producer's warm-up record
			}
			c.latency.record(now.Sub(sched))
		}
		n++
		bytes += int64(len(r.Value))
	}
	if seen {
		g.next[ftp.Partition] = next
	}
	if n == 0 {
		return
	}
	g.firstAt.CompareAndSwap(0, now.UnixNano())
	g.lastAt.Store(now.UnixNano())
	g.bytes.Add(bytes)
	g.records.Add(n)
	g.checkDoneLocked()
}

// consumerOptions configures consumer i of group g, on top of
// clientConfig. start gives each partition's first offset for directly
// assigned consumers; nil means the log start.
func (c *consumeRun) consumerOptions(g *groupRun, i int, start map[int32]int64) []kgo.Opt {
	var opts []kgo.Opt
	if g.name != "" {
		return append(opts,
			kgo.ConsumerGroup(g.name),
			kgo.ConsumeTopics(c.o.topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				if g.assigned.Add(int64(len(m[c.o.topic]))) >= int64(g.partitions) {
					g.readyAt.CompareAndSwap(0, time.Now().UnixNano())
				}
			}),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				g.assigned.Add(-int64(len(m[c.o.topic])))
			}),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				g.assigned.Add(-int64(len(m[c.o.topic])))
			}),
		)
	}
	// Direct assignment: consumer i of C reads partitions i, i+C, i+2C, …
	// The group is ready once every consumer has sent its first Fetch.
	opts = append(opts, kgo.WithHooks(&firstFetchHook{g: g, consumers: int64(c.o.consumers)}))
	offsets := map[int32]kgo.Offset{}
	for j := i; j < len(c.partitions); j += c.o.consumers {
		p := c.partitions[j]
		offsets[p] = kgo.NewOffset().AtStart()
		if at, ok := start[p]; ok {
			offsets[p] = kgo.NewOffset().At(at)
		}
	}
	return append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.o.topic: offsets}))
}

// startConsumers creates every consumer client. The caller closes them.
func (c *consumeRun) startConsumers(start map[int32]int64) ([]*kgo.Client, error) {
	var clients []*kgo.Client
	c.start = time.Now()
	for gi := range c.o.groups {
		g := newGroupRun(c.o.groupName(gi), len(c.partitions))
		c.groups = append(c.groups, g)
		for i := range c.o.consumers {
			cl, err := kclient.New(c.o.clientConfig(fmt.Sprintf("consumer-%d", i)), c.consumerOptions(g, i, start)...)
			if err != nil {
				closeClients(clients)
				return nil, fmt.Errorf("cannot create a consumer: %w", err)
			}
			clients = append(clients, cl)
		}
	}
	return clients, nil
}

// consume polls with client cl for group g until the group is done or ctx
// ends.
func (c *consumeRun) consume(ctx context.Context, g *groupRun, cl *kgo.Client) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-g.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if fs.IsClientClosed() {
			return
		}
		now := time.Now()
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				c.errs.set(fmt.Errorf("fetch %s[%d]: %w", topic, p, err))
			}
		})
		fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
			if len(ftp.Records) > 0 {
				c.add(g, ftp, now)
			}
		})
	}
}

// run polls with every client until every group is done or ctx ends.
func (c *consumeRun) run(ctx context.Context, clients []*kgo.Client) {
	var wg sync.WaitGroup
	for i, cl := range clients {
		g := c.groups[i/c.o.consumers]
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.consume(ctx, g, cl)
		}()
	}
	wg.Wait()
}

// waitReady waits until every group has all partitions assigned.
func (c *consumeRun) waitReady(ctx context.Context) bool {
	for {
		ready := true
		for _, g := range c.groups {
			ready = ready && g.readyAt.Load() != 0
		}
		if ready {
			return true
		}
		if !sleepContext(ctx, 10*time.Millisecond) {
			return false
		}
	}
}

// totals sums the groups' counts.
func (c *consumeRun) totals() (records, bytes int64) {
	for _, g := range c.groups {
		records += g.records.Load()
		bytes += g.bytes.Load()
	}
	return records, bytes
}

// expected returns how many records the groups are to read in all.
func (c *consumeRun) expected() int64 {
	var n int64
	for _, g := range c.groups {
		g.mu.Lock()
		n += max(g.target, 0)
		g.mu.Unlock()
	}
	return n
}

// allDone reports whether every group reached its target.
func (c *consumeRun) allDone() bool {
	for _, g := range c.groups {
		select {
		case <-g.done:
		default:
			return false
		}
	}
	return true
}

func closeClients(clients []*kgo.Client) {
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.Close()
		}()
	}
	wg.Wait()
}

// firstFetchHook marks a directly assigned group ready when each of its
// consumers has written a Fetch request, so that an e2e producer does not
// start while consumers are still connecting.
type firstFetchHook struct {
	g         *groupRun
	consumers int64
	once      sync.Once
}

var _ kgo.HookBrokerWrite = (*firstFetchHook)(nil)

func (h *firstFetchHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	const fetchKey = 1
	if key != fetchKey || err != nil {
		return
	}
	h.once.Do(func() {
		if h.g.fetching.Add(1) == h.consumers {
			h.g.readyAt.Store(time.Now().UnixNano())
		}
	})
}
