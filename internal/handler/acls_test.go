package handler

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/acl"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// answerFrom runs a request as who and waits for its response.
func answerFrom(h *Handler, who protocol.Principal, req kmsg.Request) kmsg.Response {
	ctx := context.Background()
	reply := h.Handle(ctx, &Request{Msg: req, ClientID: "test", Host: "127.0.0.1", Principal: who})
	if reply.Wait != nil {
		return reply.Wait(ctx)
	}
	return reply.Msg
}

// describeAll asks DescribeAcls for every binding.
func describeAll(h *Handler, who protocol.Principal) *kmsg.DescribeACLsResponse {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.SetVersion(3)
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	return answerFrom(h, who, req).(*kmsg.DescribeACLsResponse)
}

// TestACLAPIs: the three ACL APIs over the metadata log, with their
// authorization and validation, and the authorizer deciding by what they
// wrote.
func TestACLAPIs(t *testing.T) {
	h := protoHandler(t)
	admin := protocol.Principal{Type: "User", Name: "admin"}
	if resp := describeAll(h, admin); resp.ErrorCode != kerr.SecurityDisabled.Code {
		t.Fatalf("without an authorizer: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	h.b.Authorize = acl.New(acl.Config{SuperUsers: []string{"User:admin"}}, h.b.Meta.Image).Authorize
	ctx := context.Background()

	create := kmsg.NewPtrCreateACLsRequest()
	create.SetVersion(3)
	for _, principal := range []string{"User:alice", "alice"} {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "a-", kmsg.ACLResourcePatternTypePrefixed
		c.Principal, c.Host, c.Operation, c.PermissionType = principal, "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
		create.Creations = append(create.Creations, c)
	}
	if resp := answerFrom(h, alice, create).(*kmsg.CreateACLsResponse); resp.Results[0].ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alice creating: %v", kerr.ErrorForCode(resp.Results[0].ErrorCode))
	}
	resp := answerFrom(h, admin, create).(*kmsg.CreateACLsResponse)
	if resp.Results[0].ErrorCode != 0 || resp.Results[1].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("admin creating: %v, %v", kerr.ErrorForCode(resp.Results[0].ErrorCode), kerr.ErrorForCode(resp.Results[1].ErrorCode))
	}
	if !h.allowedTopic(ctx, alice, kmsg.ACLOperationRead, "a-topic") || h.allowedTopic(ctx, alice, kmsg.ACLOperationRead, "b-topic") {
		t.Fatal("the created binding does not decide as written")
	}

	if d := describeAll(h, alice); d.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alice describing: %v", kerr.ErrorForCode(d.ErrorCode))
	}
	d := describeAll(h, admin)
	if d.ErrorCode != 0 || len(d.Resources) != 1 || d.Resources[0].ResourceName != "a-" || len(d.Resources[0].ACLs) != 1 ||
		d.Resources[0].ACLs[0].Principal != "User:alice" {
		t.Fatalf("describe: %+v", d)
	}
	bad := kmsg.NewPtrDescribeACLsRequest()
	bad.SetVersion(3)
	if d := answerFrom(h, admin, bad).(*kmsg.DescribeACLsResponse); d.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("an UNKNOWN filter: %v", kerr.ErrorForCode(d.ErrorCode))
	}

	del := kmsg.NewPtrDeleteACLsRequest()
	del.SetVersion(3)
	f := kmsg.NewDeleteACLsRequestFilter()
	name := "a-topic"
	f.ResourceType, f.ResourceName, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, &name, kmsg.ACLResourcePatternTypeMatch
	f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	del.Filters = append(del.Filters, f)
	if r := answerFrom(h, alice, del).(*kmsg.DeleteACLsResponse); r.Results[0].ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alice deleting: %v", kerr.ErrorForCode(r.Results[0].ErrorCode))
	}
	r := answerFrom(h, admin, del).(*kmsg.DeleteACLsResponse)
	if r.Results[0].ErrorCode != 0 || len(r.Results[0].MatchingACLs) != 1 || r.Results[0].MatchingACLs[0].ResourceName != "a-" {
		t.Fatalf("delete: %+v", r)
	}
	if h.allowedTopic(ctx, alice, kmsg.ACLOperationRead, "a-topic") || len(describeAll(h, admin).Resources) != 0 {
		t.Fatal("the deleted binding still decides")
	}
}
