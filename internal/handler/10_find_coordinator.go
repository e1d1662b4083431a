package handler

// FindCoordinator, key 10, versions 0-4 (v4 batches keys). A group's
// coordinator is the leader of its __consumer_offsets partition, as in
// Kafka; the topic is created on the first lookup. Key type 1
// (transactions) is answered with INVALID_REQUEST until transactions exist.

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/metadata"
)

// SetGroups attaches the group coordinator. The broker starts it after the
// partitions are open (it replays the offsets topic), so after New.
func (h *Handler) SetGroups(c *group.Coordinator) { h.b.Groups = c }

// CreateInternalTopic creates a topic the broker itself writes, such as
// the offsets topic, with replication factor 1 on this single node.
func (h *Handler) CreateInternalTopic(name string, partitions int32, configs map[string]string) error {
	spec, err := h.checkTopic(name, partitions, 1, configs)
	if err != nil {
		return err
	}
	ctx, cancel := changeContext()
	defer cancel()
	if _, err := h.createTopic(ctx, spec); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return err
	}
	return nil
}

func (h *Handler) findCoordinator(r *kmsg.FindCoordinatorRequest) *kmsg.FindCoordinatorResponse {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if r.Version >= 4 {
		for _, key := range r.CoordinatorKeys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			c.NodeID, c.Host, c.Port, c.ErrorCode, c.ErrorMessage = h.coordinatorFor(key, r.CoordinatorType)
			resp.Coordinators = append(resp.Coordinators, c)
		}
		return resp
	}
	resp.NodeID, resp.Host, resp.Port, resp.ErrorCode, resp.ErrorMessage = h.coordinatorFor(r.CoordinatorKey, r.CoordinatorType)
	return resp
}

// coordinatorFor answers one key: this broker for groups, an error for
// transactional ids (no transaction coordinator yet) and unknown types.
func (h *Handler) coordinatorFor(key string, keyType int8) (int32, string, int32, int16, *string) {
	var err error
	switch keyType {
	case 0:
		var id int32
		var e metadata.Endpoint
		if id, e, err = h.groupCoordinator(key); err == nil {
			return id, e.Host, e.Port, 0, nil
		}
	case 1:
		err = fmt.Errorf("%w: transactions are not supported yet; no transaction coordinator for %q", kerr.InvalidRequest, key)
	default:
		err = fmt.Errorf("%w: unknown coordinator key type %d", kerr.InvalidRequest, keyType)
	}
	return -1, "", -1, errorCode(err), errorMessage(err)
}

// groupCoordinator returns the broker coordinating a group: the leader of
// its offsets partition, creating the offsets topic if it is missing.
func (h *Handler) groupCoordinator(groupID string) (int32, metadata.Endpoint, error) {
	t, ok := h.b.Meta.Image().Topics[group.OffsetsTopic]
	if !ok {
		n := int32(h.b.Config.Int("offsets.topic.num.partitions"))
		if err := h.CreateInternalTopic(group.OffsetsTopic, n, group.OffsetsTopicConfigs()); err != nil {
			return -1, metadata.Endpoint{}, fmt.Errorf("%w: cannot create %s: %w", kerr.CoordinatorNotAvailable, group.OffsetsTopic, err)
		}
		if t, ok = h.b.Meta.Image().Topics[group.OffsetsTopic]; !ok {
			return -1, metadata.Endpoint{}, fmt.Errorf("%w: %s was deleted", kerr.CoordinatorNotAvailable, group.OffsetsTopic)
		}
	}
	leader := t.Leader(group.PartitionFor(groupID, t.Partitions))
	e, ok := h.b.Meta.Image().Endpoint(leader, "")
	if !ok {
		return -1, metadata.Endpoint{}, fmt.Errorf("%w: the partition of group %q has no live leader", kerr.CoordinatorNotAvailable, groupID)
	}
	return leader, e, nil
}

// OwnsGroup reports whether this broker coordinates groupID: it leads the
// group's offsets partition, or the offsets topic does not exist yet (the
// coordinator creates it on its first write).
func (h *Handler) OwnsGroup(groupID string) bool {
	t, ok := h.b.Meta.Image().Topics[group.OffsetsTopic]
	return !ok || t.Leader(group.PartitionFor(groupID, t.Partitions)) == h.b.NodeID
}
