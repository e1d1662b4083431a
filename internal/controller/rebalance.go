package controller

import (
	"context"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// Automatic leader rebalancing (auto.leader.rebalance.enable). A broker
// that stops hands its leaderships to other replicas, and when it comes
// back it rejoins the ISRs as a follower: without help, leadership piles
// up on the brokers that stayed. Every leader.imbalance.check.interval.seconds
// the active controller looks, as Kafka's controller does
// (KafkaController.checkAndTriggerAutoLeaderRebalance), at each broker's
// preferred partitions, those whose first replica it is: when more than
// leader.imbalance.per.broker.percentage of them are led by another
// broker, it proposes a preferred election for each of those whose
// preferred replica can lead (live and in the ISR). Apply decides each one
// again, so an election that the image made unnecessary in the meantime
// changes nothing.

// rebalancePerTickMax bounds the preferred elections one tick proposes, so
// a tick stays short in a cluster with many partitions; when it is
// reached, the next tick goes on rather than waiting a whole interval.
const rebalancePerTickMax = 100

// rebalanceDue reports whether the periodic leader balance check is due
// at now, and if so schedules the next one an interval later. A node that
// has just taken over waits one interval first (set in Tick), as brokers
// that came back with it are still catching up.
func (c *Controller) rebalanceDue(now time.Time) bool {
	if !c.rebalance.enabled {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Before(c.nextRebalance) {
		return false
	}
	c.nextRebalance = now.Add(c.rebalance.interval)
	return true
}

// rebalanceSoon makes the next tick run the balance check again: the last
// one stopped at rebalancePerTickMax with elections left to propose.
func (c *Controller) rebalanceSoon() {
	c.mu.Lock()
	c.nextRebalance = time.Time{}
	c.mu.Unlock()
}

// balanceLeaders runs one leader balance check on the current image and
// proposes the preferred elections it calls for, at most
// rebalancePerTickMax of them. It returns how many it proposed.
func (c *Controller) balanceLeaders(ctx context.Context) int {
	candidates := preferredElections(c.store.Image(), c.rebalance.percentage)
	more := len(candidates) > rebalancePerTickMax
	if more {
		candidates = candidates[:rebalancePerTickMax]
	}
	elected := 0
	for _, tp := range candidates {
		p, err := c.store.ElectLeaders(ctx, tp.topic.ID, tp.partition, false)
		if err != nil {
			// Apply refused it (the image moved on) or the quorum did not
			// answer: the next check looks again.
			c.store.Logger().Debug("preferred leader election", "topic", tp.topic.Name, "partition", tp.partition, "err", err)
			continue
		}
		elected++
		c.store.Logger().Info("moved leadership back to the preferred replica (auto.leader.rebalance.enable)",
			"topic", tp.topic.Name, "partition", tp.partition, "leader", p.Leader, "leaderEpoch", p.LeaderEpoch)
	}
	// Go on at the next tick only while elections succeed: a quorum that
	// refuses them all is not asked again before the next interval.
	if more && elected > 0 {
		c.rebalanceSoon()
	}
	return len(candidates)
}

// topicPartition names one partition of a topic of an image.
type topicPartition struct {
	topic     *metadata.Topic
	partition int32
}

// brokerBalance counts, for one broker, the partitions it is the preferred
// replica of and those among them that another broker leads (or nobody).
type brokerBalance struct {
	preferred int
	elsewhere []topicPartition // in topic name and partition order
}

// preferredElections returns the partitions a balance check of im elects
// their preferred replica for, in broker id, topic name and partition
// order: for each broker whose share of preferred partitions led
// elsewhere is above percentage, those of them whose preferred replica
// is live and in the ISR. It is a pure function of the image.
func preferredElections(im *metadata.Image, percentage int) []topicPartition {
	byBroker := map[int32]*brokerBalance{}
	for _, t := range im.SortedTopics() {
		for i, p := range t.Assignments {
			if len(p.Replicas) == 0 {
				continue
			}
			preferred := p.Replicas[0]
			bal := byBroker[preferred]
			if bal == nil {
				bal = &brokerBalance{}
				byBroker[preferred] = bal
			}
			bal.preferred++
			if p.Leader != preferred {
				bal.elsewhere = append(bal.elsewhere, topicPartition{topic: t, partition: int32(i)})
			}
		}
	}
	var out []topicPartition
	ids := make([]int32, 0, len(byBroker))
	for id := range byBroker {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		bal := byBroker[id]
		// Kafka compares the ratio elsewhere/preferred with
		// percentage/100; in integers, without rounding.
		if len(bal.elsewhere)*100 <= percentage*bal.preferred || !im.Live(id) {
			continue
		}
		for _, tp := range bal.elsewhere {
			if slices.Contains(tp.topic.Assignments[tp.partition].ISR, id) {
				out = append(out, tp)
			}
		}
	}
	return out
}
