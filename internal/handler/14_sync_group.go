package handler

// SyncGroup, key 14, versions 0-5: the leader's assignments are relayed to
// the members; v5 checks the protocol type and name.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handler) syncGroup(r *kmsg.SyncGroupRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		return h.b.Groups.SyncGroup(ctx, r)
	}}
}
