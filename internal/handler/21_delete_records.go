package handler

// DeleteRecords, key 21, versions 0-2: moves a partition's log start
// offset up to the given offset (-1: the high watermark), so fetches below
// it get OFFSET_OUT_OF_RANGE and ListOffsets earliest reports it; whole
// segments below it are deleted. The new log start offsets are
// checkpointed before the answer, so they survive a crash. A topic the
// principal may not DELETE is TOPIC_AUTHORIZATION_FAILED in each of its
// partitions, whether it exists or not, as Kafka answers.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) deleteRecords(ctx context.Context, who protocol.Principal, req *kmsg.DeleteRecordsRequest) *kmsg.DeleteRecordsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	im := h.b.Meta.Image()
	moved := false
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		_, known := im.Topics[rt.Topic]
		allowed := h.allowedTopic(ctx, who, kmsg.ACLOperationDelete, rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition, sp.LowWatermark = rp.Partition, -1
			p, err := h.b.Replicas.Leader(rt.Topic, rp.Partition)
			switch {
			case !allowed:
				err = kerr.TopicAuthorizationFailed
			case !known:
				err = kerr.UnknownTopicOrPartition
			}
			if err != nil {
				sp.ErrorCode = errorCode(err)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			low, err := p.DeleteRecordsBefore(rp.Offset)
			if err != nil {
				sp.ErrorCode = errorCode(err) // OFFSET_OUT_OF_RANGE past the high watermark
			} else {
				sp.LowWatermark, moved = low, true
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if moved {
		if err := h.b.Replicas.Checkpoint(); err != nil {
			h.b.Logger.Error("checkpoint after DeleteRecords", "err", err)
			for i := range resp.Topics {
				for j := range resp.Topics[i].Partitions {
					if sp := &resp.Topics[i].Partitions[j]; sp.ErrorCode == 0 {
						sp.ErrorCode, sp.LowWatermark = kerr.KafkaStorageError.Code, -1
					}
				}
			}
		}
	}
	return resp
}
