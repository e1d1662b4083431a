package handler

// InitProducerId, key 22, versions 0-4, for idempotent producers: every
// call gets a fresh producer id at epoch 0, as Kafka does for a producer
// without a transactional id (a v3+ request's old id and epoch are not
// needed: sequence state lives per partition under the new id). The
// principal needs IDEMPOTENT_WRITE on the cluster or WRITE on a topic
// (mayWriteIdempotently), else CLUSTER_AUTHORIZATION_FAILED, as Kafka.
//
// Not implemented: transactional ids (transactions issue); they are
// refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients do not
// retry, without asking the hook about WRITE on the id as Kafka does: the
// answer would not change.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) initProducerID(ctx context.Context, who protocol.Principal, req *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
	}
	if !h.mayWriteIdempotently(ctx, who) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp
	}
	id, err := h.b.ProducerIDs.Next()
	if err != nil {
		h.b.Logger.Error("allocate producer id", "err", err)
		resp.ErrorCode = kerr.KafkaStorageError.Code
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}
