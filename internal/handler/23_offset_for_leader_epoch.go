package handler

// OffsetForLeaderEpoch, key 23, versions 0-4: for each partition led
// here, the end offset of the requested leader epoch from the partition's
// leader epoch cache (replica.Partition.EndOffsetForEpoch). Consumers use
// it to check, after a leader change, that the log they read was not
// truncated (KIP-320); followers will use it to find where their log
// diverges (KIP-101, KIP-279). v1 adds the epoch to the answer, v2 the
// client's CurrentLeaderEpoch (checked as Fetch does) and throttling, v3
// ReplicaID, v4 flexible versions.
//
// As Kafka's ReplicaManager.lastOffsetForLeaderEpoch, every request is
// served from the leader whatever its ReplicaID, and answered from the
// log end offset; CLUSTER_ACTION on the cluster, or else DESCRIBE on the
// topic, is required (KafkaApis.handleOffsetForLeaderEpochRequest).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) offsetForLeaderEpoch(ctx context.Context, who protocol.Principal, req *kmsg.OffsetForLeaderEpochRequest) *kmsg.OffsetForLeaderEpochResponse {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	im := h.b.Meta.Image()
	cluster := h.allowed(ctx, who, kmsg.ACLOperationClusterAction, kmsg.ACLResourceTypeCluster, clusterResource)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		_, known := im.Topics[rt.Topic]
		allowed := cluster || h.allowedTopic(ctx, who, kmsg.ACLOperationDescribe, rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			var err error
			switch {
			case !allowed:
				err = kerr.TopicAuthorizationFailed
			case !known:
				err = kerr.UnknownTopicOrPartition
			default:
				sp.LeaderEpoch, sp.EndOffset, err = h.endOffsetForEpoch(rt.Topic, rp, req.Version)
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
				sp.LeaderEpoch, sp.EndOffset = -1, -1
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// endOffsetForEpoch answers one partition. The current leader epoch is
// checked from v2 on (KIP-320); before v2 the request has none.
func (h *Handler) endOffsetForEpoch(topic string, rp kmsg.OffsetForLeaderEpochRequestTopicPartition, version int16) (int32, int64, error) {
	p, err := h.b.Replicas.Leader(topic, rp.Partition)
	if err != nil {
		return -1, -1, err
	}
	if version >= 2 {
		if err := p.CheckLeaderEpoch(rp.CurrentLeaderEpoch); err != nil {
			return -1, -1, err
		}
	}
	epoch, end := p.EndOffsetForEpoch(rp.LeaderEpoch)
	return epoch, end, nil
}
