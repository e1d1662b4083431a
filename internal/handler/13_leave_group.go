package handler

// LeaveGroup, key 13, versions 0-5: one member by id (v0-2) or a batch of
// members by id or group.instance.id (v3+).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) leaveGroup(who protocol.Principal, r *kmsg.LeaveGroupRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
		if !h.allowedGroup(ctx, who, kmsg.ACLOperationRead, r.Group) {
			resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
			return resp
		}
		members := r.Members
		if r.Version < 3 {
			m := kmsg.NewLeaveGroupRequestMember()
			m.MemberID = r.MemberID
			members = []kmsg.LeaveGroupRequestMember{m}
		}
		codes, code := h.b.Groups.LeaveGroup(ctx, r.Group, members)
		if code != 0 {
			resp.ErrorCode = code
			return resp
		}
		if r.Version < 3 {
			resp.ErrorCode = codes[0]
			return resp
		}
		for i, m := range members {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, codes[i]
			resp.Members = append(resp.Members, rm)
		}
		return resp
	}}
}
