package metadata

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// alterPartition applies a leader's ISR change with Kafka's checks, in
// Kafka's order of importance: the partition exists; the proposer's broker
// epoch is its current registration; it is the partition's leader, in the
// current leader epoch, and saw the current partition epoch; the proposed
// ISR holds the leader, no duplicate and only replicas; every member it
// adds is live. An ISR equal to the current one changes nothing (the
// partition epoch stays), as Kafka's controller answers with the current
// state then.
func (im *Image) alterPartition(r *AlterPartitionRecord) Result {
	t, err := im.partition(r.TopicID, r.Partition)
	if err != nil {
		return Result{Err: err}
	}
	if b, ok := im.Brokers[r.Leader]; !ok || b.Epoch != r.BrokerEpoch {
		return Result{Err: fmt.Errorf("%w: broker %d epoch %d is not its current registration", kerr.StaleBrokerEpoch, r.Leader, r.BrokerEpoch)}
	}
	p := t.Assignments[r.Partition]
	where := fmt.Sprintf("%s-%d", t.Name, r.Partition)
	switch {
	case r.Leader != p.Leader:
		return Result{Err: fmt.Errorf("%w: broker %d does not lead %s (leader %d)", kerr.NotLeaderForPartition, r.Leader, where, p.Leader)}
	case r.LeaderEpoch != p.LeaderEpoch:
		return Result{Err: fmt.Errorf("%w: leader epoch %d of %s is not the current %d", kerr.FencedLeaderEpoch, r.LeaderEpoch, where, p.LeaderEpoch)}
	case r.PartitionEpoch != p.PartitionEpoch:
		return Result{Err: fmt.Errorf("%w: partition epoch %d of %s is not the current %d", kerr.InvalidUpdateVersion, r.PartitionEpoch, where, p.PartitionEpoch)}
	}
	if err := checkISR(r.ISR, p, r.Leader); err != nil {
		return Result{Err: fmt.Errorf("%w: %s: %s", kerr.InvalidRequest, where, err)}
	}
	for _, id := range r.ISR {
		if !slices.Contains(p.ISR, id) && !im.Live(id) {
			return Result{Err: fmt.Errorf("%w: broker %d cannot join the ISR of %s: it is fenced or not registered", kerr.IneligibleReplica, id, where)}
		}
	}
	isr := inReplicaOrder(p.Replicas, r.ISR)
	if slices.Equal(isr, p.ISR) {
		return Result{Partition: &p}
	}
	p.ISR = isr
	p = im.completeReassignment(p)
	p.PartitionEpoch++
	nt := im.withPartition(t, r.Partition, p)
	return Result{Topic: nt, Partition: &nt.Assignments[r.Partition]}
}

// partition finds a topic by id and checks that it has partition i.
func (im *Image) partition(id TopicID, i int32) (*Topic, error) {
	t, ok := im.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: no topic has id %s", kerr.UnknownTopicOrPartition, id)
	}
	if i < 0 || i >= t.Partitions {
		return nil, fmt.Errorf("%w: topic %q has no partition %d", kerr.UnknownTopicOrPartition, t.Name, i)
	}
	return t, nil
}

// electLeader applies an explicit election, with Kafka's answers: the
// preferred election (the first replica leads) is not needed where it
// already leads and impossible where it is not a live ISR member; the
// unclean election is not needed where the partition has a leader, takes
// the first live ISR member in replica order if any (a clean election),
// else the first live replica, which becomes the whole ISR.
func (im *Image) electLeader(r *ElectLeaderRecord) Result {
	t, err := im.partition(r.TopicID, r.Partition)
	if err != nil {
		return Result{Err: err}
	}
	p := t.Assignments[r.Partition]
	where := fmt.Sprintf("%s-%d", t.Name, r.Partition)
	unclean := false
	if !r.Unclean {
		preferred := p.Replicas[0]
		switch {
		case p.Leader == preferred:
			return Result{Err: fmt.Errorf("%w: the preferred replica %d already leads %s", kerr.ElectionNotNeeded, preferred, where)}
		case !slices.Contains(p.ISR, preferred) || !im.Live(preferred):
			return Result{Err: fmt.Errorf("%w: the preferred replica %d of %s is not a live ISR member", kerr.PreferredLeaderNotAvailable, preferred, where)}
		}
		p.Leader = preferred
	} else {
		if p.Leader != NoLeader {
			return Result{Err: fmt.Errorf("%w: %s has leader %d", kerr.ElectionNotNeeded, where, p.Leader)}
		}
		leader := firstLive(im, p.Replicas, p.ISR)
		if leader == NoLeader {
			leader = firstLive(im, p.Replicas, p.Replicas)
			if leader == NoLeader {
				return Result{Err: fmt.Errorf("%w: no replica of %s is live", kerr.EligibleLeadersNotAvailable, where)}
			}
			p.ISR, unclean = []int32{leader}, true
		}
		p.Leader = leader
	}
	p.LeaderEpoch++
	p.PartitionEpoch++
	nt := im.withPartition(t, r.Partition, p)
	return Result{Topic: nt, Partition: &nt.Assignments[r.Partition], Unclean: unclean}
}

// checkISR says what is wrong with a proposed ISR of p led by leader.
func checkISR(isr []int32, p Partition, leader int32) error {
	if !slices.Contains(isr, leader) {
		return fmt.Errorf("the proposed ISR %v leaves out the leader %d", isr, leader)
	}
	for i, id := range isr {
		if slices.Contains(isr[:i], id) {
			return fmt.Errorf("the proposed ISR %v names broker %d twice", isr, id)
		}
		if !slices.Contains(p.Replicas, id) {
			return fmt.Errorf("the proposed ISR %v names broker %d, not a replica of %v", isr, id, p.Replicas)
		}
	}
	return nil
}

// inReplicaOrder returns the members of set in the order of replicas; it
// keeps ISRs comparable and elections independent of who proposed them.
func inReplicaOrder(replicas, set []int32) []int32 {
	out := make([]int32, 0, len(set))
	for _, id := range replicas {
		if slices.Contains(set, id) {
			out = append(out, id)
		}
	}
	return out
}

// withPartition stores a copy of t whose partition i is p, and returns it.
func (im *Image) withPartition(t *Topic, i int32, p Partition) *Topic {
	nt := *t
	nt.Assignments = slices.Clone(t.Assignments)
	nt.Assignments[i] = p
	im.putTopic(&nt)
	return &nt
}
