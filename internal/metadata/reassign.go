package metadata

// Partition reassignment, as Kafka's KRaft controller does it
// (ReplicationControlManager.alterPartitionReassignments,
// PartitionReassignmentReplicas, PartitionReassignmentRevert and
// PartitionChangeBuilder.completeReassignmentIfNeeded). The state lives in
// the partition itself (AddingReplicas, RemovingReplicas), so it is
// metadata-log state and survives a controller failover:
//
//	start   current [1 2], target [2 3]
//	        Replicas [2 3 1]  Adding [3]  Removing [1]   (target, then removing)
//	        3 opens the partition and fetches; the leader adds it to the ISR
//	        through AlterPartition once it caught up
//	finish  (in apply of that AlterPartition: every adding replica is in the ISR)
//	        Replicas [2 3]  ISR minus [1]  Adding [] Removing []
//	        a leader being removed hands leadership to the first live target
//	        replica in the ISR (leader epoch + 1)
//	cancel  Replicas minus Adding, ISR minus Adding
//
// Every change bumps the partition epoch.

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ReassignRecord starts a reassignment of one partition to Replicas, or
// cancels the one in progress when Replicas is null (as Kafka's
// AlterPartitionReassignments does with a null replica list). A new
// target replaces one in progress.
type ReassignRecord struct {
	TopicID   TopicID `json:"topicId"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"` // null: cancel
}

// Reassigning reports whether a reassignment of p is in progress.
func (p *Partition) Reassigning() bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// TargetReplicas returns the replicas p has once its reassignment
// completes: Replicas without the ones being removed.
func (p *Partition) TargetReplicas() []int32 {
	return without(p.Replicas, p.RemovingReplicas)
}

// reassign applies a ReassignRecord with Kafka's checks: the partition
// exists; a cancel needs a reassignment in progress
// (NO_REASSIGNMENT_IN_PROGRESS); a target is non-empty, names no broker
// twice and only registered brokers (INVALID_REPLICA_ASSIGNMENT). A
// target whose added replicas are already in the ISR (only removals, or a
// reordering) completes at once. A record that changes nothing leaves the
// partition epoch alone.
func (im *Image) reassign(r *ReassignRecord) Result {
	t, err := im.partition(r.TopicID, r.Partition)
	if err != nil {
		return Result{Err: err}
	}
	p := t.Assignments[r.Partition]
	where := fmt.Sprintf("%s-%d", t.Name, r.Partition)
	var np Partition
	if r.Replicas == nil {
		if !p.Reassigning() {
			return Result{Err: fmt.Errorf("%w: no reassignment of %s is in progress", kerr.NoReassignmentInProgress, where)}
		}
		np = im.revertReassignment(p)
	} else {
		if err := im.checkTarget(r.Replicas); err != nil {
			return Result{Err: fmt.Errorf("%w: %s: %s", kerr.InvalidReplicaAssignment, where, err)}
		}
		np = startReassignment(p, r.Replicas)
		np = im.completeReassignment(np)
	}
	if sameAssignment(np, p) {
		return Result{Topic: t, Partition: &p}
	}
	np.PartitionEpoch++
	nt := im.withPartition(t, r.Partition, np)
	return Result{Topic: nt, Partition: &nt.Assignments[r.Partition]}
}

// checkTarget says what is wrong with a target replica list, as Kafka's
// validateManualPartitionAssignment does.
func (im *Image) checkTarget(target []int32) error {
	if len(target) == 0 {
		return fmt.Errorf("the target replica list is empty")
	}
	for i, id := range target {
		if slices.Contains(target[:i], id) {
			return fmt.Errorf("the target replica list %v names broker %d twice", target, id)
		}
		if _, ok := im.Brokers[id]; !ok {
			return fmt.Errorf("the target replica list %v names broker %d, which is not registered", target, id)
		}
	}
	return nil
}

// startReassignment returns p reassigned to target, as Kafka's
// PartitionReassignmentReplicas computes it from the current replicas
// (which hold the adding replicas of a reassignment being replaced):
// removing = current − target, adding = target − current, replicas =
// target followed by removing. The ISR and the leader do not change.
func startReassignment(p Partition, target []int32) Partition {
	current := p.Replicas
	removing := without(current, target)
	p.AddingReplicas = without(target, current)
	p.RemovingReplicas = removing
	p.Replicas = append(slices.Clone(target), removing...)
	return p
}

// completeReassignment finishes p's reassignment if every adding replica
// is in the ISR and the ISR keeps a member once the removed replicas
// leave it (Kafka's maybeCompleteReassignment): replicas become the
// target, the removed replicas leave the ISR, and a leader that left
// hands leadership to the first live ISR member in target order (leader
// epoch + 1; NoLeader if none is live). p is returned unchanged
// otherwise. The caller bumps the partition epoch.
func (im *Image) completeReassignment(p Partition) Partition {
	if !p.Reassigning() {
		return p
	}
	for _, id := range p.AddingReplicas {
		if !slices.Contains(p.ISR, id) {
			return p
		}
	}
	isr := without(p.ISR, p.RemovingReplicas)
	if len(isr) == 0 {
		return p
	}
	p.Replicas = p.TargetReplicas()
	p.ISR = inReplicaOrder(p.Replicas, isr)
	p.AddingReplicas, p.RemovingReplicas = nil, nil
	return im.keepLeaderInISR(p)
}

// revertReassignment cancels p's reassignment as Kafka's
// PartitionReassignmentRevert does: the adding replicas leave the
// replicas and the ISR; the removing replicas stay. Should the ISR hold
// only adding replicas, it becomes the remaining replicas (Kafka's
// unclean revert, which practically never happens: a replica joins the
// ISR only while the leader, an original replica, is in it).
func (im *Image) revertReassignment(p Partition) Partition {
	p.Replicas = without(p.Replicas, p.AddingReplicas)
	isr := without(p.ISR, p.AddingReplicas)
	if len(isr) == 0 {
		isr = slices.Clone(p.Replicas)
	}
	p.ISR = inReplicaOrder(p.Replicas, isr)
	p.AddingReplicas, p.RemovingReplicas = nil, nil
	return im.keepLeaderInISR(p)
}

// keepLeaderInISR elects a new leader when p's leader is no longer an
// ISR member: the first live ISR member in replica order, NoLeader if
// none is live; a change bumps the leader epoch.
func (im *Image) keepLeaderInISR(p Partition) Partition {
	if p.Leader != NoLeader && slices.Contains(p.ISR, p.Leader) {
		return p
	}
	leader := firstLive(im, p.Replicas, p.ISR)
	if leader != p.Leader {
		p.Leader = leader
		p.LeaderEpoch++
	}
	return p
}

// without returns the members of list not in drop, in list's order, as a
// new slice (nil when none is left: images share slices, never modify
// one).
func without(list, drop []int32) []int32 {
	var out []int32
	for _, id := range list {
		if !slices.Contains(drop, id) {
			out = append(out, id)
		}
	}
	return out
}

// sameAssignment reports whether a and b hold the same assignment.
func sameAssignment(a, b Partition) bool {
	return slices.Equal(a.Replicas, b.Replicas) && slices.Equal(a.ISR, b.ISR) && a.Leader == b.Leader &&
		a.LeaderEpoch == b.LeaderEpoch && a.PartitionEpoch == b.PartitionEpoch &&
		slices.Equal(a.AddingReplicas, b.AddingReplicas) && slices.Equal(a.RemovingReplicas, b.RemovingReplicas)
}

// Reassignment is one partition's reassignment in progress, as
// ListPartitionReassignments reports it.
type Reassignment struct {
	Topic            string
	Partition        int32
	Replicas         []int32
	AddingReplicas   []int32
	RemovingReplicas []int32
}

// Reassignments returns every reassignment in progress, by topic name and
// partition.
func (im *Image) Reassignments() []Reassignment {
	var out []Reassignment
	for _, t := range im.SortedTopics() {
		for i, p := range t.Assignments {
			if p.Reassigning() {
				out = append(out, Reassignment{Topic: t.Name, Partition: int32(i), Replicas: slices.Clone(p.Replicas),
					AddingReplicas: slices.Clone(p.AddingReplicas), RemovingReplicas: slices.Clone(p.RemovingReplicas)})
			}
		}
	}
	return out
}

// Reassign starts a reassignment of one partition to replicas, or cancels
// the one in progress when replicas is nil, and returns the partition as
// apply left it (see ReassignRecord for the checks and their errors).
// The brokers then do the work: added replicas open the partition and
// fetch, the leader adds them to the ISR, and the AlterPartition that
// makes every added replica an ISR member completes the reassignment.
func (s *Store) Reassign(ctx context.Context, topicID TopicID, partition int32, replicas []int32) (Partition, error) {
	res, err := s.change(ctx, Record{Reassign: &ReassignRecord{TopicID: topicID, Partition: partition, Replicas: slices.Clone(replicas)}})
	if err != nil {
		return Partition{}, err
	}
	p := *res.Partition
	p.Replicas, p.ISR = slices.Clone(p.Replicas), slices.Clone(p.ISR) // the image's stay untouched
	p.AddingReplicas, p.RemovingReplicas = slices.Clone(p.AddingReplicas), slices.Clone(p.RemovingReplicas)
	return p, nil
}
