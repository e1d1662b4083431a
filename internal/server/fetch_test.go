package server

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/handler"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// copyingListener hides the *net.TCPConn from the server, as a TLS
// listener will, so fetched records take the copying path.
type copyingListener struct{ net.Listener }

func (l copyingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return struct{ net.Conn }{c}, nil
}

// serveHandler serves h on a new loopback listener until the test ends,
// through copyingListener when copying is set.
func serveHandler(t *testing.T, h *handler.Handler, copying bool) string {
	t.Helper()
	srv := New(Config{RequestBytesMax: 100 << 20, QueuedBytesMax: 512 << 20}, h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var served net.Listener = ln
	if copying {
		served = copyingListener{ln}
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(served) }()
	t.Cleanup(func() {
		ln.Close()
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// TestProtocolServerFetchZeroCopyMatchesCopy: for the same Fetch requests
// to the same broker, the frames sent with sendfile on plaintext TCP and
// the frames of the copying path are the same bytes, at every version from
// the oldest served to the newest, with sections above and below
// sendfileBytesMin, an empty partition, an unknown one, a read from the
// middle of a partition and one cut to its first batch (KIP-74).
func TestProtocolServerFetchZeroCopyMatchesCopy(t *testing.T) {
	h := newTestHandler(t, nil)
	zeroCopy := dialRaw(t, serveHandler(t, h, false))
	copying := dialRaw(t, serveHandler(t, h, true))

	create := kmsg.NewPtrCreateTopicsRequest()
	create.SetVersion(7)
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "zc", 3, 1
	create.Topics = append(create.Topics, ct)
	created := zeroCopy.RoundTrip(create, 1).(*kmsg.CreateTopicsResponse)
	if code := created.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create topic: %v", kerr.ErrorForCode(code))
	}
	topicID := created.Topics[0].TopicID
	values := map[int32][]string{
		0: {strings.Repeat("a", 30_000), strings.Repeat("b", 40_000), strings.Repeat("c", 20_000)},
		1: {"small", strings.Repeat("d", 100), "e"},
	}
	for partition, vs := range values {
		for i, v := range vs {
			resp := zeroCopy.RoundTrip(produceRequest(9, -1, "zc", partition, testBatch(int64(i), v)), 2).(*kmsg.ProduceResponse)
			if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
				t.Fatalf("produce: %v", kerr.ErrorForCode(code))
			}
		}
	}

	fetch := func(version int16, offsets map[int32]int64, partitionMaxBytes int32) *kmsg.FetchRequest {
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(version)
		req.ReplicaID, req.MaxBytes = -1, 10<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = "zc", topicID
		for _, partition := range []int32{0, 1, 2, 7} {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offsets[partition], partitionMaxBytes
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		if version < 13 {
			unknown := kmsg.NewFetchRequestTopic()
			unknown.Topic = "no-such-topic"
			unknown.Partitions = append(unknown.Partitions, kmsg.NewFetchRequestTopicPartition())
			req.Topics = append(req.Topics, unknown)
		}
		return req
	}
	sentBefore := sentFileBytes.Load()
	for version := int16(4); version <= 16; version++ {
		for _, c := range []struct {
			name              string
			offsets           map[int32]int64
			partitionMaxBytes int32
		}{
			{"from the start", nil, 1 << 20},
			{"from the middle", map[int32]int64{0: 1, 1: 2}, 1 << 20},
			{"first batch only", nil, 100},
		} {
			req := fetch(version, c.offsets, c.partitionMaxBytes)
			corr := int32(version)*10 + int32(len(c.name))
			frames := [2][]byte{}
			for i, rc := range []*testutil.Conn{zeroCopy, copying} {
				rc.Send(req, corr)
				got, body, err := rc.ReadFrame(10 * time.Second)
				if err != nil || got != corr {
					t.Fatalf("v%d %s: response %d, %v", version, c.name, got, err)
				}
				frames[i] = body
			}
			if !bytes.Equal(frames[0], frames[1]) {
				t.Fatalf("v%d %s: the zero-copy frame (%d bytes) differs from the copying one (%d bytes)", version, c.name, len(frames[0]), len(frames[1]))
			}
			resp := decodeResponse(t, kmsg.Fetch.Int16(), version, frames[0]).(*kmsg.FetchResponse)
			ps := resp.Topics[0].Partitions
			if len(ps[0].RecordBatches) == 0 || len(ps[1].RecordBatches) == 0 || len(ps[2].RecordBatches) != 0 ||
				ps[3].ErrorCode != kerr.UnknownTopicOrPartition.Code {
				t.Fatalf("v%d %s: %d, %d, %d bytes, unknown partition error %d", version, c.name,
					len(ps[0].RecordBatches), len(ps[1].RecordBatches), len(ps[2].RecordBatches), ps[3].ErrorCode)
			}
		}
	}
	if sentFileBytes.Load() == sentBefore {
		t.Fatal("no fetch went by sendfile")
	}
}
