package handler

// Heartbeat, key 12, versions 0-4. REBALANCE_IN_PROGRESS tells a member to
// rejoin; an unknown group or member gets UNKNOWN_MEMBER_ID, as in Kafka.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handler) heartbeat(r *kmsg.HeartbeatRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = h.b.Groups.Heartbeat(ctx, r)
		return resp
	}}
}
