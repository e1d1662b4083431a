package handler

// OffsetDelete, key 47, version 0: deletes committed offsets of partitions
// the group's members do not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC
// otherwise). The principal needs DELETE on the group
// (GROUP_AUTHORIZATION_FAILED for the whole request) and READ on each
// topic: a topic it may not read is TOPIC_AUTHORIZATION_FAILED in each
// partition and never reaches the coordinator, as Kafka's
// handleOffsetDeleteRequest answers.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) offsetDelete(who protocol.Principal, r *kmsg.OffsetDeleteRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		if !h.allowedGroup(ctx, who, kmsg.ACLOperationDelete, r.Group) {
			resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return resp
		}
		allowed := *r
		allowed.Topics = nil
		var denied []kmsg.OffsetDeleteResponseTopic
		for _, rt := range r.Topics {
			if h.allowedTopic(ctx, who, kmsg.ACLOperationRead, rt.Topic) {
				allowed.Topics = append(allowed.Topics, rt)
				continue
			}
			st := kmsg.NewOffsetDeleteResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetDeleteResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			denied = append(denied, st)
		}
		resp := h.b.Groups.DeleteOffsets(ctx, &allowed)
		if resp.ErrorCode == 0 { // a group error answers alone, as in Kafka
			resp.Topics = append(resp.Topics, denied...)
		}
		return resp
	}}
}
