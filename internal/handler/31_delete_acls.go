package handler

// DeleteAcls, key 31, versions 1-3 (Kafka 4 removed v0): ALTER on the
// cluster deletes the ACL bindings each filter matches (acl.Filter) and
// answers them per filter; a binding several filters match is listed
// under each. The filters are resolved against this broker's image into
// binding ids, deleted in one record: a binding created after the image
// is not deleted, and a retry deletes what matches then.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/acl"
	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) deleteACLs(ctx context.Context, who protocol.Principal, req *kmsg.DeleteACLsRequest) *kmsg.DeleteACLsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	resp.Results = make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	denied := h.aclsDenied(ctx, who, kmsg.ACLOperationAlter)
	bindings := h.b.Meta.Image().SortedACLs()
	var ids []string
	seen := map[string]bool{}
	var matchedAt []int // filters that matched bindings
	for i, f := range req.Filters {
		r := &resp.Results[i]
		*r = kmsg.NewDeleteACLsResponseResult()
		filter := acl.Filter{ResourceType: f.ResourceType, ResourceName: f.ResourceName, PatternType: f.ResourcePatternType,
			Principal: f.Principal, Host: f.Host, Operation: f.Operation, Permission: f.PermissionType}
		err := denied
		if err == nil && filter.Unknown() {
			err = errUnknownFilter
		}
		if err != nil {
			r.ErrorCode, r.ErrorMessage = errorCode(err), errorMessage(err)
			continue
		}
		for _, b := range bindings {
			if !filter.Matches(b) {
				continue
			}
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = b.ResourceType, b.ResourceName, b.PatternType
			m.Principal, m.Host, m.Operation, m.PermissionType = b.Principal, b.Host, b.Operation, b.Permission
			r.MatchingACLs = append(r.MatchingACLs, m)
			if !seen[b.ID] {
				seen[b.ID] = true
				ids = append(ids, b.ID)
			}
		}
		if len(r.MatchingACLs) > 0 {
			matchedAt = append(matchedAt, i)
		}
	}
	if err := h.b.Meta.DeleteACLs(ctx, ids); err != nil {
		for _, i := range matchedAt {
			r := &resp.Results[i]
			r.ErrorCode, r.ErrorMessage, r.MatchingACLs = errorCode(err), errorMessage(err), nil
		}
	}
	return resp
}
