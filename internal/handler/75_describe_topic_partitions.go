package handler

// DescribeTopicPartitions, key 75, version 0: what kafka-topics --describe
// and Admin.describeTopics ask in Kafka 4 (KIP-966), answered as Kafka's
// DescribeTopicPartitionsRequestHandler and KRaftMetadataCache do:
//
//   - an empty topic list means every topic the principal may DESCRIBE;
//     named topics it may not are answered TOPIC_AUTHORIZATION_FAILED
//     (after the others, with no id), whether they exist or not;
//   - topics are answered by name, from the cursor's topic on, at most
//     max(min(max.request.partition.size.limit, ResponsePartitionLimit),
//     1) partitions in all, starting at the cursor's partition in its
//     topic; NextCursor names the first partition left out. A named list
//     must hold the cursor's topic, and the cursor's partition must not be
//     negative (INVALID_REQUEST for every named topic otherwise);
//   - a topic that does not exist is UNKNOWN_TOPIC_OR_PARTITION, or
//     INVALID_TOPIC_EXCEPTION when its name is not a valid one;
//   - each partition lists every replica and ISR member, the offline
//     replicas and the leader epoch; the leader is -1 unless it is live.
//     Sluice keeps no eligible leader replicas (KIP-966), so both ELR
//     lists are empty, as Kafka's are while eligible.leader.replicas.version
//     is 0;
//   - every answered topic but the refused ones carries the topic
//     operations the principal may perform (topicAuthorizedOperations).

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/topics"
)

// topicOperations are the operations ACLs grant on a topic, as Kafka's
// AclEntry.supportedOperations(TOPIC) lists them.
var topicOperations = []kmsg.ACLOperation{
	kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationCreate,
	kmsg.ACLOperationDescribe, kmsg.ACLOperationDelete, kmsg.ACLOperationAlter,
	kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs,
}

// topicAuthorizedOperations is the bit field (bit n for operation n) of
// the topic operations who may perform on topic (KIP-430).
func (h *Handler) topicAuthorizedOperations(ctx context.Context, who protocol.Principal, topic string) int32 {
	var ops int32
	for _, op := range topicOperations {
		if h.allowedTopic(ctx, who, op, topic) {
			ops |= 1 << op
		}
	}
	return ops
}

func (h *Handler) describeTopicPartitions(ctx context.Context, who protocol.Principal, req *kmsg.DescribeTopicPartitionsRequest) *kmsg.DescribeTopicPartitionsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	im := h.b.Meta.Image()
	names, err := describeTopicPartitionsNames(im, req)
	if err != nil {
		for _, rt := range req.Topics {
			st := kmsg.NewDescribeTopicPartitionsResponseTopic()
			st.Topic, st.ErrorCode = kmsg.StringPtr(rt.Topic), errorCode(err)
			st.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	all := len(req.Topics) == 0
	var authorized []string
	var refused []kmsg.DescribeTopicPartitionsResponseTopic
	for _, name := range names {
		switch {
		case h.allowedTopic(ctx, who, kmsg.ACLOperationDescribe, name):
			authorized = append(authorized, name)
		case !all:
			st := kmsg.NewDescribeTopicPartitionsResponseTopic()
			st.Topic, st.ErrorCode = kmsg.StringPtr(name), kerr.TopicAuthorizationFailed.Code
			st.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
			refused = append(refused, st)
		}
	}
	first := int32(0)
	if req.Cursor != nil {
		first = req.Cursor.Partition
	}
	limit := max(min(int32(h.b.Config.Int("max.request.partition.size.limit")), req.ResponsePartitionLimit), 1)
	h.describeTopicPartitionsPage(im, resp, authorized, req.Cursor, first, limit)
	for i := range resp.Topics {
		resp.Topics[i].AuthorizedOperations = h.topicAuthorizedOperations(ctx, who, *resp.Topics[i].Topic)
	}
	resp.Topics = append(resp.Topics, refused...)
	return resp
}

// describeTopicPartitionsNames returns the topics to answer, sorted, from
// the cursor's topic on: every topic of the image or the named ones, each
// once.
func describeTopicPartitionsNames(im *metadata.Image, req *kmsg.DescribeTopicPartitionsRequest) ([]string, error) {
	from := ""
	if req.Cursor != nil {
		if req.Cursor.Partition < 0 {
			return nil, fmt.Errorf("%w: the cursor's partition %d is negative", kerr.InvalidRequest, req.Cursor.Partition)
		}
		from = req.Cursor.Topic
	}
	var names []string
	if len(req.Topics) == 0 {
		for _, t := range im.SortedTopics() {
			if t.Name >= from {
				names = append(names, t.Name)
			}
		}
		return names, nil
	}
	for _, rt := range req.Topics {
		if rt.Topic >= from {
			names = append(names, rt.Topic)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if req.Cursor != nil && !slices.Contains(names, req.Cursor.Topic) {
		return nil, fmt.Errorf("%w: the topic list should contain the cursor topic %s", kerr.InvalidRequest, req.Cursor.Topic)
	}
	return names, nil
}

// describeTopicPartitionsPage answers the topics in order until limit
// partitions are answered, as KRaftMetadataCache.describeTopicResponse
// does: the cursor's topic starts at partition first; a topic cut short
// sets NextCursor to its first partition left out, and a topic reached
// with no room left sets it to that topic's partition 0. All-topics
// requests leave out topics that vanished since they were listed.
func (h *Handler) describeTopicPartitionsPage(im *metadata.Image, resp *kmsg.DescribeTopicPartitionsResponse, names []string, cursor *kmsg.DescribeTopicPartitionsRequestCursor, first, limit int32) {
	remaining := limit
	for _, name := range names {
		if remaining == 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name}
			return
		}
		st := kmsg.NewDescribeTopicPartitionsResponseTopic()
		st.Topic, st.IsInternal = kmsg.StringPtr(name), group.IsInternalTopic(name)
		st.Partitions = []kmsg.DescribeTopicPartitionsResponseTopicPartition{}
		t, ok := im.Topics[name]
		if !ok {
			st.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if topics.ValidName(name) != nil {
				st.ErrorCode = kerr.InvalidTopicException.Code
			}
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.TopicID = t.ID
		start := int32(0)
		if cursor != nil && name == cursor.Topic {
			start = first
		}
		end := min(int32(len(t.Assignments)), start+remaining)
		for i := start; i < end; i++ {
			st.Partitions = append(st.Partitions, describedPartition(im, i, t.Assignments[i]))
		}
		resp.Topics = append(resp.Topics, st)
		if end < int32(len(t.Assignments)) {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: end}
			return
		}
		remaining -= max(end-start, 0)
	}
}

// describedPartition answers one partition of the image.
func describedPartition(im *metadata.Image, index int32, a metadata.Partition) kmsg.DescribeTopicPartitionsResponseTopicPartition {
	sp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
	sp.Partition, sp.LeaderID, sp.LeaderEpoch = index, a.Leader, a.LeaderEpoch
	if a.Leader == metadata.NoLeader || !im.Live(a.Leader) {
		sp.LeaderID = metadata.NoLeader
	}
	sp.Replicas, sp.ISR = slices.Clone(a.Replicas), slices.Clone(a.ISR)
	sp.OfflineReplicas = offlineReplicas(im, a.Replicas)
	sp.EligibleLeaderReplicas, sp.LastKnownELR = []int32{}, []int32{}
	return sp
}
