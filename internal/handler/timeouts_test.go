package handler

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

const (
	// handleReturnMax is how long Handle may take to hand back a Reply
	// whose Wait does the waiting: far less than any request timeout.
	handleReturnMax = 100 * time.Millisecond
	// timeoutSlack is how late past its TimeoutMillis a request may be
	// answered.
	timeoutSlack = time.Second
)

// stuckHandler is a handler with topic "kept" whose store then stops
// committing, and the log that counts what it was asked.
func stuckHandler(t *testing.T) (*Handler, *testutil.StuckLog) {
	t.Helper()
	h := protoHandler(t)
	if st := protoCreate(t, h, "kept", 1, 1, false); st.ErrorCode != 0 {
		t.Fatalf("create kept: %v", kerr.ErrorForCode(st.ErrorCode))
	}
	log := &testutil.StuckLog{LeaderID: h.b.NodeID}
	h.b.Meta.SetLog(log)
	return h, log
}

// answer runs a request as the server does: Handle on the reader
// goroutine, which must return at once, then the reply's Wait.
func answer(t *testing.T, h *Handler, req kmsg.Request) (kmsg.Response, time.Duration) {
	t.Helper()
	start := time.Now()
	reply := h.Handle(context.Background(), &Request{Msg: req})
	if took := time.Since(start); took > handleReturnMax {
		t.Fatalf("Handle blocked the reader goroutine for %v", took)
	}
	if reply.Wait == nil {
		t.Fatalf("%s is answered on the reader goroutine", kmsg.NameForKey(req.Key()))
	}
	resp := reply.Wait(context.Background())
	return resp, time.Since(start)
}

// TestTopicChangesTimeOut: on a store that cannot commit, CreateTopics,
// DeleteTopics and CreatePartitions leave the reader goroutine free and
// answer REQUEST_TIMED_OUT once TimeoutMillis has passed, which bounds
// the whole request, not each topic; entries that fail validation get
// their usual error.
func TestTopicChangesTimeOut(t *testing.T) {
	h, _ := stuckHandler(t)
	const timeout = 200 * time.Millisecond

	create := kmsg.NewPtrCreateTopicsRequest()
	create.SetVersion(7)
	create.TimeoutMillis = int32(timeout.Milliseconds())
	names := []string{"a", "b", "c", "d", "e", "f"}
	for _, name := range names {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		create.Topics = append(create.Topics, rt)
	}
	create.Topics[1].NumPartitions = 0 // invalid
	resp, took := answer(t, h, create)
	// Five topics wait: one timeout for all stays under the five that
	// waiting topic by topic would take (the rest is slack for a loaded
	// machine).
	if took < timeout || took >= 5*timeout {
		t.Fatalf("CreateTopics of %d topics answered after %v with a %v timeout", len(names), took, timeout)
	}
	for i, st := range resp.(*kmsg.CreateTopicsResponse).Topics {
		want := kerr.RequestTimedOut.Code
		if i == 1 {
			want = kerr.InvalidPartitions.Code
		}
		if st.ErrorCode != want {
			t.Errorf("create %s: %v, want %v", st.Topic, kerr.ErrorForCode(st.ErrorCode), kerr.ErrorForCode(want))
		}
	}

	del := kmsg.NewPtrDeleteTopicsRequest()
	del.SetVersion(6)
	del.TimeoutMillis = int32(timeout.Milliseconds())
	for _, name := range []string{"kept", "missing"} {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		del.Topics = append(del.Topics, rt)
	}
	resp, took = answer(t, h, del)
	if took < timeout || took > timeout+timeoutSlack {
		t.Fatalf("DeleteTopics answered after %v with a %v timeout", took, timeout)
	}
	if ts := resp.(*kmsg.DeleteTopicsResponse).Topics; ts[0].ErrorCode != kerr.RequestTimedOut.Code ||
		ts[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("delete: %v and %v", kerr.ErrorForCode(ts[0].ErrorCode), kerr.ErrorForCode(ts[1].ErrorCode))
	}

	grow := kmsg.NewPtrCreatePartitionsRequest()
	grow.SetVersion(3)
	grow.TimeoutMillis = int32(timeout.Milliseconds())
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "kept", 2
	grow.Topics = append(grow.Topics, rt)
	resp, took = answer(t, h, grow)
	if took < timeout || took > timeout+timeoutSlack {
		t.Fatalf("CreatePartitions answered after %v with a %v timeout", took, timeout)
	}
	if code := resp.(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode; code != kerr.RequestTimedOut.Code {
		t.Errorf("grow: %v", kerr.ErrorForCode(code))
	}
	if im := h.b.Meta.Image(); len(im.Topics) != 1 || im.Topics["kept"].Partitions != 1 {
		t.Fatalf("the metadata changed with nothing committed: %v", im.Topics)
	}
}

// TestZeroTimeoutStillCreates: a TimeoutMillis of zero or less is what
// librdkafka's admin API sent by default before 2.x (operation_timeout 0,
// "do not wait"), so it still makes the change, bounded by
// metadataChangeWaitMax, as Sluice always did and as Kafka's ZooKeeper
// brokers did; ValidateOnly changes nothing either way.
func TestZeroTimeoutStillCreates(t *testing.T) {
	h := protoHandler(t)
	for _, validateOnly := range []bool{true, false} {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.SetVersion(7)
		req.TimeoutMillis, req.ValidateOnly = 0, validateOnly
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "now", 1, 1
		req.Topics = append(req.Topics, rt)
		resp, _ := answer(t, h, req)
		if code := resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
			t.Fatalf("validateOnly=%v: %v", validateOnly, kerr.ErrorForCode(code))
		}
		_, exists := h.b.Meta.Image().Topics["now"]
		if exists == validateOnly {
			t.Fatalf("validateOnly=%v: topic exists=%v after a zero timeout", validateOnly, exists)
		}
	}
}
