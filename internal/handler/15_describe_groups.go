package handler

// DescribeGroups, key 15, versions 0-5. An unknown group is answered Dead
// without an error, as Kafka does before v6 (KIP-1043).
//
// Not implemented: authorized operations (no ACLs yet).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) describeGroups(who protocol.Principal, r *kmsg.DescribeGroupsRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, id := range r.Groups {
			if !h.allowedGroup(ctx, who, kmsg.ACLOperationDescribe, id) {
				g := kmsg.NewDescribeGroupsResponseGroup()
				g.Group, g.ErrorCode = id, kerr.GroupAuthorizationFailed.Code
				resp.Groups = append(resp.Groups, g)
				continue
			}
			resp.Groups = append(resp.Groups, h.b.Groups.DescribeGroup(ctx, id))
		}
		return resp
	}}
}
