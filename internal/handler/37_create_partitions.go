package handler

// CreatePartitions, key 37, versions 0-3: grows a topic; explicit
// assignments must place the new partitions on this broker. TimeoutMillis
// bounds the whole request (see timedReply): a topic not grown in time
// gets REQUEST_TIMED_OUT. A topic the principal may not ALTER is
// TOPIC_AUTHORIZATION_FAILED, whether it exists or not, as Kafka's
// ControllerApis.createPartitions answers (after the duplicate check).

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) createPartitions(ctx context.Context, who protocol.Principal, req *kmsg.CreatePartitionsRequest) *kmsg.CreatePartitionsResponse {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	twice := namedTwice(req.Topics, func(rt kmsg.CreatePartitionsRequestTopic) string { return rt.Topic })
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		var err error
		switch {
		case twice[rt.Topic]:
			err = fmt.Errorf("%w: topic %q is named more than once in the request", kerr.InvalidRequest, rt.Topic)
		case !h.allowedTopic(ctx, who, kmsg.ACLOperationAlter, rt.Topic):
			err = kerr.TopicAuthorizationFailed
		default:
			err = h.createPartitionsFor(ctx, rt, req.ValidateOnly)
		}
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errorCode(err), errorMessage(err)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (h *Handler) createPartitionsFor(ctx context.Context, rt kmsg.CreatePartitionsRequestTopic, validateOnly bool) error {
	t, ok := h.b.Meta.Image().Topics[rt.Topic]
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	if rt.Count <= t.Partitions {
		return fmt.Errorf("%w: topic %q already has %d partitions", kerr.InvalidPartitions, rt.Topic, t.Partitions)
	}
	if rt.Count > partitionsMax {
		return fmt.Errorf("%w: %d partitions is over the limit of %d", kerr.InvalidPartitions, rt.Count, partitionsMax)
	}
	if rt.Assignment != nil {
		if len(rt.Assignment) != int(rt.Count-t.Partitions) {
			return fmt.Errorf("%w: %d assignments for %d new partitions", kerr.InvalidReplicaAssignment, len(rt.Assignment), rt.Count-t.Partitions)
		}
		for _, a := range rt.Assignment {
			if len(a.Replicas) != 1 || a.Replicas[0] != h.b.NodeID {
				return fmt.Errorf("%w: new partitions must be placed on broker %d", kerr.InvalidReplicaAssignment, h.b.NodeID)
			}
		}
	}
	if validateOnly {
		return nil
	}
	if err := h.b.Meta.SetPartitions(ctx, rt.Topic, rt.Count); err != nil {
		return err
	}
	if err := h.b.Topics.Reconcile(); err != nil {
		return fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
	}
	return nil
}
