package handler

// OffsetDelete, key 47, version 0: deletes committed offsets of partitions
// the group's members do not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC
// otherwise).

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
		return h.b.Groups.DeleteOffsets(ctx, r)
	}}
}
