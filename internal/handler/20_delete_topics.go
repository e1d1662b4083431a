package handler

// DeleteTopics, key 20, versions 1-6 (by id from v6). The topic leaves the
// metadata first, then its partition directories are renamed away and
// removed in the background. TimeoutMillis bounds the whole request (see
// timedReply): a topic not deleted in time gets REQUEST_TIMED_OUT.
//
// Internal topics are deleted like any other, as Kafka's controller does
// (ReplicationControlManager.deleteTopic has no internal-topic check; the
// refusal users know is client-side, in kafka-topics.sh). Deleting
// __consumer_offsets unloads every group, as Kafka's coordinator resigns
// the deleted partitions; the topic is created again on the next write.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) deleteTopics(ctx context.Context, who protocol.Principal, req *kmsg.DeleteTopicsRequest) *kmsg.DeleteTopicsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name *string
		id   metadata.TopicID
	}
	var targets []target
	if req.Version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{t.Topic, t.TopicID})
		}
	} else {
		for _, name := range req.TopicNames {
			targets = append(targets, target{name: &name})
		}
	}
	for _, tg := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = tg.name, tg.id
		im := h.b.Meta.Image()
		var t *metadata.Topic
		var err error
		switch {
		case !h.b.Config.Bool("delete.topic.enable"):
			err = kerr.TopicDeletionDisabled
		case tg.name != nil && !h.allowedTopic(ctx, who, kmsg.ACLOperationDelete, *tg.name):
			err = kerr.TopicAuthorizationFailed
		case tg.name != nil:
			var ok bool
			if t, ok = im.Topics[*tg.name]; !ok {
				err = kerr.UnknownTopicOrPartition
			}
		default:
			var ok bool
			if t, ok = im.TopicByID(tg.id); !ok {
				err = kerr.UnknownTopicID
			} else if !h.allowedTopic(ctx, who, kmsg.ACLOperationDelete, t.Name) {
				// By id, as Kafka: the name is answered only to a
				// principal that may describe the topic.
				err = kerr.TopicAuthorizationFailed
				if h.allowedTopic(ctx, who, kmsg.ACLOperationDescribe, t.Name) {
					name := t.Name
					st.Topic = &name
				}
			}
		}
		if err == nil {
			name := t.Name
			st.Topic, st.TopicID = &name, t.ID
			err = h.deleteTopic(ctx, name)
			if err == nil && name == group.OffsetsTopic {
				h.b.Groups.Unload(context.Background())
			}
		}
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (h *Handler) deleteTopic(ctx context.Context, name string) error {
	if err := h.b.Meta.DeleteTopic(ctx, name); err != nil {
		return err
	}
	if err := h.b.Topics.Reconcile(); err != nil {
		return fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
	}
	h.b.Logger.Info("deleted topic", "topic", name)
	return nil
}
