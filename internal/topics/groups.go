package topics

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/metadata"
)

// GroupCoordinator returns the broker coordinating a group: the leader of
// its offsets partition, as in Kafka, creating the offsets topic if it is
// missing.
func (r *Registry) GroupCoordinator(groupID string) (int32, metadata.Endpoint, error) {
	t, ok := r.cfg.Meta.Image().Topics[group.OffsetsTopic]
	if !ok {
		n := int32(r.cfg.Broker.Int("offsets.topic.num.partitions"))
		if err := r.CreateInternalTopic(group.OffsetsTopic, n, group.OffsetsTopicConfigs()); err != nil {
			return -1, metadata.Endpoint{}, fmt.Errorf("%w: cannot create %s: %w", kerr.CoordinatorNotAvailable, group.OffsetsTopic, err)
		}
		if t, ok = r.cfg.Meta.Image().Topics[group.OffsetsTopic]; !ok {
			return -1, metadata.Endpoint{}, fmt.Errorf("%w: %s was deleted", kerr.CoordinatorNotAvailable, group.OffsetsTopic)
		}
	}
	leader := t.Leader(group.PartitionFor(groupID, t.Partitions))
	e, ok := r.cfg.Meta.Image().Endpoint(leader, "")
	if !ok {
		return -1, metadata.Endpoint{}, fmt.Errorf("%w: the partition of group %q has no live leader", kerr.CoordinatorNotAvailable, groupID)
	}
	return leader, e, nil
}

// LeadsOffsetsPartition reports whether this broker leads partition p
// of the offsets topic, and so coordinates its groups, or the offsets
// topic does not exist yet.
func (r *Registry) LeadsOffsetsPartition(p int32) bool {
	t, ok := r.cfg.Meta.Image().Topics[group.OffsetsTopic]
	return !ok || t.Leader(p) == r.cfg.NodeID
}

// OffsetsMinInsync is the offsets topic's min.insync.replicas (the
// broker's when the topic does not exist yet).
func (r *Registry) OffsetsMinInsync() int {
	if t, ok := r.cfg.Meta.Image().Topics[group.OffsetsTopic]; ok {
		return r.Settings(t).MinInsyncReplicas
	}
	return r.cfg.Broker.Int("min.insync.replicas")
}

// OwnsGroup reports whether this broker coordinates groupID: it leads the
// group's offsets partition, or the offsets topic does not exist yet (the
// coordinator creates it on its first write).
func (r *Registry) OwnsGroup(groupID string) bool {
	t, ok := r.cfg.Meta.Image().Topics[group.OffsetsTopic]
	return !ok || t.Leader(group.PartitionFor(groupID, t.Partitions)) == r.cfg.NodeID
}
