package handler

// Heartbeat, key 12, versions 0-4. REBALANCE_IN_PROGRESS tells a member to
// rejoin; an unknown group or member gets UNKNOWN_MEMBER_ID, as in Kafka.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) heartbeat(who protocol.Principal, r *kmsg.HeartbeatRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
		if !h.allowedGroup(ctx, who, kmsg.ACLOperationRead, r.Group) {
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return resp
		}
		resp.ErrorCode = h.b.Groups.Heartbeat(ctx, r)
		return resp
	}}
}
