package admin

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

// fakeKafka answers CreateTopics and DeleteTopics with a fixed error, the
// CreateTopics reply ready and the DeleteTopics one waiting, and keeps
// the requests.
type fakeKafka struct {
	code    int16
	message *string
	seen    []*protocol.Request
}

func (f *fakeKafka) Handle(_ context.Context, req *protocol.Request) protocol.Reply {
	f.seen = append(f.seen, req)
	switch r := req.Msg.(type) {
	case *kmsg.CreateTopicsRequest:
		resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic, st.ErrorCode, st.ErrorMessage = r.Topics[0].Topic, f.code, f.message
		resp.Topics = append(resp.Topics, st)
		return protocol.Reply{Msg: resp}
	case *kmsg.DeleteTopicsRequest:
		return protocol.Reply{Wait: func(context.Context) kmsg.Response {
			resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.ErrorCode, st.ErrorMessage = &r.TopicNames[0], f.code, f.message
			resp.Topics = append(resp.Topics, st)
			return resp
		}}
	}
	panic("unexpected request")
}

// TestTopicChangesGoThroughKafka: Admin's topic changes are Kafka requests
// to the handler it is given, and the answers' codes and messages come
// back as errors wrapping the Kafka error.
func TestTopicChangesGoThroughKafka(t *testing.T) {
	msg := "topic name \"a/b\" may only contain ASCII letters, digits, '.', '_' and '-'"
	f := &fakeKafka{code: kerr.InvalidTopicException.Code, message: &msg}
	a := New(Broker{Kafka: f})
	err := a.CreateTopic("a/b", 3, map[string]string{"retention.ms": "1000"})
	if !errors.Is(err, kerr.InvalidTopicException) || err.Error() != kerr.InvalidTopicException.Error()+": "+msg {
		t.Errorf("CreateTopic: %v", err)
	}
	req := f.seen[0].Msg.(*kmsg.CreateTopicsRequest)
	rt := req.Topics[0]
	if rt.Topic != "a/b" || rt.NumPartitions != 3 || rt.ReplicationFactor != -1 || len(rt.Configs) != 1 || *rt.Configs[0].Value != "1000" {
		t.Errorf("CreateTopics request: %+v", rt)
	}
	if f.seen[0].Principal != protocol.Anonymous {
		t.Errorf("principal %v", f.seen[0].Principal)
	}

	f.code, f.message = kerr.UnknownTopicOrPartition.Code, nil
	if err := a.DeleteTopic("gone"); !errors.Is(err, ErrUnknownTopic) {
		t.Errorf("DeleteTopic of an unknown topic: %v", err)
	}
	f.code = 0
	if err := a.DeleteTopic("t"); err != nil {
		t.Errorf("DeleteTopic: %v", err)
	}
}
