package handler

// FindCoordinator, key 10, versions 0-4 (v4 batches keys). A group's
// coordinator is the leader of its __consumer_offsets partition, as in
// Kafka; the topic is created on the first lookup (topics.Registry does
// both). Key type 1
// (transactions) is answered with INVALID_REQUEST until transactions exist.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) findCoordinator(ctx context.Context, who protocol.Principal, listener string, r *kmsg.FindCoordinatorRequest) *kmsg.FindCoordinatorResponse {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if r.Version >= 4 {
		for _, key := range r.CoordinatorKeys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			c.NodeID, c.Host, c.Port, c.ErrorCode, c.ErrorMessage = h.coordinatorFor(ctx, who, listener, key, r.CoordinatorType)
			resp.Coordinators = append(resp.Coordinators, c)
		}
		return resp
	}
	resp.NodeID, resp.Host, resp.Port, resp.ErrorCode, resp.ErrorMessage = h.coordinatorFor(ctx, who, listener, r.CoordinatorKey, r.CoordinatorType)
	return resp
}

// coordinatorFor answers one key: this broker for groups, an error for
// transactional ids (no transaction coordinator yet) and unknown types.
func (h *Handler) coordinatorFor(ctx context.Context, who protocol.Principal, listener, key string, keyType int8) (int32, string, int32, int16, *string) {
	var err error
	switch keyType {
	case 0:
		if !h.allowedGroup(ctx, who, kmsg.ACLOperationDescribe, key) {
			err = kerr.GroupAuthorizationFailed
			break
		}
		var id int32
		var e metadata.Endpoint
		if id, e, err = h.b.Topics.GroupCoordinator(key); err == nil {
			// The coordinator's address on the listener the client uses.
			if le, ok := h.b.Meta.Image().Endpoint(id, listener); ok && listener != "" {
				e = le
			}
			return id, e.Host, e.Port, 0, nil
		}
	case 1:
		err = fmt.Errorf("%w: transactions are not supported yet; no transaction coordinator for %q", kerr.InvalidRequest, key)
	default:
		err = fmt.Errorf("%w: unknown coordinator key type %d", kerr.InvalidRequest, keyType)
	}
	return -1, "", -1, errorCode(err), errorMessage(err)
}
