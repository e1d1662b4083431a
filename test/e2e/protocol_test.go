package e2e

// Protocol tests against a real sluice process over raw TCP: frames are
// written by hand (size, api key, version, correlation id, client id, tag
// section) and bodies with kmsg, so framing mistakes a client library
// would hide show up here.

import (
	encbin "encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// protoRSSMaxKB bounds the broker's peak resident memory in the tests that
// send hostile frames.
const protoRSSMaxKB = 200 << 10

// protoDial is a raw Kafka connection to addr for the test's length.
func protoDial(t testing.TB, addr string) *testutil.Conn { return testutil.Dial(t, addr) }

// protoDecode decodes a response body after the correlation id, failing
// the test if it does not decode.
func protoDecode(t testing.TB, key, version int16, body []byte) kmsg.Response {
	t.Helper()
	resp, err := testutil.DecodeResponse(key, version, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// protoMemoryKB reads the broker process's VmRSS and VmHWM (peak).
func protoMemoryKB(t testing.TB, b *Broker) (rss, peak int) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read broker memory: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		n, _ := strconv.Atoi(fields[1])
		switch fields[0] {
		case "VmRSS:":
			rss = n
		case "VmHWM:":
			peak = n
		}
	}
	return rss, peak
}

func protoApiVersions(v int16) *kmsg.ApiVersionsRequest {
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(v)
	if v >= 3 {
		req.ClientSoftwareName, req.ClientSoftwareVersion = "sluice-protocol-test", "1.0"
	}
	return req
}

// protoMetadata asks for topics; nil asks for all (v1+), an empty non-nil
// slice for none (v1+) or all (v0).
func protoMetadata(v int16, topics []string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(v)
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = testutil.Str(name)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func protoCreateTopic(t testing.TB, pc *testutil.Conn, name string, partitions int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.SetVersion(7)
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp := pc.RoundTrip(req, 1<<20).(*kmsg.CreateTopicsResponse)
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create topic %s: %v", name, kerr.ErrorForCode(code))
	}
}

// protoProduce is a Produce request of one batch to one partition.
func protoProduce(version int16, acks int16, topic string, partition int32, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(version)
	req.Acks, req.TimeoutMillis = acks, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// protoFetch fetches one partition from offset.
func protoFetch(version int16, topic string, partition int32, offset int64, maxWaitMs, minBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(version)
	req.ReplicaID = -1
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = maxWaitMs, minBytes, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// protoAdvertised is the broker's table as the handler package declares
// it, keyed by API key.
func protoAdvertised() map[int16]kmsg.ApiVersionsResponseApiKey {
	out := map[int16]kmsg.ApiVersionsResponseApiKey{}
	for _, k := range protocol.UnsupportedApiVersions().ApiKeys {
		out[k.ApiKey] = k
	}
	return out
}

func protoCheckTable(t testing.TB, what string, keys []kmsg.ApiVersionsResponseApiKey) {
	t.Helper()
	want := protoAdvertised()
	if len(keys) != len(want) {
		t.Errorf("%s: %d API keys, want %d", what, len(keys), len(want))
	}
	seen := map[int16]bool{}
	for _, k := range keys {
		w, ok := want[k.ApiKey]
		if !ok || w.MinVersion != k.MinVersion || w.MaxVersion != k.MaxVersion {
			t.Errorf("%s: %s %d-%d, want %d-%d (advertised %v)", what, kmsg.NameForKey(k.ApiKey), k.MinVersion, k.MaxVersion, w.MinVersion, w.MaxVersion, ok)
		}
		if seen[k.ApiKey] {
			t.Errorf("%s: %s listed twice", what, kmsg.NameForKey(k.ApiKey))
		}
		seen[k.ApiKey] = true
		if max := kmsg.RequestForKey(k.ApiKey).MaxVersion(); k.MaxVersion > max {
			t.Errorf("%s: %s advertised up to v%d, beyond what kmsg knows (v%d)", what, kmsg.NameForKey(k.ApiKey), k.MaxVersion, max)
		}
	}
	// Clients need ApiVersions v0 and Metadata v0/v1 (kafka-python).
	for key, v := range map[int16]int16{kmsg.ApiVersions.Int16(): 0, kmsg.Metadata.Int16(): 0} {
		if k, ok := want[key]; !ok || k.MinVersion > v {
			t.Errorf("%s: %s v%d is not advertised", what, kmsg.NameForKey(key), v)
		}
	}
}

func TestProtocol(t *testing.T) {
	b := StartBroker(t)
	t.Run("ApiVersions", func(t *testing.T) { protoTestApiVersions(t, b) })
	t.Run("UnsupportedCloses", func(t *testing.T) { protoTestUnsupportedCloses(t, b) })
	t.Run("Oversized", func(t *testing.T) { protoTestOversized(t, b) })
	t.Run("Garbage", func(t *testing.T) { protoTestGarbage(t, b) })
	t.Run("Pipelining", func(t *testing.T) { protoTestPipelining(t, b) })
	t.Run("KafkaPythonMetadata", func(t *testing.T) { protoTestKafkaPythonMetadata(t, b) })
	t.Run("FetchWait", func(t *testing.T) { protoTestFetchWait(t, b) })
	rss, peak := protoMemoryKB(t, b)
	t.Logf("broker memory after the protocol tests: VmRSS %d kB, VmHWM %d kB", rss, peak)
	if peak > protoRSSMaxKB {
		t.Errorf("broker peak RSS %d kB, want under %d kB", peak, protoRSSMaxKB)
	}
}

// (a) ApiVersions at v0-v3 list the advertised table; a version from the
// future gets a v0 response with UNSUPPORTED_VERSION and the table, and
// the connection stays usable.
func protoTestApiVersions(t *testing.T, b *Broker) {
	pc := protoDial(t, b.Addr)
	for v := int16(0); v <= 3; v++ {
		pc.Send(protoApiVersions(v), int32(100+v))
		corr, body, err := pc.ReadFrame(testutil.IOTimeout)
		if err != nil || corr != int32(100+v) {
			t.Fatalf("v%d: correlation id %d, %v", v, corr, err)
		}
		// The response header is v0 at every version: the error code
		// follows the correlation id at once, no tag section.
		if len(body) < 2 || body[0] != 0 || body[1] != 0 {
			t.Fatalf("v%d: body starts %x, want error code 0 right after the correlation id", v, body[:min(len(body), 4)])
		}
		resp := protoDecode(t, kmsg.ApiVersions.Int16(), v, body).(*kmsg.ApiVersionsResponse)
		protoCheckTable(t, fmt.Sprintf("ApiVersions v%d", v), resp.ApiKeys)
	}
	for _, v := range []int16{4, 99, math.MaxInt16} {
		// A client at a newer version writes header v2, and a body we
		// cannot know: the broker must not try to parse it.
		body := append(testutil.RequestHeader(kmsg.ApiVersions.Int16(), v, 7, testutil.Str("future-client"), true), 0x03, 0x01, 0x02, 0x03, 0x04)
		if err := pc.WriteFrame(body); err != nil {
			t.Fatal(err)
		}
		resp := pc.Recv(kmsg.ApiVersions.Int16(), 0, 7).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Errorf("ApiVersions v%d: error %d, want %d UNSUPPORTED_VERSION", v, resp.ErrorCode, kerr.UnsupportedVersion.Code)
		}
		protoCheckTable(t, fmt.Sprintf("ApiVersions v%d answer", v), resp.ApiKeys)
	}
	// The connection still works after the downgrade, as clients retry on
	// it.
	resp := pc.RoundTrip(protoApiVersions(3), 8).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 {
		t.Errorf("ApiVersions v3 after the downgrade: error %d", resp.ErrorCode)
	}
}

// (b) An unknown API key or a version outside the table closes the
// connection, as Kafka does (it cannot parse the request, so it has no
// response header to answer with); other connections keep working.
func protoTestUnsupportedCloses(t *testing.T, b *Broker) {
	bystander := protoDial(t, b.Addr)
	bystander.RoundTrip(protoApiVersions(0), 1)
	cases := []struct {
		name string
		body []byte
	}{
		{"unknown key 12345", testutil.RequestHeader(12345, 0, 5, testutil.Str("x"), false)},
		{"negative key", testutil.RequestHeader(-3, 0, 5, nil, false)},
		{"Metadata v13", append(testutil.RequestHeader(kmsg.Metadata.Int16(), 13, 5, nil, true), 0, 0, 0)},
		{"Metadata v-1", testutil.RequestHeader(kmsg.Metadata.Int16(), -1, 5, nil, false)},
		{"Produce v2", append(testutil.RequestHeader(kmsg.Produce.Int16(), 2, 5, nil, false), 0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)},
		{"Fetch v3", testutil.RequestHeader(kmsg.Fetch.Int16(), 3, 5, nil, false)},
		{"ConsumerGroupHeartbeat, not advertised", testutil.RequestHeader(kmsg.ConsumerGroupHeartbeat.Int16(), 0, 5, nil, false)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pc := protoDial(t, b.Addr)
			pc.RoundTrip(protoMetadata(1, []string{}), 4)
			if err := pc.WriteFrame(tc.body); err != nil {
				t.Fatal(err)
			}
			pc.ExpectClosed()
			bystander.RoundTrip(protoMetadata(9, nil), 6)
			protoDial(t, b.Addr).RoundTrip(protoApiVersions(3), 7)
		})
	}
}

// (c) A frame over the limits is refused from its size prefix: the
// connection closes and the broker does not allocate the claimed size,
// even when the client keeps streaming bytes.
func protoTestOversized(t *testing.T, b *Broker) {
	cases := []struct {
		name   string
		size   uint32
		key    int16
		stream int // bytes the client tries to send after the header
	}{
		{"2 GiB Produce", 1 << 31, kmsg.Produce.Int16(), 32 << 20},
		{"2 GiB - 1 Produce", 1<<31 - 1, kmsg.Produce.Int16(), 32 << 20},
		{"4 GiB - 1", math.MaxUint32, kmsg.Produce.Int16(), 1 << 20},
		{"1 MiB + 1 Metadata", 1<<20 + 1, kmsg.Metadata.Int16(), 1 << 20},
		{"1 GiB ApiVersions", 1 << 30, kmsg.ApiVersions.Int16(), 32 << 20},
		{"100 MiB + 1 Produce (socket.request.max.bytes)", 100<<20 + 1, kmsg.Produce.Int16(), 32 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pc := protoDial(t, b.Addr)
			frame := encbin.BigEndian.AppendUint32(nil, tc.size)
			frame = append(frame, testutil.RequestHeader(tc.key, 3, 1, testutil.Str("big"), false)...)
			if err := pc.Write(frame); err != nil {
				t.Fatal(err)
			}
			// Stream until the broker hangs up; with a closed socket
			// the writes fail (reset) long before the claimed size.
			chunk := make([]byte, 64<<10)
			for i := range chunk {
				chunk[i] = byte(i)
			}
			sent := 0
			for sent < tc.stream {
				if err := pc.WriteWithin(chunk, 2*time.Second); err != nil {
					break
				}
				sent += len(chunk)
			}
			pc.ExpectClosed()
			if _, peak := protoMemoryKB(t, b); peak > protoRSSMaxKB {
				t.Errorf("broker peak RSS %d kB after a %d-byte frame claim", peak, tc.size)
			}
			protoDial(t, b.Addr).RoundTrip(protoApiVersions(3), 2)
		})
	}
}

// (d) Garbage closes only the connection that sent it.
func protoTestGarbage(t *testing.T, b *Broker) {
	other := protoDial(t, b.Addr)
	other.RoundTrip(protoMetadata(4, nil), 1)
	garbage := [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), // claims a 1.1 GB frame
		{0, 0, 0, 3, 1, 2, 3},                               // frame shorter than a header
		{0, 0, 0, 0},                                        // empty frame
		{0xff, 0xff, 0xff, 0xfe, 0, 0},                      // negative size
		append([]byte{0, 0, 0, 12}, testutil.RequestHeader(kmsg.Metadata.Int16(), 1, 1, testutil.Str("abcdefghijklmnop"), false)[:12]...),     // client id past the frame
		append([]byte{0, 0, 0, 16}, append(testutil.RequestHeader(kmsg.Metadata.Int16(), 1, 1, nil, false), 0x7f, 0xff, 0xff, 0xff, 0, 0)...), // topic count past the frame
		append([]byte{0, 0, 0, 12}, append(testutil.RequestHeader(kmsg.Metadata.Int16(), 9, 1, nil, false), 0x05, 0x01)...),                   // tags past the frame
	}
	for i, g := range garbage {
		pc := protoDial(t, b.Addr)
		if err := pc.Write(g); err != nil {
			t.Fatal(err)
		}
		pc.ExpectClosed()
		other.RoundTrip(protoMetadata(1, nil), int32(10+i))
	}
}

// (e) 50 pipelined requests of mixed versions come back in order.
func protoTestPipelining(t *testing.T, b *Broker) {
	pc := protoDial(t, b.Addr)
	protoCreateTopic(t, pc, "proto-pipe", 3)
	const n = 50
	type sent struct {
		version int16
		corr    int32
	}
	var want []sent
	var out []byte
	for i := range n {
		v := int16(i % 13)
		corr := int32(1000 + 7*i)
		req := protoMetadata(v, []string{"proto-pipe"})
		out = testutil.AppendRequest(out, req, corr, testutil.Str("pipe"))
		want = append(want, sent{v, corr})
	}
	// One write: 50 frames back to back.
	if err := pc.Write(out); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		resp := pc.Recv(kmsg.Metadata.Int16(), w.version, w.corr).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 3 {
			t.Errorf("response %d (v%d): %+v", i, w.version, resp.Topics)
		}
	}
}

// (f) Metadata v0 and v1 as kafka-python 2.0.2 sends them (client id
// "kafka-python-2.0.2", ApiVersions v0 first).
func protoTestKafkaPythonMetadata(t *testing.T, b *Broker) {
	pc := protoDial(t, b.Addr)
	protoCreateTopic(t, pc, "proto-kp", 2)
	kp := testutil.Str("kafka-python-2.0.2")
	pc.SendAs(protoApiVersions(0), 1, kp)
	if resp := pc.Recv(kmsg.ApiVersions.Int16(), 0, 1).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions v0: error %d", resp.ErrorCode)
	}
	host, port, _ := net.SplitHostPort(b.Addr)
	call := func(v int16, topics []string, corr int32) *kmsg.MetadataResponse {
		t.Helper()
		req := protoMetadata(v, topics)
		pc.SendAs(req, corr, kp)
		resp := pc.Recv(kmsg.Metadata.Int16(), v, corr).(*kmsg.MetadataResponse)
		if len(resp.Brokers) != 1 || resp.Brokers[0].Host != host || strconv.Itoa(int(resp.Brokers[0].Port)) != port {
			t.Errorf("Metadata v%d brokers %+v, want %s", v, resp.Brokers, b.Addr)
		}
		if v >= 1 && resp.ControllerID != resp.Brokers[0].NodeID {
			t.Errorf("Metadata v%d controller %d, broker %d", v, resp.ControllerID, resp.Brokers[0].NodeID)
		}
		return resp
	}
	names := func(resp *kmsg.MetadataResponse) map[string]kmsg.MetadataResponseTopic {
		out := map[string]kmsg.MetadataResponseTopic{}
		for _, rt := range resp.Topics {
			if rt.Topic != nil {
				out[*rt.Topic] = rt
			}
		}
		return out
	}
	// v0: an empty list means every topic.
	all := names(call(0, []string{}, 2))
	if rt, ok := all["proto-kp"]; !ok || len(rt.Partitions) != 2 || rt.ErrorCode != 0 {
		t.Errorf("Metadata v0 all topics: proto-kp %+v (found %v)", rt, ok)
	}
	one := call(0, []string{"proto-kp"}, 3)
	if len(one.Topics) != 1 || len(one.Topics[0].Partitions) != 2 {
		t.Errorf("Metadata v0 [proto-kp]: %+v", one.Topics)
	} else {
		for _, p := range one.Topics[0].Partitions {
			if p.ErrorCode != 0 || p.Leader != one.Brokers[0].NodeID || len(p.Replicas) != 1 || len(p.ISR) != 1 {
				t.Errorf("Metadata v0 partition %+v", p)
			}
		}
	}
	// v1: null means every topic, empty means none.
	if all := names(call(1, nil, 4)); all["proto-kp"].Topic == nil {
		t.Errorf("Metadata v1 null topics: proto-kp missing")
	}
	if none := call(1, []string{}, 5); len(none.Topics) != 0 {
		t.Errorf("Metadata v1 empty topics: %d topics, want none", len(none.Topics))
	}
	v1 := call(1, []string{"proto-kp"}, 6)
	if len(v1.Topics) != 1 || v1.Topics[0].IsInternal || v1.Topics[0].ErrorCode != 0 {
		t.Errorf("Metadata v1 [proto-kp]: %+v", v1.Topics)
	}
	// Before v4 a request for an unknown topic auto-creates it when the
	// broker allows (auto.create.topics.enable defaults to true).
	auto := call(1, []string{"proto-kp-auto"}, 7)
	if len(auto.Topics) != 1 || auto.Topics[0].ErrorCode != 0 && auto.Topics[0].ErrorCode != kerr.LeaderNotAvailable.Code {
		t.Errorf("Metadata v1 auto-create: %+v", auto.Topics)
	}
	if again := names(call(1, nil, 8)); again["proto-kp-auto"].Topic == nil {
		t.Errorf("Metadata v1 auto-created topic is not listed")
	}
	// An invalid name is INVALID_TOPIC_EXCEPTION, not created.
	bad := call(1, []string{"a/b"}, 9)
	if len(bad.Topics) != 1 || bad.Topics[0].ErrorCode != kerr.InvalidTopicException.Code {
		t.Errorf("Metadata v1 [a/b]: %+v, want INVALID_TOPIC_EXCEPTION", bad.Topics)
	}
}

// (g) A Fetch with no data answers by MaxWaitMillis; with MinBytes 1 it
// answers as soon as a record is produced.
func protoTestFetchWait(t *testing.T, b *Broker) {
	pc := protoDial(t, b.Addr)
	protoCreateTopic(t, pc, "proto-wait", 1)
	for _, v := range []int16{4, 11, 12, 16} {
		req := protoFetch(v, "proto-wait", 0, 0, 500, 1)
		if v >= 13 {
			meta := pc.RoundTrip(protoMetadata(12, []string{"proto-wait"}), 1).(*kmsg.MetadataResponse)
			req.Topics[0].TopicID = meta.Topics[0].TopicID
		}
		start := time.Now()
		resp := pc.RoundTrip(req, 2).(*kmsg.FetchResponse)
		took := time.Since(start)
		if took < 400*time.Millisecond || took >= 3*time.Second {
			t.Errorf("Fetch v%d with no data and MaxWaitMillis 500 answered after %v", v, took)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("Fetch v%d: %+v", v, resp.Topics)
		}
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.HighWatermark != 0 {
			t.Errorf("Fetch v%d: error %d, %d bytes, high watermark %d", v, p.ErrorCode, len(p.RecordBatches), p.HighWatermark)
		}
	}

	// A long poll that a concurrent produce ends early.
	pc.Send(protoFetch(11, "proto-wait", 0, 0, 20000, 1), 3)
	start := time.Now()
	// Part of what is tested, not a wait: the poll has been parked for a
	// while when the produce lands (the broker shows no parked poll to
	// wait on from outside its process).
	time.Sleep(300 * time.Millisecond)
	producer := protoDial(t, b.Addr)
	presp := producer.RoundTrip(protoProduce(7, 1, "proto-wait", 0, testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: time.Now().UnixMilli(), Value: "wake up"})), 4).(*kmsg.ProduceResponse)
	if code := presp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(code))
	}
	resp := pc.Recv(kmsg.Fetch.Int16(), 11, 3).(*kmsg.FetchResponse)
	took := time.Since(start)
	if took >= 3*time.Second {
		t.Errorf("long poll answered %v after start, want soon after the produce at ~300ms", took)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.HighWatermark != 1 {
		t.Errorf("long poll: error %d, %d bytes, high watermark %d", p.ErrorCode, len(p.RecordBatches), p.HighWatermark)
	}
}

// TestProtocolDecodeAmplification: requests well inside every limit
// (1 MiB frames, 4 in flight on one connection, far below
// queued.max.request.bytes) must not cost the broker hundreds of MB.
//
// A 1 MiB Fetch v12 of 350k empty topics decodes to ~21 MB of kmsg
// structs, and answering it would build a response of 350k topics in every
// pass of the long poll (~130 MB each). DESIGN.md 7 says a hostile client
// costs at most its limits.
func TestProtocolDecodeAmplification(t *testing.T) {
	const inFlight = 4
	b := StartBroker(t)
	_, before := protoMemoryKB(t, b)
	// Fetch v12 body: replica id, max wait 2000ms, min bytes 1, max bytes,
	// isolation, session id and epoch, then the topics.
	body := testutil.RequestHeader(kmsg.Fetch.Int16(), 12, 0, nil, true)
	body = encbin.BigEndian.AppendUint32(body, math.MaxUint32)
	body = encbin.BigEndian.AppendUint32(body, 2000)
	body = encbin.BigEndian.AppendUint32(body, 1)
	body = encbin.BigEndian.AppendUint32(body, 1<<20)
	body = append(body, 0)
	body = encbin.BigEndian.AppendUint32(body, 0)
	body = encbin.BigEndian.AppendUint32(body, math.MaxUint32)
	topics := (1<<20 - len(body) - 16) / 3
	body = encbin.AppendUvarint(body, uint64(topics)+1)
	for range topics {
		body = append(body, 1, 1, 0) // name "", no partitions, no tags
	}
	body = append(body, 1, 1, 0) // no forgotten topics, rack "", no tags
	// The broker may answer (every topic unknown) or refuse the request
	// by closing the connection, as Kafka does with requests it will not
	// serve (then the later writes fail); either way its memory stays
	// bounded and it keeps serving.
	pc := protoDial(t, b.Addr)
	for i := range inFlight {
		encbin.BigEndian.PutUint32(body[4:], uint32(i))
		if err := pc.WriteFrame(body); err != nil {
			t.Logf("write of frame %d failed: %v", i, err)
			break
		}
	}
	for i := range inFlight {
		corr, _, err := pc.ReadFrame(10 * time.Second)
		if err != nil {
			t.Logf("connection closed after %d responses: %v", i, err)
			break
		}
		if corr != int32(i) {
			t.Fatalf("response %d has correlation id %d", i, corr)
		}
	}
	other := protoDial(t, b.Addr)
	other.RoundTrip(protoApiVersions(3), 99)
	_, peak := protoMemoryKB(t, b)
	t.Logf("%d pipelined %d-byte Fetch frames of %d empty topics: broker peak RSS %d kB (%d kB before)", inFlight, len(body), topics, peak, before)
	if peak > protoRSSMaxKB {
		t.Errorf("broker peak RSS %d kB for %d in-flight 1 MiB requests; want under %d kB", peak, inFlight, protoRSSMaxKB)
	}
}

// TestProtocolSlowFrameClaims: with the default limits
// (socket.request.max.bytes 100 MiB, queued bytes 512 MiB), six
// connections that announce a 100 MiB Produce and then send nothing must
// not stop the broker from answering anyone else. Kafka leaves
// queued.max.request.bytes unbounded by default, so there this costs
// nothing.
//
// BUG: see TestProtocolServerSlowFrameHoldsBudget in internal/server: the claimed
// size is reserved before the body arrives, and the FIFO semaphore makes
// every later request wait behind the sixth claim (for up to the 10-minute
// idle timeout).
func TestProtocolSlowFrameClaims(t *testing.T) {
	b := StartBroker(t)
	for range 6 {
		pc := protoDial(t, b.Addr)
		frame := encbin.BigEndian.AppendUint32(nil, 100<<20)
		frame = append(frame, testutil.RequestHeader(kmsg.Produce.Int16(), 9, 1, nil, true)...)
		if err := pc.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	// Time for the broker to read the claims. Nothing outside its process
	// shows that it has, so this sleeps; were it too short the test would
	// pass without exercising the claims. TestProtocolServerSlowFrameHoldsBudget
	// (internal/server) waits on the budget itself instead.
	time.Sleep(200 * time.Millisecond)
	pc := protoDial(t, b.Addr)
	pc.Send(protoApiVersions(3), 1)
	start := time.Now()
	if corr, _, err := pc.ReadFrame(3 * time.Second); err != nil || corr != 1 {
		t.Errorf("ApiVersions while six clients hold 100 MiB frame claims: %v after %v", err, time.Since(start).Round(time.Millisecond))
	}
	if _, peak := protoMemoryKB(t, b); peak > protoRSSMaxKB {
		t.Errorf("broker peak RSS %d kB with six unsent 100 MiB frames", peak)
	}
}

// TestWildcardListenerAdvertisesHostName: a listener bound to every
// interface, with no advertised listener, is published under the
// machine's name, as Kafka does, not as 0.0.0.0 or ::, which other
// machines cannot reach.
func TestWildcardListenerAdvertisesHostName(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	b := StartBroker(t, "KAFKA_LISTENERS=PLAINTEXT://:"+port, "KAFKA_ADVERTISED_LISTENERS=")
	b.Addr = "127.0.0.1:" + port
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m, err := kadm.NewClient(cl).BrokerMetadata(testContext(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	name, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	if len(m.Brokers) != 1 || m.Brokers[0].Host != name || strconv.Itoa(int(m.Brokers[0].Port)) != port {
		t.Fatalf("brokers %+v, want %s:%s", m.Brokers, name, port)
	}
}
