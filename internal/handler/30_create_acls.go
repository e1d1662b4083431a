package handler

// CreateAcls, key 30, versions 1-3 (Kafka 4 removed v0): ALTER on the
// cluster creates ACL bindings in the metadata log; each creation is
// validated as Kafka does (acl.Validate: INVALID_REQUEST), the valid ones
// are written in one record. A binding the cluster holds already is left
// as it is and reported created, as Kafka does.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/acl"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) createACLs(ctx context.Context, who protocol.Principal, req *kmsg.CreateACLsRequest) *kmsg.CreateACLsResponse {
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	resp.Results = make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	denied := h.aclsDenied(ctx, who, kmsg.ACLOperationAlter)
	var valid []metadata.ACL
	var validAt []int // valid[i] answers Creations[validAt[i]]
	for i, c := range req.Creations {
		resp.Results[i] = kmsg.NewCreateACLsResponseResult()
		b := metadata.ACL{ResourceType: c.ResourceType, ResourceName: c.ResourceName, PatternType: c.ResourcePatternType,
			Principal: c.Principal, Host: c.Host, Operation: c.Operation, Permission: c.PermissionType}
		err := denied
		if err == nil {
			err = acl.Validate(&b)
		}
		if err != nil {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errorCode(err), errorMessage(err)
			continue
		}
		valid, validAt = append(valid, b), append(validAt, i)
	}
	if len(valid) == 0 {
		return resp
	}
	if _, err := h.b.Meta.CreateACLs(ctx, valid); err != nil {
		for _, i := range validAt {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errorCode(err), errorMessage(err)
		}
	}
	return resp
}
