package handler

// OffsetFetch, key 9, versions 0-8 (v8 fetches several groups at once). A
// partition without a commit answers offset -1 and no error, as Kafka
// does; null topics (v2+) ask for every committed offset. RequireStable
// (v7+) has nothing to wait for until transactions exist.
//
// Not implemented: v9+ (KIP-848 member epochs).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) offsetFetch(who protocol.Principal, r *kmsg.OffsetFetchRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		if r.Version >= 8 {
			for _, rg := range r.Groups {
				resp.Groups = append(resp.Groups, h.offsetFetchGroup(ctx, who, rg))
			}
			return resp
		}
		topics := r.Topics
		if r.Version < 2 && topics == nil {
			topics = []kmsg.OffsetFetchRequestTopic{}
		}
		offsets, code := h.fetchOffsets(ctx, who, r.Group, topics)
		if r.Version >= 2 {
			resp.ErrorCode = code
		} else if code != 0 {
			offsets = fetchErrors(topics)
		}
		for _, to := range offsets {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = to.Topic
			for _, po := range to.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.Offset, sp.LeaderEpoch = po.Partition, po.Offset, po.LeaderEpoch
				md := po.Metadata
				sp.Metadata = &md
				if r.Version < 2 {
					sp.ErrorCode = code
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}}
}

// fetchErrors lists the requested partitions, for answers that carry the
// group's error in every partition (v0-1).
func fetchErrors(topics []kmsg.OffsetFetchRequestTopic) []group.TopicOffsets {
	var out []group.TopicOffsets
	for _, t := range topics {
		to := group.TopicOffsets{Topic: t.Topic}
		for _, p := range t.Partitions {
			to.Partitions = append(to.Partitions, group.PartitionOffset{Partition: p, Offset: -1, LeaderEpoch: -1})
		}
		out = append(out, to)
	}
	return out
}

// fetchOffsets returns a group's committed offsets if who may DESCRIBE
// the group.
func (h *Handler) fetchOffsets(ctx context.Context, who protocol.Principal, groupID string, topics []kmsg.OffsetFetchRequestTopic) ([]group.TopicOffsets, int16) {
	if !h.allowedGroup(ctx, who, kmsg.ACLOperationDescribe, groupID) {
		return nil, kerr.GroupAuthorizationFailed.Code
	}
	return h.b.Groups.FetchOffsets(ctx, groupID, topics)
}

func (h *Handler) offsetFetchGroup(ctx context.Context, who protocol.Principal, rg kmsg.OffsetFetchRequestGroup) kmsg.OffsetFetchResponseGroup {
	g := kmsg.NewOffsetFetchResponseGroup()
	g.Group = rg.Group
	var topics []kmsg.OffsetFetchRequestTopic
	if rg.Topics != nil {
		topics = make([]kmsg.OffsetFetchRequestTopic, 0, len(rg.Topics))
		for _, t := range rg.Topics {
			topics = append(topics, kmsg.OffsetFetchRequestTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	offsets, code := h.fetchOffsets(ctx, who, rg.Group, topics)
	g.ErrorCode = code
	for _, to := range offsets {
		st := kmsg.NewOffsetFetchResponseGroupTopic()
		st.Topic = to.Topic
		for _, po := range to.Partitions {
			sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			sp.Partition, sp.Offset, sp.LeaderEpoch = po.Partition, po.Offset, po.LeaderEpoch
			md := po.Metadata
			sp.Metadata = &md
			st.Partitions = append(st.Partitions, sp)
		}
		g.Topics = append(g.Topics, st)
	}
	return g
}
