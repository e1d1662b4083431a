package handler

// OffsetCommit, key 8, versions 0-8. Offsets are stored in the offsets
// topic with Kafka's record schemas and acknowledged once fsynced; only
// then does OffsetFetch see them, and a failed fsync drops them. A
// commit with generation -1 and no member id (and every v0 commit) is a
// commit outside group management, accepted while the group is empty.
//
// Not implemented: v9+ (KIP-848 member epochs); v2-v4 retention times are
// ignored, as Kafka 2.1+ ignores them (offsets.retention.minutes rules).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) offsetCommit(ctx context.Context, who protocol.Principal, r *kmsg.OffsetCommitRequest) Reply {
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	req := group.CommitRequest{Group: r.Group, Generation: r.Generation, MemberID: r.MemberID, InstanceID: r.InstanceID}
	if r.Version == 0 {
		req.Generation, req.MemberID = -1, ""
	}
	im := h.b.Meta.Image()
	groupAllowed := h.allowedGroup(ctx, who, kmsg.ACLOperationRead, r.Group)
	type slot struct{ topic, partition int }
	var accepted []slot
	for ti, rt := range r.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		t, known := im.Topics[rt.Topic]
		topicAllowed := groupAllowed && h.allowedTopic(ctx, who, kmsg.ACLOperationRead, rt.Topic)
		for pi, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			switch {
			case !groupAllowed:
				sp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			case !topicAllowed:
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case !known || rp.Partition < 0 || rp.Partition >= t.Partitions:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case group.ValidateCommit(rp.Metadata) != nil:
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			default:
				c := group.Commit{Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset, LeaderEpoch: -1}
				if r.Version >= 6 {
					c.LeaderEpoch = rp.LeaderEpoch
				}
				if rp.Metadata != nil {
					c.Metadata = *rp.Metadata
				}
				req.Commits = append(req.Commits, c)
				accepted = append(accepted, slot{ti, pi})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if !groupAllowed {
		return Reply{Msg: resp}
	}
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		code := h.b.Groups.CommitOffsets(ctx, req)
		if code == 0 {
			return resp
		}
		for _, s := range accepted {
			resp.Topics[s.topic].Partitions[s.partition].ErrorCode = code
		}
		return resp
	}}
}
