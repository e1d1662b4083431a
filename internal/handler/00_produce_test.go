package handler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// produceRequest is a Produce v9 of n records to topic's partition 0.
func produceRequest(topic string, acks int16, timeout time.Duration, n int) *kmsg.ProduceRequest {
	recs := make([]testutil.Record, n)
	for i := range recs {
		recs[i] = testutil.Record{Timestamp: time.Now().UnixMilli(), Value: "v"}
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = acks, int32(timeout/time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = testutil.Batch(-1, -1, -1, recs...)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// produceWith sends a Produce and returns its one partition's answer.
func produceWith(t *testing.T, h *Handler, req *kmsg.ProduceRequest) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	return reply(t, h.Handle(context.Background(), &Request{Msg: req})).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
}

// produced appends n records to topic with acks, which must succeed.
func produced(t *testing.T, h *Handler, topic string, acks int16, n int) {
	t.Helper()
	if sp := produceWith(t, h, produceRequest(topic, acks, 5*time.Second, n)); sp.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(sp.ErrorCode))
	}
}

// TestProduceAcksAll: acks=-1 is refused before the append when the ISR
// is smaller than min.insync.replicas (NOT_ENOUGH_REPLICAS, nothing
// written), waits for the follower to have the records, and gives
// REQUEST_TIMED_OUT when it does not within the request's timeout;
// acks=1 waits for the leader alone.
func TestProduceAcksAll(t *testing.T) {
	h := protoHandler(t)
	replicatedTopic(t, h, "all", map[string]string{"min.insync.replicas": "2"})
	p, err := h.b.Replicas.Leader("all", 0)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	sp := produceWith(t, h, produceRequest("all", -1, 100*time.Millisecond, 1))
	if sp.ErrorCode != kerr.RequestTimedOut.Code {
		t.Errorf("acks=-1 with a silent follower: %v, want REQUEST_TIMED_OUT", kerr.ErrorForCode(sp.ErrorCode))
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("the 100 ms timeout took %v", waited)
	}
	produced(t, h, "all", 1, 1) // acks=1: the leader's fsync alone; offsets 0-1 now

	// acks=-1 of offset 2 answers once the follower fetches from 3.
	done := make(chan kmsg.ProduceResponseTopicPartition, 1)
	go func() { done <- produceWith(t, h, produceRequest("all", -1, 20*time.Second, 1)) }()
	for deadline := time.Now().Add(10 * time.Second); p.LogEndOffset() < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the acks=-1 batch was never appended")
		}
	}
	select {
	case sp := <-done:
		t.Fatalf("acks=-1 answered before the follower fetched: %v", kerr.ErrorForCode(sp.ErrorCode))
	case <-time.After(50 * time.Millisecond):
	}
	if sp, _ := fetchPartitionOf(t, h, replicaFetch(12, followerID, -1, "all", 3, -1)); sp.ErrorCode != 0 {
		t.Fatalf("replica fetch: %v", kerr.ErrorForCode(sp.ErrorCode))
	}
	if sp := <-done; sp.ErrorCode != 0 || sp.BaseOffset != 2 {
		t.Errorf("acks=-1 after the follower fetched: %v at %d", kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
	}
}

// TestProduceNotEnoughReplicas: acks=-1 to a partition whose ISR is
// smaller than min.insync.replicas is NOT_ENOUGH_REPLICAS and appends
// nothing; acks=1 and acks=0 are not checked.
func TestProduceNotEnoughReplicas(t *testing.T) {
	h := protoHandler(t)
	if st := protoCreate(t, h, "few", 1, 1, false); st.ErrorCode != 0 {
		t.Fatalf("create: %v", kerr.ErrorForCode(st.ErrorCode))
	}
	ctx, cancel := changeContext()
	defer cancel()
	if err := h.b.Meta.SetConfigs(ctx, "few", map[string]string{"min.insync.replicas": "2"}); err != nil {
		t.Fatal(err)
	}
	sp := produceWith(t, h, produceRequest("few", -1, 5*time.Second, 1))
	if err := kerr.ErrorForCode(sp.ErrorCode); !errors.Is(err, kerr.NotEnoughReplicas) || sp.BaseOffset != -1 {
		t.Errorf("acks=-1 with an ISR of 1 under min.insync.replicas 2: %v at %d", err, sp.BaseOffset)
	}
	produced(t, h, "few", 1, 1)
	p, err := h.b.Replicas.Leader("few", 0)
	if err != nil {
		t.Fatal(err)
	}
	if end := p.LogEndOffset(); end != 1 {
		t.Errorf("log end %d: the refused acks=-1 batch was appended", end)
	}
}
