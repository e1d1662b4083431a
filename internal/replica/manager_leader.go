package replica

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// The Manager's part in the leader side of replication: handing out the
// partitions led here to replica fetches (Follower), and the ISR loop
// (RunISR) that shrinks ISRs and carries every partition's AlterPartition
// to the metadata.

const (
	// alterPartitionTimeout bounds one AlterPartition proposal; one that
	// times out is dropped like a rejected one.
	alterPartitionTimeout = 30 * time.Second
	// alterInFlightMax bounds the AlterPartition proposals waiting for
	// the metadata at once (each partition has at most one).
	alterInFlightMax = 16
	// isrCheckMin is the shortest period of the ISR check, whatever
	// replica.lag.time.max.ms says.
	isrCheckMin = 10 * time.Millisecond
)

// isrEnv is what partitions led here share with the Manager: the lag
// bound, and the queue of AlterPartitions RunISR sends.
type isrEnv struct {
	lagTimeMax time.Duration

	mu sync.Mutex // guards queue
	// queue holds the AlterPartitions partitions proposed from request
	// paths. Bounded by the partitions: each has at most one in flight.
	queue []alterRequest
	wake  chan struct{} // one pending wake-up of RunISR
}

// alterRequest is one AlterPartition to send for p.
type alterRequest struct {
	p   *Partition
	rec metadata.AlterPartitionRecord
}

func newISREnv(lagTimeMax time.Duration) *isrEnv {
	if lagTimeMax <= 0 {
		lagTimeMax = defaultLagTimeMax
	}
	return &isrEnv{lagTimeMax: lagTimeMax, wake: make(chan struct{}, 1)}
}

// submit queues p's AlterPartition and wakes RunISR.
func (e *isrEnv) submit(p *Partition, rec metadata.AlterPartitionRecord) {
	e.mu.Lock()
	e.queue = append(e.queue, alterRequest{p: p, rec: rec})
	e.mu.Unlock()
	signal(e.wake)
}

// take empties the queue.
func (e *isrEnv) take() []alterRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queue
	e.queue = nil
	return q
}

// Follower returns the partition led here for a replica fetch from broker
// replica, whose registration epoch is brokerEpoch (-1: not sent, Fetch
// before v15). It is refused (NOT_LEADER_OR_FOLLOWER) unless replica is a
// registered, unfenced broker other than this one, in the partition's
// replica set, registered with that epoch: an unauthenticated client
// claiming a broker id must not move the high watermark (CVE-2018-1288),
// and a broker's earlier incarnation must not either (KIP-903). The
// partition learns the image's assignment first, as in Leader.
func (m *Manager) Follower(topic string, partition, replica int32, brokerEpoch int64) (*Partition, error) {
	im := m.image()
	t, ok := im.Topics[topic]
	if !ok || partition < 0 || partition >= t.Partitions {
		return nil, kerr.UnknownTopicOrPartition
	}
	a := t.Assignments[partition]
	if a.Leader != m.node {
		return nil, fmt.Errorf("%w: partition %s-%d is led by broker %d", kerr.NotLeaderForPartition, topic, partition, a.Leader)
	}
	if err := checkReplica(im, t, partition, replica, brokerEpoch, m.node); err != nil {
		return nil, err
	}
	p, ok := m.Get(topic, partition)
	if !ok || p.TopicID != t.ID {
		return nil, fmt.Errorf("%w: partition %s-%d is still opening", kerr.NotLeaderForPartition, topic, partition)
	}
	p.setAssignment(a, m.node, time.Now())
	p.attach(m.isr)
	return p, nil
}

// checkReplica refuses a replica fetch from a broker that may not make one.
func checkReplica(im *metadata.Image, t *metadata.Topic, partition, replica int32, brokerEpoch int64, node int32) error {
	b, registered := im.Brokers[replica]
	switch {
	case replica == node:
		return fmt.Errorf("%w: broker %d cannot follow itself", kerr.NotLeaderForPartition, replica)
	case !registered:
		return fmt.Errorf("%w: broker %d is not registered", kerr.NotLeaderForPartition, replica)
	case b.Fenced:
		return fmt.Errorf("%w: broker %d is fenced", kerr.NotLeaderForPartition, replica)
	case !t.Hosts(replica, partition):
		return fmt.Errorf("%w: broker %d is not a replica of %s-%d", kerr.NotLeaderForPartition, replica, t.Name, partition)
	case brokerEpoch >= 0 && uint64(brokerEpoch) != b.Epoch:
		return fmt.Errorf("%w: broker %d fetches with broker epoch %d, its registration is epoch %d", kerr.NotLeaderForPartition, replica, brokerEpoch, b.Epoch)
	}
	return nil
}

// RunISR runs the ISR loop until stop closes: every LagTimeMax/2 each
// partition led here drops from its ISR the followers not caught up
// within LagTimeMax, and every AlterPartition a partition proposes
// (shrinks from here, expansions from replica fetches) is sent to the
// metadata, at most alterInFlightMax at once. It returns once the
// proposals it started have ended.
func (m *Manager) RunISR(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	tick := time.NewTicker(max(m.isr.lagTimeMax/2, isrCheckMin))
	defer tick.Stop()
	slots := make(chan struct{}, alterInFlightMax)
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			m.shrinkISRs(now)
		case <-m.isr.wake:
		}
		for _, r := range m.isr.take() {
			select {
			case slots <- struct{}{}:
			case <-stop:
				// Dropped: the partitions learn their ISR from the
				// next image.
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				m.alterPartition(ctx, r)
			}()
		}
	}
}

// shrinkISRs runs the ISR check of every partition led here and queues
// the shrinks it proposes.
func (m *Manager) shrinkISRs(now time.Time) {
	m.Each(func(p *Partition) {
		p.attach(m.isr)
		if rec := p.maybeShrinkISR(now); rec != nil {
			m.logger.Info("shrinking ISR", "partition", TP{p.Topic, p.Index}.dirName(), "from", p.ISR(), "to", rec.ISR)
			m.isr.submit(p, *rec)
		}
	})
}

// alterPartition proposes one AlterPartition and hands its outcome to the
// partition.
func (m *Manager) alterPartition(ctx context.Context, r alterRequest) {
	ctx, cancel := context.WithTimeout(ctx, alterPartitionTimeout)
	defer cancel()
	r.rec.BrokerEpoch = m.brokerEpoch()
	var got metadata.Partition
	err := fmt.Errorf("%w: no AlterPartition is configured", kerr.InvalidRequest)
	if m.alter != nil {
		got, err = m.alter(ctx, r.rec)
	}
	name := TP{r.p.Topic, r.p.Index}.dirName()
	if err != nil {
		m.logger.Warn("ISR change refused; the next metadata image decides", "partition", name, "isr", r.rec.ISR, "err", err)
	} else {
		m.logger.Info("ISR changed", "partition", name, "isr", got.ISR, "partitionEpoch", got.PartitionEpoch)
	}
	r.p.completeAlter(r.rec, got, err, time.Now())
}
