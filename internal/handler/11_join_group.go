package handler

// JoinGroup, key 11, versions 0-9: the classic group protocol, with the
// member-id-required round trip (v4+), static membership (v5+), protocol
// type and name in the response (v7+) and a reason (v8+, logged nowhere
// yet). v9's SkipAssignment is never set: a static leader that rejoins
// triggers a rebalance instead.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handler) joinGroup(req *Request, r *kmsg.JoinGroupRequest) Reply {
	host := "/" + req.Host // Kafka's form of a client host
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		return h.b.Groups.JoinGroup(ctx, r, req.ClientID, host)
	}}
}
