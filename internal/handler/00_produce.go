package handler

// Produce, key 0, versions 3-9 (RecordBatch v2 only).
//
// Every partition of a request is appended in request order on the
// connection's reader goroutine, so pipelined requests of one idempotent
// producer keep their order; the wait for fsync (acks 1 and -1) runs off it,
// in parallel across partitions, sharing fsyncs with concurrent producers.
//
// Internal topics (__consumer_offsets) are refused with
// INVALID_TOPIC_EXCEPTION, as Kafka refuses them.
//
// A topic's compression.type other than producer re-encodes batches, and
// message.timestamp.before/after.max.ms bound CreateTime records; both
// read the records, so only topics that set them pay for it.
//
// Not implemented: transactional produce (transactions come later).

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/replica"
	"github.com/sluice-dev/sluice/internal/topics"
)

// durableWait is one partition's pending fsync wait.
type durableWait struct {
	p          *replica.Partition
	next       int64
	topic, idx int
}

func (h *Handler) produce(ctx context.Context, who protocol.Principal, req *kmsg.ProduceRequest) Reply {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	im := h.b.Meta.Image()
	now := nowMs()
	var waits []durableWait
	failed := false
	for ti, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		t, known := im.Topics[rt.Topic]
		writable := h.allowedTopic(ctx, who, kmsg.ACLOperationWrite, rt.Topic)
		var messagesIn, bytesIn int64
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			var err error
			switch {
			case req.TransactionID != nil:
				err = fmt.Errorf("%w: transactions are not supported yet", kerr.TransactionalIDAuthorizationFailed)
			case !writable:
				err = kerr.TopicAuthorizationFailed
			case !known:
				err = kerr.UnknownTopicOrPartition
			case group.IsInternalTopic(rt.Topic):
				// Kafka's ReplicaManager.appendToLocalLog refuses client
				// appends to internal topics (only clientId
				// "__admin_client" may; Sluice makes no such exception).
				err = fmt.Errorf("%w: Cannot append to internal topic %s", kerr.InvalidTopicException, rt.Topic)
			default:
				var w *durableWait
				w, err = h.appendPartition(t.Name, h.settings(t), rp, &sp, now)
				if w != nil {
					w.topic, w.idx = ti, len(st.Partitions)
					waits = append(waits, *w)
					messagesIn, bytesIn = messagesIn+w.next-sp.BaseOffset, bytesIn+int64(len(rp.Records))
				}
			}
			if err != nil {
				// Kafka answers a failed partition with offsets -1, never
				// an offset that could be read as "appended at 0".
				sp.ErrorCode, sp.ErrorMessage = errorCode(err), errorMessage(err)
				sp.BaseOffset, sp.LogStartOffset = -1, -1
				failed = true
			}
			st.Partitions = append(st.Partitions, sp)
		}
		if known {
			h.b.Metrics.Produced(rt.Topic, messagesIn, bytesIn)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == 0 {
		for _, w := range waits {
			w.p.SyncSoon()
		}
		return Reply{None: true, Close: failed}
	}
	if len(waits) == 0 {
		return Reply{Msg: resp}
	}
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		waitDurable(ctx, resp, waits)
		return resp
	}}
}

// appendPartition appends one partition's records and fills its response.
// It returns the fsync wait the acknowledgement needs, if any.
func (h *Handler) appendPartition(topic string, s *topics.Settings, rp kmsg.ProduceRequestTopicPartition, sp *kmsg.ProduceResponseTopicPartition, now int64) (*durableWait, error) {
	p, err := h.b.Replicas.Leader(topic, rp.Partition)
	if err != nil {
		return nil, err
	}
	res, err := p.Append(rp.Records, replica.AppendOptions{
		LogAppendTime: s.LogAppendTime, MaxMessageBytes: s.MaxMessageBytes, Now: now,
		TimestampWindow: s.TimestampWindow,
		Recompress:      s.Recompress,
		RequireKeys:     s.RequireKeys,
	})
	if err != nil {
		return nil, err
	}
	sp.BaseOffset, sp.LogAppendTime = res.BaseOffset, res.LogAppendTime
	sp.LogStartOffset = p.LogStartOffset()
	return &durableWait{p: p, next: res.NextOffset}, nil
}

// waitDurable waits for every partition's fsync, in parallel, and turns
// failures into KAFKA_STORAGE_ERROR for that partition. A connection that
// closes ends the waits (its answer is never sent).
func waitDurable(ctx context.Context, resp *kmsg.ProduceResponse, waits []durableWait) {
	fail := func(w durableWait, err error) {
		sp := &resp.Topics[w.topic].Partitions[w.idx]
		sp.ErrorCode, sp.ErrorMessage, sp.BaseOffset = errorCode(err), errorMessage(err), -1
	}
	if len(waits) == 1 {
		if err := waits[0].p.WaitDurable(ctx, waits[0].next); err != nil {
			fail(waits[0], err)
		}
		return
	}
	var wg sync.WaitGroup
	errs := make([]error, len(waits))
	for i, w := range waits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.p.WaitDurable(ctx, w.next)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			fail(waits[i], err)
		}
	}
}
