package handler

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

// TestDescribeTopicPartitionsPages: a describe of every topic with a limit
// of 3 partitions walks the topics by name with the cursor, cutting
// inside a topic and at a topic's start, and answers each partition once;
// errors are Kafka's.
func TestDescribeTopicPartitionsPages(t *testing.T) {
	h := protoHandler(t)
	for _, c := range []struct {
		name string
		n    int32
	}{{"b", 4}, {"a", 2}, {"c", 1}} {
		if st := protoCreate(t, h, c.name, c.n, 1, false); st.ErrorCode != 0 {
			t.Fatalf("create %s: %v", c.name, kerr.ErrorForCode(st.ErrorCode))
		}
	}
	ask := func(limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, names ...string) *kmsg.DescribeTopicPartitionsResponse {
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		req.ResponsePartitionLimit, req.Cursor = limit, cursor
		for _, n := range names {
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = n
			req.Topics = append(req.Topics, rt)
		}
		return h.Handle(context.Background(), &Request{Msg: req}).Msg.(*kmsg.DescribeTopicPartitionsResponse)
	}
	var pages []string
	var cursor *kmsg.DescribeTopicPartitionsRequestCursor
	for range 10 {
		r := ask(3, cursor)
		page := ""
		for _, st := range r.Topics {
			if st.ErrorCode != 0 || st.AuthorizedOperations != 0xdf8 || len(st.Partitions) == 0 {
				t.Errorf("topic %s: error %d, operations %#x, %d partitions", *st.Topic, st.ErrorCode, st.AuthorizedOperations, len(st.Partitions))
			}
			for _, sp := range st.Partitions {
				page += fmt.Sprintf("%s%d ", *st.Topic, sp.Partition)
				if sp.LeaderID != 1 || len(sp.Replicas) != 1 || len(sp.ISR) != 1 || sp.EligibleLeaderReplicas == nil || len(sp.OfflineReplicas) != 0 {
					t.Errorf("%s-%d: %+v", *st.Topic, sp.Partition, sp)
				}
			}
		}
		pages = append(pages, page)
		if r.NextCursor == nil {
			break
		}
		cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: r.NextCursor.Topic, Partition: r.NextCursor.Partition}
	}
	if got, want := fmt.Sprint(pages), "[a0 a1 b0  b1 b2 b3  c0 ]"; got != want {
		t.Errorf("pages %s, want %s", got, want)
	}
	r := ask(2000, nil, "nope", "a", "bad/name", "a")
	if len(r.Topics) != 3 || *r.Topics[0].Topic != "a" || r.Topics[1].ErrorCode != kerr.InvalidTopicException.Code ||
		r.Topics[2].ErrorCode != kerr.UnknownTopicOrPartition.Code || r.NextCursor != nil {
		t.Errorf("named topics answered %+v", r.Topics)
	}
	r = ask(2000, &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "b"}, "a", "c")
	if len(r.Topics) != 2 || r.Topics[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("cursor outside the named topics answered %+v", r.Topics)
	}
}

// TestDescribeTopicPartitionsAuthorized: a topic the principal may not
// DESCRIBE is left out of an all-topics answer and refused, after the
// others and without its id, when named; the others carry only the
// operations the hook allows.
func TestDescribeTopicPartitionsAuthorized(t *testing.T) {
	h := protoHandler(t)
	for _, name := range []string{"open", "secret"} {
		if st := protoCreate(t, h, name, 1, 1, false); st.ErrorCode != 0 {
			t.Fatalf("create %s: %v", name, kerr.ErrorForCode(st.ErrorCode))
		}
	}
	h = New(h.b)
	h.b.Authorize = func(_ context.Context, _ protocol.Principal, op kmsg.ACLOperation, _ kmsg.ACLResourceType, name string) bool {
		return name == "open" && (op == kmsg.ACLOperationDescribe || op == kmsg.ACLOperationRead)
	}
	ask := func(names ...string) *kmsg.DescribeTopicPartitionsResponse {
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		req.ResponsePartitionLimit = 100
		for _, n := range names {
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = n
			req.Topics = append(req.Topics, rt)
		}
		return h.Handle(context.Background(), &Request{Msg: req}).Msg.(*kmsg.DescribeTopicPartitionsResponse)
	}
	wantOps := int32(1<<kmsg.ACLOperationDescribe | 1<<kmsg.ACLOperationRead)
	if r := ask(); len(r.Topics) != 1 || *r.Topics[0].Topic != "open" || r.Topics[0].AuthorizedOperations != wantOps {
		t.Errorf("all topics answered %+v, want open alone with DESCRIBE and READ", r.Topics)
	}
	r := ask("secret", "open")
	if len(r.Topics) != 2 || *r.Topics[0].Topic != "open" || *r.Topics[1].Topic != "secret" ||
		r.Topics[1].ErrorCode != kerr.TopicAuthorizationFailed.Code || r.Topics[1].TopicID != [16]byte{} {
		t.Errorf("named topics answered %+v, want open, then secret refused without its id", r.Topics)
	}
}
