package handler

// OffsetFetch, key 9, versions 0-8 (v8 fetches several groups at once). A
// partition without a commit answers offset -1 and no error, as Kafka
// does; null topics (v2+) ask for every committed offset. RequireStable
// (v7+) has nothing to wait for until transactions exist.
//
// The principal needs DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED),
// and sees only topics it may DESCRIBE: a named topic it may not is
// answered TOPIC_AUTHORIZATION_FAILED in each partition without asking
// the coordinator, and an all-topics fetch leaves such topics out, as
// Kafka's handleOffsetFetchRequestFromCoordinator does.
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
			offsets = fetchErrors(topics, code)
		}
		for _, to := range offsets {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = to.Topic
			for _, po := range to.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.Offset, sp.LeaderEpoch = po.Partition, po.Offset, po.LeaderEpoch
				md := po.Metadata
				sp.Metadata, sp.ErrorCode = &md, po.ErrorCode
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}}
}

// fetchErrors answers the requested partitions with code: the group's
// error in every partition (v0-1), or a denied topic's.
func fetchErrors(topics []kmsg.OffsetFetchRequestTopic, code int16) []topicOffsets {
	var out []topicOffsets
	for _, t := range topics {
		to := topicOffsets{Topic: t.Topic}
		for _, p := range t.Partitions {
			to.Partitions = append(to.Partitions, partitionOffset{
				PartitionOffset: group.PartitionOffset{Partition: p, Offset: -1, LeaderEpoch: -1},
				ErrorCode:       code,
			})
		}
		out = append(out, to)
	}
	return out
}

// topicOffsets and partitionOffset are the coordinator's answer with a
// code for each partition, which only authorization sets.
type (
	topicOffsets struct {
		Topic      string
		Partitions []partitionOffset
	}
	partitionOffset struct {
		group.PartitionOffset
		ErrorCode int16
	}
)

// fetchOffsets returns a group's committed offsets if who may DESCRIBE
// the group, for the topics who may DESCRIBE. Named topics it may not
// are answered TOPIC_AUTHORIZATION_FAILED after the others, as Kafka
// answers them; with topics nil (every committed offset) they are left
// out. A group error answers alone.
func (h *Handler) fetchOffsets(ctx context.Context, who protocol.Principal, groupID string, topics []kmsg.OffsetFetchRequestTopic) ([]topicOffsets, int16) {
	if !h.allowedGroup(ctx, who, kmsg.ACLOperationDescribe, groupID) {
		return nil, kerr.GroupAuthorizationFailed.Code
	}
	describable := func(topic string) bool { return h.allowedTopic(ctx, who, kmsg.ACLOperationDescribe, topic) }
	var denied []kmsg.OffsetFetchRequestTopic
	if topics != nil {
		allowed := make([]kmsg.OffsetFetchRequestTopic, 0, len(topics)) // not nil: nil asks for every topic
		for _, t := range topics {
			if describable(t.Topic) {
				allowed = append(allowed, t)
			} else {
				denied = append(denied, t)
			}
		}
		topics = allowed
	}
	offsets, code := h.b.Groups.FetchOffsets(ctx, groupID, topics)
	if code != 0 {
		return nil, code
	}
	out := make([]topicOffsets, 0, len(offsets)+len(denied))
	for _, to := range offsets {
		if topics == nil && !describable(to.Topic) {
			continue
		}
		t := topicOffsets{Topic: to.Topic, Partitions: make([]partitionOffset, 0, len(to.Partitions))}
		for _, po := range to.Partitions {
			t.Partitions = append(t.Partitions, partitionOffset{PartitionOffset: po})
		}
		out = append(out, t)
	}
	return append(out, fetchErrors(denied, kerr.TopicAuthorizationFailed.Code)...), 0
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
			sp.Metadata, sp.ErrorCode = &md, po.ErrorCode
			st.Partitions = append(st.Partitions, sp)
		}
		g.Topics = append(g.Topics, st)
	}
	return g
}
