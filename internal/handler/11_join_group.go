package handler

// JoinGroup, key 11, versions 0-9: the classic group protocol, with the
// member-id-required round trip (v4+), static membership (v5+), protocol
// type and name in the response (v7+), a reason (v8+, logged nowhere yet)
// and SkipAssignment (v9, KIP-814): a static leader that rejoins a Stable
// group without changing its selected protocol is told it leads but must
// not assign, and no rebalance happens; before v9 it is told the old
// leader id instead, as Kafka does.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handler) joinGroup(req *Request, r *kmsg.JoinGroupRequest) Reply {
	host := "/" + req.Host // Kafka's form of a client host
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		if !h.allowedGroup(ctx, req.Principal, kmsg.ACLOperationRead, r.Group) {
			resp := kmsg.NewPtrJoinGroupResponse()
			resp.Version, resp.ErrorCode, resp.Generation = r.Version, kerr.GroupAuthorizationFailed.Code, -1
			return resp
		}
		return h.b.Groups.JoinGroup(ctx, r, req.ClientID, host)
	}}
}
