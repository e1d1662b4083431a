package handler

// DescribeGroups, key 15, versions 0-5. An unknown group is answered Dead
// without an error, as Kafka does before v6 (KIP-1043).
//
// Not implemented: authorized operations (no ACLs yet).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handler) describeGroups(r *kmsg.DescribeGroupsRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, id := range r.Groups {
			resp.Groups = append(resp.Groups, h.b.Groups.DescribeGroup(ctx, id))
		}
		return resp
	}}
}
