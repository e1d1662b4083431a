package handler

// ListGroups, key 16, versions 0-5: a state filter (v4+) and a type
// filter (v5+; every group here is "classic").

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) listGroups(who protocol.Principal, r *kmsg.ListGroupsRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
		resp.Groups = []kmsg.ListGroupsResponseGroup{}
		if len(r.TypesFilter) > 0 && !slices.ContainsFunc(r.TypesFilter, func(t string) bool { return strings.EqualFold(t, "classic") }) {
			return resp
		}
		groups, code := h.b.Groups.ListGroups(ctx, r.StatesFilter)
		resp.ErrorCode = code
		if !h.allowed(ctx, who, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeCluster, clusterResource) {
			groups = slices.DeleteFunc(groups, func(g kmsg.ListGroupsResponseGroup) bool {
				return !h.allowedGroup(ctx, who, kmsg.ACLOperationDescribe, g.Group)
			})
		}
		if groups != nil {
			resp.Groups = groups
		}
		return resp
	}}
}
