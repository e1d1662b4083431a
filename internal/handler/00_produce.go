package handler

// Produce, key 0, versions 3-9 (RecordBatch v2 only).
//
// Every partition of a request is appended in request order on the
// connection's reader goroutine, so pipelined requests of one idempotent
// producer keep their order; the waits run off it, in parallel across
// partitions, sharing fsyncs with concurrent producers. acks=1 waits for
// the leader's fsync. acks=-1 (all) first checks min.insync.replicas
// against the ISR (NOT_ENOUGH_REPLICAS, nothing appended), then waits for
// the high watermark to cover the batch: fsynced on the leader and on
// every ISR member. That wait is bounded by the request's TimeoutMillis
// (REQUEST_TIMED_OUT; zero or less: until the connection closes), and
// ends with NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below
// min.insync.replicas meanwhile. With an ISR of the leader alone it is
// the fsync wait of acks=1.
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
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/replica"
	"github.com/sluice-dev/sluice/internal/topics"
)

// durableWait is one partition's pending acknowledgement wait.
type durableWait struct {
	p          *replica.Partition
	next       int64
	topic, idx int
	// all is acks=-1, whose wait is for the high watermark with
	// min.insync.replicas minISR; acks=1 waits for the local fsync.
	all    bool
	minISR int
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
				w, err = h.appendPartition(t.Name, h.settings(t), req.Acks, rp, &sp, now)
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
	var deadline time.Time
	if req.Acks == -1 && req.TimeoutMillis > 0 {
		deadline = time.Now().Add(time.Duration(req.TimeoutMillis) * time.Millisecond)
	}
	return Reply{Wait: func(ctx context.Context) kmsg.Response {
		waitAcks(ctx, deadline, resp, waits)
		return resp
	}}
}

// appendPartition appends one partition's records and fills its response.
// It returns the wait the acknowledgement needs. acks=-1 is refused
// before the append when the ISR is smaller than min.insync.replicas.
func (h *Handler) appendPartition(topic string, s *topics.Settings, acks int16, rp kmsg.ProduceRequestTopicPartition, sp *kmsg.ProduceResponseTopicPartition, now int64) (*durableWait, error) {
	p, err := h.b.Replicas.Leader(topic, rp.Partition)
	if err != nil {
		return nil, err
	}
	if acks == -1 {
		if err := p.CheckMinISR(s.MinInsyncReplicas); err != nil {
			return nil, err
		}
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
	return &durableWait{p: p, next: res.NextOffset, all: acks == -1, minISR: s.MinInsyncReplicas}, nil
}

// waitAcks waits for every partition's acknowledgement, in parallel, and
// turns failures into that partition's error. A connection that closes
// ends the waits (its answer is never sent); the deadline, when set,
// ends the acks=-1 waits with REQUEST_TIMED_OUT.
func waitAcks(ctx context.Context, deadline time.Time, resp *kmsg.ProduceResponse, waits []durableWait) {
	fail := func(w durableWait, err error) {
		sp := &resp.Topics[w.topic].Partitions[w.idx]
		sp.ErrorCode, sp.ErrorMessage, sp.BaseOffset = errorCode(err), errorMessage(err), -1
	}
	waitCtx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	if len(waits) == 1 {
		if err := waitAck(ctx, waitCtx, waits[0]); err != nil {
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
			errs[i] = waitAck(ctx, waitCtx, w)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			fail(waits[i], err)
		}
	}
}

// waitAck is one partition's wait: the local fsync for acks=1, the high
// watermark for acks=-1 under waitCtx, whose end while the connection
// (ctx) is still open is Kafka's DelayedProduce expiry.
func waitAck(ctx, waitCtx context.Context, w durableWait) error {
	if !w.all {
		return w.p.WaitDurable(ctx, w.next)
	}
	err := w.p.WaitReplicated(waitCtx, w.next, w.minISR)
	if err != nil && ctx.Err() == nil && waitCtx.Err() != nil && errors.Is(err, waitCtx.Err()) {
		return fmt.Errorf("%w: the in-sync replicas did not have the records within the request timeout", kerr.RequestTimedOut)
	}
	return err
}
