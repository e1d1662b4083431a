package handler

// ListGroups, key 16, versions 0-5: a state filter (v4+) and a type
// filter (v5+; every group here is "classic").

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handler) listGroups(r *kmsg.ListGroupsRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.ListGroupsResponse)
		resp.Groups = []kmsg.ListGroupsResponseGroup{}
		if len(r.TypesFilter) > 0 && !slices.ContainsFunc(r.TypesFilter, func(t string) bool { return strings.EqualFold(t, "classic") }) {
			return resp
		}
		groups, code := h.b.Groups.ListGroups(ctx, r.StatesFilter)
		resp.ErrorCode = code
		if groups != nil {
			resp.Groups = groups
		}
		return resp
	}}
}
