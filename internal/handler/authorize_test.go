package handler

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/record"
)

var alice = protocol.Principal{Type: "User", Name: "alice"}

// answerAs runs a request as alice and waits for its response.
func answerAs(t *testing.T, h *Handler, req kmsg.Request) kmsg.Response {
	t.Helper()
	ctx := context.Background()
	reply := h.Handle(ctx, &Request{Msg: req, ClientID: "test", Host: "127.0.0.1", Principal: alice})
	if reply.Wait != nil {
		return reply.Wait(ctx)
	}
	if reply.Msg == nil {
		t.Fatalf("%s: no response", kmsg.NameForKey(req.Key()))
	}
	return reply.Msg
}

// oneRecord is a valid one-record batch.
func oneRecord(t *testing.T) []byte {
	t.Helper()
	now := time.Now().UnixMilli()
	b, err := record.Build(record.Header{BaseTimestamp: now, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1},
		[]record.Record{{Value: []byte("v")}}, record.CodecNone, now)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func produceTo(t *testing.T, batch []byte, topics ...string) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks, req.TimeoutMillis = 1, 5000
	for _, topic := range topics {
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func fetchFrom(topics ...string) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.ReplicaID, req.MaxBytes = -1, 1<<20
	for _, topic := range topics {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes, rp.LogStartOffset = 1<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func metadataFor(topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12)
	req.AllowAutoTopicCreation = true
	if topics == nil {
		return req // null: every topic
	}
	req.Topics = []kmsg.MetadataRequestTopic{}
	for _, topic := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = &topic
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func metadataNames(resp *kmsg.MetadataResponse) map[string]int16 {
	out := map[string]int16{}
	for _, st := range resp.Topics {
		out[*st.Topic] = st.ErrorCode
	}
	return out
}

func code(c int16) string {
	if err := kerr.ErrorForCode(c); err != nil {
		return err.Error()
	}
	return "no error"
}

// TestAuthorizeDenyAll: a principal allowed nothing gets Kafka's
// authorization codes from every checked API, and nothing changes.
func TestAuthorizeDenyAll(t *testing.T) {
	h := protoHandler(t)
	if st := protoCreate(t, h, "t", 1, 1, false); st.ErrorCode != 0 {
		t.Fatalf("create: %v", code(st.ErrorCode))
	}
	h.b.Authorize = func(context.Context, protocol.Principal, kmsg.ACLOperation, kmsg.ACLResourceType, string) bool {
		return false
	}
	taf, gaf := kerr.TopicAuthorizationFailed.Code, kerr.GroupAuthorizationFailed.Code

	p := answerAs(t, h, produceTo(t, oneRecord(t), "t")).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if p.ErrorCode != taf || p.BaseOffset != -1 {
		t.Errorf("produce: %s at offset %d, want %s at -1", code(p.ErrorCode), p.BaseOffset, code(taf))
	}
	if c := answerAs(t, h, fetchFrom("t")).(*FetchResponse).Topics[0].Partitions[0].ErrorCode; c != taf {
		t.Errorf("fetch: %s, want %s", code(c), code(taf))
	}
	if topics := answerAs(t, h, metadataFor()).(*kmsg.MetadataResponse).Topics; len(topics) != 0 {
		t.Errorf("metadata for every topic lists %d topics, want none", len(topics))
	}
	got := metadataNames(answerAs(t, h, metadataFor("t", "missing")).(*kmsg.MetadataResponse))
	if got["t"] != taf || got["missing"] != taf {
		t.Errorf("metadata for t and missing: %s and %s, want %s for both", code(got["t"]), code(got["missing"]), code(taf))
	}
	if _, ok := h.b.Meta.Image().Topics["missing"]; ok {
		t.Errorf("metadata auto-created a topic the principal may not create")
	}
	ct := protoCreate(t, h, "new", 1, 1, false)
	if ct.ErrorCode != taf || ct.ErrorMessage == nil || *ct.ErrorMessage != "Authorization failed." {
		t.Errorf("create topic: %s %v, want %s", code(ct.ErrorCode), ct.ErrorMessage, code(taf))
	}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.SetVersion(5)
	del.TopicNames = []string{"t", "missing"}
	for _, st := range answerAs(t, h, del).(*kmsg.DeleteTopicsResponse).Topics {
		if st.ErrorCode != taf {
			t.Errorf("delete topic %s: %s, want %s", *st.Topic, code(st.ErrorCode), code(taf))
		}
	}
	if _, ok := h.b.Meta.Image().Topics["new"]; ok {
		t.Errorf("the denied create created the topic")
	}
	if _, ok := h.b.Meta.Image().Topics["t"]; !ok {
		t.Errorf("the denied delete deleted the topic")
	}
	for name, c := range groupAnswers(t, h) {
		if c != gaf {
			t.Errorf("%s: %s, want %s", name, code(c), code(gaf))
		}
	}
}

// groupAnswers sends each group API for group "g" and returns its error.
func groupAnswers(t *testing.T, h *Handler) map[string]int16 {
	out := map[string]int16{}
	join := kmsg.NewPtrJoinGroupRequest()
	join.SetVersion(9)
	join.Group, join.ProtocolType, join.SessionTimeoutMillis = "g", "consumer", 10000
	out["JoinGroup"] = answerAs(t, h, join).(*kmsg.JoinGroupResponse).ErrorCode
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.SetVersion(5)
	sync.Group = "g"
	out["SyncGroup"] = answerAs(t, h, sync).(*kmsg.SyncGroupResponse).ErrorCode
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.SetVersion(4)
	hb.Group = "g"
	out["Heartbeat"] = answerAs(t, h, hb).(*kmsg.HeartbeatResponse).ErrorCode
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.SetVersion(5)
	leave.Group = "g"
	out["LeaveGroup"] = answerAs(t, h, leave).(*kmsg.LeaveGroupResponse).ErrorCode
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.SetVersion(8)
	commit.Group, commit.Generation = "g", -1
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic, ct.Partitions = "t", []kmsg.OffsetCommitRequestTopicPartition{kmsg.NewOffsetCommitRequestTopicPartition()}
	commit.Topics = append(commit.Topics, ct)
	out["OffsetCommit"] = answerAs(t, h, commit).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.SetVersion(7)
	fetch.Group = "g"
	out["OffsetFetch v7"] = answerAs(t, h, fetch).(*kmsg.OffsetFetchResponse).ErrorCode
	fetch8 := kmsg.NewPtrOffsetFetchRequest()
	fetch8.SetVersion(8)
	fg := kmsg.NewOffsetFetchRequestGroup()
	fg.Group = "g"
	fetch8.Groups = append(fetch8.Groups, fg)
	out["OffsetFetch v8"] = answerAs(t, h, fetch8).(*kmsg.OffsetFetchResponse).Groups[0].ErrorCode
	find := kmsg.NewPtrFindCoordinatorRequest()
	find.SetVersion(3)
	find.CoordinatorKey = "g"
	out["FindCoordinator"] = answerAs(t, h, find).(*kmsg.FindCoordinatorResponse).ErrorCode
	describe := kmsg.NewPtrDescribeGroupsRequest()
	describe.SetVersion(5)
	describe.Groups = []string{"g"}
	out["DescribeGroups"] = answerAs(t, h, describe).(*kmsg.DescribeGroupsResponse).Groups[0].ErrorCode
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.SetVersion(2)
	del.Groups = []string{"g"}
	out["DeleteGroups"] = answerAs(t, h, del).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode
	odel := kmsg.NewPtrOffsetDeleteRequest()
	odel.Group = "g"
	out["OffsetDelete"] = answerAs(t, h, odel).(*kmsg.OffsetDeleteResponse).ErrorCode
	return out
}

// TestAuthorizeDenyOneTopic: denying one topic fails only that topic's
// partitions, hides it from an all-topics Metadata, and the hook hears
// the request's principal with Kafka's operation and resource.
func TestAuthorizeDenyOneTopic(t *testing.T) {
	h := protoHandler(t)
	for _, name := range []string{"open", "secret"} {
		if st := protoCreate(t, h, name, 1, 1, false); st.ErrorCode != 0 {
			t.Fatalf("create %s: %v", name, code(st.ErrorCode))
		}
	}
	type check struct {
		who      protocol.Principal
		op       kmsg.ACLOperation
		resource kmsg.ACLResourceType
		name     string
	}
	var mu sync.Mutex
	var checks []check
	h.b.Authorize = func(_ context.Context, who protocol.Principal, op kmsg.ACLOperation, resource kmsg.ACLResourceType, name string) bool {
		mu.Lock()
		checks = append(checks, check{who, op, resource, name})
		mu.Unlock()
		return !(resource == kmsg.ACLResourceTypeTopic && name == "secret")
	}
	taf := kerr.TopicAuthorizationFailed.Code

	produced := answerAs(t, h, produceTo(t, oneRecord(t), "open", "secret")).(*kmsg.ProduceResponse)
	if c := produced.Topics[0].Partitions[0].ErrorCode; c != 0 {
		t.Errorf("produce to open: %s", code(c))
	}
	if c := produced.Topics[1].Partitions[0].ErrorCode; c != taf {
		t.Errorf("produce to secret: %s, want %s", code(c), code(taf))
	}
	fetched := answerAs(t, h, fetchFrom("open", "secret")).(*FetchResponse)
	defer fetched.Release()
	if c := fetched.Topics[0].Partitions[0].ErrorCode; c != 0 {
		t.Errorf("fetch from open: %s", code(c))
	}
	if c := fetched.Topics[1].Partitions[0].ErrorCode; c != taf {
		t.Errorf("fetch from secret: %s, want %s", code(c), code(taf))
	}
	all := metadataNames(answerAs(t, h, metadataFor()).(*kmsg.MetadataResponse))
	if _, listed := all["secret"]; listed || all["open"] != 0 {
		t.Errorf("metadata for every topic: %v, want open alone", all)
	}
	mu.Lock()
	defer mu.Unlock()
	want := check{alice, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, "secret"}
	if !slices.Contains(checks, want) {
		t.Errorf("the hook never heard %+v; it heard %+v", want, checks)
	}
	for _, c := range checks {
		if c.who != alice {
			t.Errorf("the hook heard principal %v, want %v", c.who, alice)
		}
	}
}
