package handler

// SyncGroup, key 14, versions 0-5: the leader's assignments are relayed to
// the members once the group's metadata holding them is fsynced in the
// offsets topic (a failed write answers every member with the error and
// rebalances); v5 checks the protocol type and name. A member that joined
// but sends no SyncGroup within the rebalance timeout is removed.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) syncGroup(who protocol.Principal, r *kmsg.SyncGroupRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		if !h.allowedGroup(ctx, who, kmsg.ACLOperationRead, r.Group) {
			resp := kmsg.NewPtrSyncGroupResponse()
			resp.Version, resp.ErrorCode, resp.MemberAssignment = r.Version, kerr.GroupAuthorizationFailed.Code, []byte{}
			return resp
		}
		return h.b.Groups.SyncGroup(ctx, r)
	}}
}
