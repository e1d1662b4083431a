package handler

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/testutil/brokertest"
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

// denyAll is a hook that allows nothing.
func denyAll(context.Context, protocol.Principal, kmsg.ACLOperation, kmsg.ACLResourceType, string) bool {
	return false
}

// denyTopic is a hook that allows everything but any operation on topic.
func denyTopic(topic string) Authorizer {
	return func(_ context.Context, _ protocol.Principal, _ kmsg.ACLOperation, resource kmsg.ACLResourceType, name string) bool {
		return !(resource == kmsg.ACLResourceTypeTopic && name == topic)
	}
}

func listOffsetsFor(topics ...string) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.SetVersion(8)
	req.ReplicaID = -1
	for _, topic := range topics {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.CurrentLeaderEpoch = timestampLatest, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// deleteRecordsIn asks to delete every record below the high watermark.
func deleteRecordsIn(topics ...string) *kmsg.DeleteRecordsRequest {
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.SetVersion(2)
	req.TimeoutMillis = 5000
	for _, topic := range topics {
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Offset = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// configResource names a config resource: a topic, or this broker when
// topic is "".
type configResource struct {
	typ  kmsg.ConfigResourceType
	name string
}

func topicConfig(name string) configResource {
	return configResource{kmsg.ConfigResourceTypeTopic, name}
}

var brokerConfig = configResource{kmsg.ConfigResourceTypeBroker, ""}

func describeConfigsOf(resources ...configResource) *kmsg.DescribeConfigsRequest {
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.SetVersion(4)
	for _, r := range resources {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = r.typ, r.name
		req.Resources = append(req.Resources, rr)
	}
	return req
}

// alterRetention sets retention.ms=1000 on each resource, replacing its
// overrides.
func alterRetention(resources ...configResource) *kmsg.AlterConfigsRequest {
	req := kmsg.NewPtrAlterConfigsRequest()
	req.SetVersion(2)
	for _, r := range resources {
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = r.typ, r.name
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name, c.Value = "retention.ms", kmsg.StringPtr("1000")
		rr.Configs = append(rr.Configs, c)
		req.Resources = append(req.Resources, rr)
	}
	return req
}

// setRetention sets retention.ms=2000 on each resource with SET.
func setRetention(resources ...configResource) *kmsg.IncrementalAlterConfigsRequest {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.SetVersion(1)
	for _, r := range resources {
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = r.typ, r.name
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = "retention.ms", opSet, kmsg.StringPtr("2000")
		rr.Configs = append(rr.Configs, c)
		req.Resources = append(req.Resources, rr)
	}
	return req
}

// growTo asks for count partitions in each topic.
func growTo(count int32, topics ...string) *kmsg.CreatePartitionsRequest {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.SetVersion(3)
	req.TimeoutMillis = 5000
	for _, topic := range topics {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = topic, count
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func describeClusterReq(withOperations bool) *kmsg.DescribeClusterRequest {
	req := kmsg.NewPtrDescribeClusterRequest()
	req.SetVersion(1)
	req.EndpointType, req.IncludeClusterAuthorizedOperations = endpointTypeBrokers, withOperations
	return req
}

func idempotentProducerID() *kmsg.InitProducerIDRequest {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.SetVersion(4)
	req.ProducerID, req.ProducerEpoch = -1, -1
	return req
}

// logStart is partition 0's log start offset.
func logStart(t *testing.T, h *Handler, topic string) int64 {
	t.Helper()
	p, err := h.b.Replicas.Leader(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p.LogStartOffset()
}

// topicState is what the admin APIs may change about a topic.
type topicState struct {
	partitions int32
	configs    string
	logStart   int64
}

func stateOf(t *testing.T, h *Handler, topic string) topicState {
	t.Helper()
	tp, ok := h.b.Meta.Image().Topics[topic]
	if !ok {
		t.Fatalf("topic %s is gone", topic)
	}
	return topicState{tp.Partitions, fmt.Sprint(tp.Configs), logStart(t, h, topic)}
}

// withRecord creates each topic with one partition holding one record.
func withRecord(t *testing.T, h *Handler, topics ...string) {
	t.Helper()
	for _, name := range topics {
		if st := protoCreate(t, h, name, 1, 1, false); st.ErrorCode != 0 {
			t.Fatalf("create %s: %v", name, code(st.ErrorCode))
		}
	}
	for _, tp := range answerAs(t, h, produceTo(t, oneRecord(t), topics...)).(*kmsg.ProduceResponse).Topics {
		if c := tp.Partitions[0].ErrorCode; c != 0 {
			t.Fatalf("produce to %s: %s", tp.Topic, code(c))
		}
	}
}

// TestAuthorizeDenyAllAdmin: the admin and offset APIs answer a principal
// allowed nothing with Kafka's codes in Kafka's places, and change
// nothing: no records deleted, no config altered, no partition added, no
// producer id handed out.
func TestAuthorizeDenyAllAdmin(t *testing.T) {
	h := protoHandler(t)
	withRecord(t, h, "t")
	before := stateOf(t, h, "t")
	h.b.Authorize = denyAll
	taf, caf := kerr.TopicAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Code

	for _, topic := range []string{"t", "missing"} {
		lo := answerAs(t, h, listOffsetsFor(topic)).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if lo.ErrorCode != taf || lo.Offset != -1 || lo.Timestamp != -1 {
			t.Errorf("list offsets of %s: %s at offset %d timestamp %d, want %s at -1, -1", topic, code(lo.ErrorCode), lo.Offset, lo.Timestamp, code(taf))
		}
		dr := answerAs(t, h, deleteRecordsIn(topic)).(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0]
		if dr.ErrorCode != taf || dr.LowWatermark != -1 {
			t.Errorf("delete records of %s: %s with low watermark %d, want %s at -1", topic, code(dr.ErrorCode), dr.LowWatermark, code(taf))
		}
		cp := answerAs(t, h, growTo(3, topic)).(*kmsg.CreatePartitionsResponse).Topics[0]
		if cp.ErrorCode != taf {
			t.Errorf("create partitions in %s: %s, want %s", topic, code(cp.ErrorCode), code(taf))
		}
	}
	checkConfigDenials(t, h)
	dirs := answerAs(t, h, kmsg.NewPtrDescribeLogDirsRequest()).(*kmsg.DescribeLogDirsResponse)
	if dirs.ErrorCode != caf || len(dirs.Dirs) != 0 {
		t.Errorf("describe log dirs: %s with %d dirs, want %s and none", code(dirs.ErrorCode), len(dirs.Dirs), code(caf))
	}
	cluster := answerAs(t, h, describeClusterReq(true)).(*kmsg.DescribeClusterResponse)
	if cluster.ErrorCode != 0 || cluster.ClusterAuthorizedOperations != 0 || len(cluster.Brokers) != 1 {
		t.Errorf("describe cluster: %s, operations %#x, %d brokers; want no error, no operations, the one broker",
			code(cluster.ErrorCode), cluster.ClusterAuthorizedOperations, len(cluster.Brokers))
	}
	pid := answerAs(t, h, idempotentProducerID()).(*kmsg.InitProducerIDResponse)
	if pid.ErrorCode != caf || pid.ProducerID != -1 {
		t.Errorf("init producer id: %s with id %d, want %s and -1", code(pid.ErrorCode), pid.ProducerID, code(caf))
	}
	if after := stateOf(t, h, "t"); after != before {
		t.Errorf("denied requests changed topic t from %+v to %+v", before, after)
	}
	if _, ok := h.b.Meta.Image().Topics["missing"]; ok {
		t.Errorf("a denied request created topic missing")
	}
}

// checkConfigDenials: describing or altering a topic's configs is
// TOPIC_AUTHORIZATION_FAILED and the broker's CLUSTER_AUTHORIZATION_FAILED,
// with Kafka's messages and no configs, under a deny-all hook.
func checkConfigDenials(t *testing.T, h *Handler) {
	t.Helper()
	want := []struct {
		code    int16
		message string
	}{
		{kerr.TopicAuthorizationFailed.Code, "Topic authorization failed."},
		{kerr.ClusterAuthorizationFailed.Code, "Cluster authorization failed."},
	}
	check := func(api string, i int, c int16, message *string) {
		t.Helper()
		if c != want[i].code || message == nil || *message != want[i].message {
			t.Errorf("%s of resource %d: %s %v, want %s %q", api, i, code(c), message, code(want[i].code), want[i].message)
		}
	}
	resources := []configResource{topicConfig("t"), brokerConfig}
	for i, r := range answerAs(t, h, describeConfigsOf(resources...)).(*kmsg.DescribeConfigsResponse).Resources {
		check("describe configs", i, r.ErrorCode, r.ErrorMessage)
		if len(r.Configs) != 0 {
			t.Errorf("describe configs of resource %d: %d configs for a denied principal", i, len(r.Configs))
		}
	}
	for i, r := range answerAs(t, h, alterRetention(resources...)).(*kmsg.AlterConfigsResponse).Resources {
		check("alter configs", i, r.ErrorCode, r.ErrorMessage)
	}
	for i, r := range answerAs(t, h, setRetention(resources...)).(*kmsg.IncrementalAlterConfigsResponse).Resources {
		check("incremental alter configs", i, r.ErrorCode, r.ErrorMessage)
	}
}

// TestAuthorizeDenyOneTopicAdmin: a hook that denies one topic fails that
// topic alone in each admin API, and the other topic's request goes
// through.
func TestAuthorizeDenyOneTopicAdmin(t *testing.T) {
	h := protoHandler(t)
	withRecord(t, h, "open", "secret")
	secretBefore := stateOf(t, h, "secret")
	h.b.Authorize = denyTopic("secret")
	taf := kerr.TopicAuthorizationFailed.Code
	// codes collects each API's code for open and secret, in that order.
	codes := map[string][2]int16{}
	lo := answerAs(t, h, listOffsetsFor("open", "secret")).(*kmsg.ListOffsetsResponse).Topics
	codes["ListOffsets"] = [2]int16{lo[0].Partitions[0].ErrorCode, lo[1].Partitions[0].ErrorCode}
	if lo[0].Partitions[0].Offset != 1 {
		t.Errorf("list offsets of open: latest %d, want 1", lo[0].Partitions[0].Offset)
	}
	dc := answerAs(t, h, describeConfigsOf(topicConfig("open"), topicConfig("secret"), brokerConfig)).(*kmsg.DescribeConfigsResponse).Resources
	codes["DescribeConfigs"] = [2]int16{dc[0].ErrorCode, dc[1].ErrorCode}
	if dc[2].ErrorCode != 0 || len(dc[0].Configs) == 0 || len(dc[2].Configs) == 0 {
		t.Errorf("describe configs of open and the broker: %s, %s with %d and %d configs", code(dc[0].ErrorCode), code(dc[2].ErrorCode), len(dc[0].Configs), len(dc[2].Configs))
	}
	ac := answerAs(t, h, alterRetention(topicConfig("open"), topicConfig("secret"))).(*kmsg.AlterConfigsResponse).Resources
	codes["AlterConfigs"] = [2]int16{ac[0].ErrorCode, ac[1].ErrorCode}
	ic := answerAs(t, h, setRetention(topicConfig("open"), topicConfig("secret"))).(*kmsg.IncrementalAlterConfigsResponse).Resources
	codes["IncrementalAlterConfigs"] = [2]int16{ic[0].ErrorCode, ic[1].ErrorCode}
	cp := answerAs(t, h, growTo(2, "open", "secret")).(*kmsg.CreatePartitionsResponse).Topics
	codes["CreatePartitions"] = [2]int16{cp[0].ErrorCode, cp[1].ErrorCode}
	dr := answerAs(t, h, deleteRecordsIn("open", "secret")).(*kmsg.DeleteRecordsResponse).Topics
	codes["DeleteRecords"] = [2]int16{dr[0].Partitions[0].ErrorCode, dr[1].Partitions[0].ErrorCode}
	for api, c := range codes {
		if c[0] != 0 || c[1] != taf {
			t.Errorf("%s: open %s and secret %s, want no error and %s", api, code(c[0]), code(c[1]), code(taf))
		}
	}
	if got, want := stateOf(t, h, "open"), (topicState{2, "map[retention.ms:2000]", 1}); got != want {
		t.Errorf("open after the allowed requests: %+v, want %+v", got, want)
	}
	if after := stateOf(t, h, "secret"); after != secretBefore {
		t.Errorf("denied requests changed secret from %+v to %+v", secretBefore, after)
	}
	if pid := answerAs(t, h, idempotentProducerID()).(*kmsg.InitProducerIDResponse); pid.ErrorCode != 0 || pid.ProducerID < 0 {
		t.Errorf("init producer id with IDEMPOTENT_WRITE on the cluster: %s, id %d", code(pid.ErrorCode), pid.ProducerID)
	}
}

// heard is one question the hook heard.
type heard struct {
	op       kmsg.ACLOperation
	resource kmsg.ACLResourceType
	name     string
}

// recorder is a hook that answers with allow and records what it heard.
type recorder struct {
	mu    sync.Mutex
	heard []heard // guarded by mu
	allow func(heard) bool
}

func (r *recorder) authorize(_ context.Context, _ protocol.Principal, op kmsg.ACLOperation, resource kmsg.ACLResourceType, name string) bool {
	q := heard{op, resource, name}
	r.mu.Lock()
	r.heard = append(r.heard, q)
	r.mu.Unlock()
	return r.allow(q)
}

// take returns what the hook heard since the last take.
func (r *recorder) take() []heard {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.heard
	r.heard = nil
	return out
}

// TestAuthorizeAsksKafkasQuestions: each API asks the hook Kafka's
// question about Kafka's resource, and nothing else, before a denial.
func TestAuthorizeAsksKafkasQuestions(t *testing.T) {
	h := protoHandler(t)
	withRecord(t, h, "t")
	rec := &recorder{allow: func(heard) bool { return false }}
	h.b.Authorize = rec.authorize
	topic := func(op kmsg.ACLOperation) heard { return heard{op, kmsg.ACLResourceTypeTopic, "t"} }
	cluster := func(op kmsg.ACLOperation) heard { return heard{op, kmsg.ACLResourceTypeCluster, "kafka-cluster"} }
	cases := []struct {
		req  kmsg.Request
		want []heard
	}{
		{listOffsetsFor("t"), []heard{topic(kmsg.ACLOperationDescribe)}},
		{deleteRecordsIn("t"), []heard{topic(kmsg.ACLOperationDelete)}},
		{growTo(2, "t"), []heard{topic(kmsg.ACLOperationAlter)}},
		{describeConfigsOf(topicConfig("t"), brokerConfig), []heard{topic(kmsg.ACLOperationDescribeConfigs), cluster(kmsg.ACLOperationDescribeConfigs)}},
		{alterRetention(topicConfig("t"), brokerConfig), []heard{topic(kmsg.ACLOperationAlterConfigs), cluster(kmsg.ACLOperationAlterConfigs)}},
		{setRetention(topicConfig("t"), brokerConfig), []heard{topic(kmsg.ACLOperationAlterConfigs), cluster(kmsg.ACLOperationAlterConfigs)}},
		{kmsg.NewPtrDescribeLogDirsRequest(), []heard{cluster(kmsg.ACLOperationDescribe)}},
		{describeClusterReq(true), []heard{cluster(kmsg.ACLOperationDescribe)}},
		{describeClusterReq(false), nil},
		{idempotentProducerID(), []heard{cluster(kmsg.ACLOperationIdempotentWrite), topic(kmsg.ACLOperationWrite)}},
	}
	for _, tc := range cases {
		answerAs(t, h, tc.req)
		if got := rec.take(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: the hook heard %+v, want %+v", kmsg.NameForKey(tc.req.Key()), got, tc.want)
		}
	}
}

// TestAuthorizeInitProducerIDByTopicWrite: without IDEMPOTENT_WRITE on
// the cluster, WRITE on any existing topic is enough for a producer id
// (Kafka 3.0+); the hook is asked about topics in name order until one is
// allowed, and WRITE only on a topic that does not exist is not enough.
func TestAuthorizeInitProducerIDByTopicWrite(t *testing.T) {
	h := protoHandler(t)
	for _, name := range []string{"c", "a", "b"} {
		if st := protoCreate(t, h, name, 1, 1, false); st.ErrorCode != 0 {
			t.Fatalf("create %s: %v", name, code(st.ErrorCode))
		}
	}
	for _, tc := range []struct {
		writable string
		want     int16
		asked    []string
	}{
		{"b", 0, []string{"a", "b"}},
		{"missing", kerr.ClusterAuthorizationFailed.Code, []string{"a", "b", "c"}},
	} {
		rec := &recorder{allow: func(q heard) bool {
			return q.op == kmsg.ACLOperationWrite && q.resource == kmsg.ACLResourceTypeTopic && q.name == tc.writable
		}}
		h.b.Authorize = rec.authorize
		resp := answerAs(t, h, idempotentProducerID()).(*kmsg.InitProducerIDResponse)
		if resp.ErrorCode != tc.want || (resp.ProducerID >= 0) != (tc.want == 0) {
			t.Errorf("WRITE on %s alone: %s with producer id %d, want %s", tc.writable, code(resp.ErrorCode), resp.ProducerID, code(tc.want))
		}
		var asked []string
		for _, q := range rec.take() {
			if q.resource == kmsg.ACLResourceTypeTopic {
				asked = append(asked, q.name)
			}
		}
		if !slices.Equal(asked, tc.asked) {
			t.Errorf("WRITE on %s alone: asked about topics %v, want %v", tc.writable, asked, tc.asked)
		}
	}
}

// TestAuthorizeDescribeClusterOperations: DescribeCluster's authorized
// operations are Kafka's bit field of the cluster operations the hook
// allows (all seven without a hook), and only when the client asks.
func TestAuthorizeDescribeClusterOperations(t *testing.T) {
	h := protoHandler(t)
	all := int32(1<<kmsg.ACLOperationCreate | 1<<kmsg.ACLOperationClusterAction | 1<<kmsg.ACLOperationDescribeConfigs |
		1<<kmsg.ACLOperationAlterConfigs | 1<<kmsg.ACLOperationIdempotentWrite | 1<<kmsg.ACLOperationAlter | 1<<kmsg.ACLOperationDescribe)
	noAlter := func(_ context.Context, _ protocol.Principal, op kmsg.ACLOperation, _ kmsg.ACLResourceType, _ string) bool {
		return op != kmsg.ACLOperationAlter
	}
	for _, tc := range []struct {
		name  string
		hook  Authorizer
		asked bool
		want  int32
	}{
		{"no hook", nil, true, all},
		{"all but ALTER", noAlter, true, all &^ (1 << kmsg.ACLOperationAlter)},
		{"deny all", denyAll, true, 0},
		{"not asked for", denyAll, false, math.MinInt32},
	} {
		h.b.Authorize = tc.hook
		resp := answerAs(t, h, describeClusterReq(tc.asked)).(*kmsg.DescribeClusterResponse)
		if resp.ClusterAuthorizedOperations != tc.want || len(resp.Brokers) != 1 {
			t.Errorf("%s: operations %#x with %d brokers, want %#x with the one broker", tc.name, resp.ClusterAuthorizedOperations, len(resp.Brokers), tc.want)
		}
	}
}

// groupHandler is protoHandler with a group coordinator over the offsets
// topic (one partition), as internal/broker assembles it.
func groupHandler(t *testing.T) *Handler {
	t.Helper()
	p := brokertest.Open(t, map[string]string{"offsets.topic.num.partitions": "1"})
	gcfg := group.ConfigFrom(p.Config)
	gcfg.Storage = group.NewReplicaStorage(p.Meta, p.Replicas, p.Topics.CreateInternalTopic, p.Topics.OffsetsMinInsync)
	gcfg.Owns, gcfg.Logger = p.Topics.OwnsGroup, p.Logger
	groups, err := group.Start(gcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(groups.Close)
	return New(Broker{NodeID: p.Config.NodeID(), Host: brokertest.Host, Port: brokertest.Port, Config: p.Config,
		Meta: p.Meta, Replicas: p.Replicas, ProducerIDs: p.ProducerIDs, Groups: groups, Topics: p.Topics, Logger: p.Logger})
}

// commitOffset commits offset for partition 0 of each topic in group g,
// outside group management.
func commitOffset(t *testing.T, h *Handler, offset int64, topics ...string) {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.SetVersion(8)
	req.Group, req.Generation = "g", -1
	for _, topic := range topics {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = offset
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	for _, st := range answerAs(t, h, req).(*kmsg.OffsetCommitResponse).Topics {
		if c := st.Partitions[0].ErrorCode; c != 0 {
			t.Fatalf("commit to %s: %s", st.Topic, code(c))
		}
	}
}

// committed is an OffsetFetch answer: offset and code by topic.
type committed map[string]struct {
	offset int64
	code   int16
}

// fetchCommitted asks group g for partition 0 of topics (nil: every
// topic) at version, and returns the answer by topic.
func fetchCommitted(t *testing.T, h *Handler, version int16, topics ...string) committed {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.SetVersion(version)
	req.Group = "g"
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = "g"
	if topics != nil {
		req.Topics, rg.Topics = []kmsg.OffsetFetchRequestTopic{}, []kmsg.OffsetFetchRequestGroupTopic{}
	}
	for _, topic := range topics {
		req.Topics = append(req.Topics, kmsg.OffsetFetchRequestTopic{Topic: topic, Partitions: []int32{0}})
		rg.Topics = append(rg.Topics, kmsg.OffsetFetchRequestGroupTopic{Topic: topic, Partitions: []int32{0}})
	}
	out := committed{}
	put := func(topic string, offset int64, c int16) {
		out[topic] = struct {
			offset int64
			code   int16
		}{offset, c}
	}
	if version >= 8 {
		req.Groups = append(req.Groups, rg)
		g := answerAs(t, h, req).(*kmsg.OffsetFetchResponse).Groups[0]
		if g.ErrorCode != 0 {
			t.Fatalf("offset fetch v%d: %s", version, code(g.ErrorCode))
		}
		for _, st := range g.Topics {
			put(st.Topic, st.Partitions[0].Offset, st.Partitions[0].ErrorCode)
		}
		return out
	}
	resp := answerAs(t, h, req).(*kmsg.OffsetFetchResponse)
	if resp.ErrorCode != 0 {
		t.Fatalf("offset fetch v%d: %s", version, code(resp.ErrorCode))
	}
	for _, st := range resp.Topics {
		put(st.Topic, st.Partitions[0].Offset, st.Partitions[0].ErrorCode)
	}
	return out
}

// TestAuthorizeOffsetFetchTopics: a principal that may describe the group
// but not topic secret gets TOPIC_AUTHORIZATION_FAILED and offset -1 for
// secret when it names it, at every version, and does not see it when it
// fetches every topic; open's offsets come through.
func TestAuthorizeOffsetFetchTopics(t *testing.T) {
	h := groupHandler(t)
	withRecord(t, h, "open", "secret")
	commitOffset(t, h, 1, "open", "secret")
	h.b.Authorize = denyTopic("secret")
	taf := kerr.TopicAuthorizationFailed.Code
	for _, version := range []int16{1, 7, 8} {
		got := fetchCommitted(t, h, version, "open", "secret")
		if o, s := got["open"], got["secret"]; o.offset != 1 || o.code != 0 || s.offset != -1 || s.code != taf || len(got) != 2 {
			t.Errorf("v%d, open and secret: %+v, want open at 1 and secret %s at -1", version, got, code(taf))
		}
	}
	for _, version := range []int16{7, 8} {
		got := fetchCommitted(t, h, version)
		if o, listed := got["open"]; !listed || o.offset != 1 || len(got) != 1 {
			t.Errorf("v%d, every topic: %+v, want open alone at 1", version, got)
		}
	}
	h.b.Authorize = nil
	if got := fetchCommitted(t, h, 8); len(got) != 2 {
		t.Errorf("every topic without a hook: %+v, want open and secret", got)
	}
}

// TestAuthorizeOffsetDeleteTopics: OffsetDelete needs READ on each topic:
// secret's partitions are TOPIC_AUTHORIZATION_FAILED and keep their
// offsets, open's are deleted.
func TestAuthorizeOffsetDeleteTopics(t *testing.T) {
	h := groupHandler(t)
	withRecord(t, h, "open", "secret")
	commitOffset(t, h, 1, "open", "secret")
	rec := &recorder{allow: func(q heard) bool { return !(q.resource == kmsg.ACLResourceTypeTopic && q.name == "secret") }}
	h.b.Authorize = rec.authorize
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = "g"
	for _, topic := range []string{"open", "secret"} {
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
		req.Topics = append(req.Topics, rt)
	}
	resp := answerAs(t, h, req).(*kmsg.OffsetDeleteResponse)
	codes := map[string]int16{}
	for _, st := range resp.Topics {
		codes[st.Topic] = st.Partitions[0].ErrorCode
	}
	if want := map[string]int16{"open": 0, "secret": kerr.TopicAuthorizationFailed.Code}; resp.ErrorCode != 0 || !maps.Equal(codes, want) {
		t.Errorf("offset delete: %s, partitions %v, want no error and %v", code(resp.ErrorCode), codes, want)
	}
	if want := (heard{kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, "secret"}); !slices.Contains(rec.take(), want) {
		t.Errorf("the hook never heard %+v", want)
	}
	h.b.Authorize = nil
	if got := fetchCommitted(t, h, 8); got["secret"].offset != 1 || len(got) != 1 {
		t.Errorf("committed after the delete: %+v, want secret alone at 1", got)
	}
}
