package handler

// OffsetDelete, key 47, version 0: deletes committed offsets of partitions
// the group's members do not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC
// otherwise).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *Handler) offsetDelete(r *kmsg.OffsetDeleteRequest) Reply {
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		return h.b.Groups.DeleteOffsets(ctx, r)
	}}
}
