package handler

// DeleteGroups, key 42, versions 0-2: empty groups are deleted with their
// committed offsets (tombstones in the offsets topic, fsynced before the
// answer); groups with members get NON_EMPTY_GROUP.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) deleteGroups(who protocol.Principal, r *kmsg.DeleteGroupsRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
		for _, id := range r.Groups {
			g := kmsg.NewDeleteGroupsResponseGroup()
			g.Group, g.ErrorCode = id, kerr.GroupAuthorizationFailed.Code
			if h.allowedGroup(ctx, who, kmsg.ACLOperationDelete, id) {
				g.ErrorCode = h.b.Groups.DeleteGroup(ctx, id)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}}
}
