package handler

// DescribeAcls, key 29, versions 1-3 (Kafka 4 removed v0): the ACL
// bindings a filter matches (acl.Filter), grouped by resource pattern,
// to a principal that may DESCRIBE the cluster. Without an authorizer
// (authorizer.class.name unset) Kafka answers SECURITY_DISABLED; so do we.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/acl"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// errSecurityDisabled answers the ACL APIs on a broker without an
// authorizer, with Kafka's message.
var errSecurityDisabled = fmt.Errorf("%w: No Authorizer is configured.", kerr.SecurityDisabled)

// aclsDenied says why the ACL APIs refuse who: no authorizer is
// configured, or who may not perform op (DESCRIBE to list, ALTER to
// change) on the cluster; nil when they serve it.
func (h *Handler) aclsDenied(ctx context.Context, who protocol.Principal, op kmsg.ACLOperation) error {
	switch {
	case h.b.Authorize == nil:
		return errSecurityDisabled
	case !h.allowedCluster(ctx, who, op):
		return errClusterDenied
	}
	return nil
}

// errUnknownFilter answers a filter naming an enum value Kafka does not
// know.
var errUnknownFilter = fmt.Errorf("%w: The filter must not contain UNKNOWN elements.", kerr.InvalidRequest)

func (h *Handler) describeACLs(ctx context.Context, who protocol.Principal, req *kmsg.DescribeACLsRequest) *kmsg.DescribeACLsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	filter := acl.Filter{ResourceType: req.ResourceType, ResourceName: req.ResourceName, PatternType: req.ResourcePatternType,
		Principal: req.Principal, Host: req.Host, Operation: req.Operation, Permission: req.PermissionType}
	err := h.aclsDenied(ctx, who, kmsg.ACLOperationDescribe)
	if err == nil && filter.Unknown() {
		err = errUnknownFilter
	}
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
		return resp
	}
	for _, b := range h.b.Meta.Image().SortedACLs() {
		if !filter.Matches(b) {
			continue
		}
		n := len(resp.Resources)
		if n == 0 || !samePattern(&resp.Resources[n-1], b) {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourceName, r.ResourcePatternType = b.ResourceType, b.ResourceName, b.PatternType
			resp.Resources = append(resp.Resources, r)
			n++
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host, a.Operation, a.PermissionType = b.Principal, b.Host, b.Operation, b.Permission
		resp.Resources[n-1].ACLs = append(resp.Resources[n-1].ACLs, a)
	}
	return resp
}

// samePattern reports whether binding b has resource r's pattern.
func samePattern(r *kmsg.DescribeACLsResponseResource, b *metadata.ACL) bool {
	return r.ResourceType == b.ResourceType && r.ResourceName == b.ResourceName && r.ResourcePatternType == b.PatternType
}
