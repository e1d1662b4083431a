package handler

// ListOffsets, key 2, versions 1-8: earliest (-2), latest (-1), max
// timestamp (-3, KIP-734), earliest local (-4, the same as earliest without
// tiered storage) and by timestamp. The client's current leader epoch is
// checked from v4 on (KIP-320), and from v4 the answer carries the leader
// epoch of the offset found, as Kafka's UnifiedLog.fetchOffsetByTimestamp
// and Partition.fetchOffsetForTimestamp give it: latest, the partition's
// current leader epoch; earliest, the leader epoch cache's first epoch if
// it covers the log start; max timestamp and by timestamp, the epoch of
// the batch found; -1 when unknown or nothing was found. A topic the
// principal may not DESCRIBE is TOPIC_AUTHORIZATION_FAILED in each of its
// partitions, whether it exists or not, as Kafka answers.
//
// Not implemented: v0's multiple-offsets form; latest tiered (-5, v9).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

const (
	timestampLatest        = -1
	timestampEarliest      = -2
	timestampMax           = -3
	timestampEarliestLocal = -4
)

func (h *Handler) listOffsets(ctx context.Context, who protocol.Principal, req *kmsg.ListOffsetsRequest) *kmsg.ListOffsetsResponse {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	im := h.b.Meta.Image()
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		_, known := im.Topics[rt.Topic]
		allowed := h.allowedTopic(ctx, who, kmsg.ACLOperationDescribe, rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			var err error
			switch {
			case !allowed:
				err = kerr.TopicAuthorizationFailed
			case !known:
				err = kerr.UnknownTopicOrPartition
			default:
				err = h.listOffset(rt.Topic, rp, &sp, req.Version)
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
				sp.Offset, sp.Timestamp = -1, -1
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// listOffset answers one partition. From v4 on the client's current leader
// epoch is checked (KIP-320).
func (h *Handler) listOffset(topic string, rp kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition, version int16) error {
	p, err := h.b.Replicas.Leader(topic, rp.Partition)
	if err != nil {
		return err
	}
	if version >= 4 {
		if err := p.CheckLeaderEpoch(rp.CurrentLeaderEpoch); err != nil {
			return err
		}
	}
	sp.Timestamp, sp.LeaderEpoch = -1, -1
	switch ts := rp.Timestamp; {
	case ts == timestampLatest:
		// Without transactions the last stable offset is the high
		// watermark, for both isolation levels.
		sp.Offset, sp.LeaderEpoch = p.HighWatermark(), p.LeaderEpoch()
	case ts == timestampEarliest || ts == timestampEarliestLocal && version >= 8:
		sp.Offset, sp.LeaderEpoch = p.LogStartOffset(), p.EarliestEpoch()
	case ts == timestampMax && version >= 7:
		off, t, found, err := p.MaxTimestamp()
		if err != nil {
			return err
		}
		sp.Offset = -1
		if found {
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, t, p.EpochForOffset(off)
		}
	case ts < 0:
		return kerr.InvalidRequest
	default:
		off, t, found, err := p.OffsetForTimestamp(ts)
		if err != nil {
			return err
		}
		sp.Offset = -1
		if found {
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, t, p.EpochForOffset(off)
		}
	}
	return nil
}
