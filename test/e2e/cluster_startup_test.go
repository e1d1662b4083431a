package e2e

import (
	"context"
	be "encoding/binary"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// startupProbeEvery is how often a client tries each node's Kafka
	// port while the cluster starts.
	startupProbeEvery = 10 * time.Millisecond
	// startupProbeAskMax bounds one probe: a connection the node accepts
	// but does not answer yet may wait this long.
	startupProbeAskMax = 30 * time.Second
)

// firstAnswer is the first Metadata answer a node gave while the cluster
// started, and when.
type firstAnswer struct {
	at      time.Duration // since the launch
	brokers []int32
	err     error
}

// probeFirstMetadata asks b for Metadata (brokers only) from a fresh
// connection every startupProbeEvery until one is answered, and returns
// the first answer.
func probeFirstMetadata(ctx context.Context, addr string, launched time.Time) firstAnswer {
	for {
		if a, ok := askMetadataOnce(ctx, addr, launched); ok {
			return a
		}
		select {
		case <-ctx.Done():
			return firstAnswer{at: time.Since(launched), err: ctx.Err()}
		case <-time.After(startupProbeEvery):
		}
	}
}

// askMetadataOnce dials addr and sends one Metadata request on the raw
// connection; false when the port does not take the connection or the
// connection ends without an answer.
func askMetadataOnce(ctx context.Context, addr string, launched time.Time) (firstAnswer, bool) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return firstAnswer{}, false
	}
	defer conn.Close()
	deadline := time.Now().Add(startupProbeAskMax)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1 // request header v1, response header v0: simple to frame
	req.Topics = []kmsg.MetadataRequestTopic{}
	resp, err := rawRoundTrip(conn, req)
	if err != nil {
		return firstAnswer{}, false
	}
	a := firstAnswer{at: time.Since(launched)}
	for _, b := range resp.(*kmsg.MetadataResponse).Brokers {
		a.brokers = append(a.brokers, b.NodeID)
	}
	slices.Sort(a.brokers)
	return a, true
}

// TestClusterServesOnceMember: three nodes launched together answer
// Kafka requests only once they are part of the cluster: the first
// Metadata answer any node gives lists every broker of the cluster, so a
// client (or a topic created through it) never sees a cluster smaller
// than the one launched.
func TestClusterServesOnceMember(t *testing.T) {
	c := newCluster(t)
	ctx := testContext(t, 2*time.Minute)
	launched := time.Now()
	for _, b := range c.nodes {
		b.Launch()
	}
	answers := make([]firstAnswer, len(c.nodes))
	var wg sync.WaitGroup
	for i, b := range c.nodes {
		wg.Go(func() { answers[i] = probeFirstMetadata(ctx, b.Addr, launched) })
	}
	wg.Wait()
	want := slices.Sorted(maps.Keys(c.addrs(c.nodes)))
	var report []string
	for i, a := range answers {
		report = append(report, fmt.Sprintf("node %d at %v: brokers %v %v", i+1, a.at.Round(time.Millisecond), a.brokers, a.err))
	}
	t.Logf("first Metadata answers: %s", strings.Join(report, "; "))
	for i, a := range answers {
		if a.err != nil || !slices.Equal(a.brokers, want) {
			t.Errorf("node %d's first Metadata answer (%v after the launch) lists brokers %v (%v), want %v\n%s",
				i+1, a.at.Round(time.Millisecond), a.brokers, a.err, want, c.outputs())
		}
	}
}

// rawRoundTrip sends req on conn, framed with request header v1 and no
// client id, and reads its answer, framed with response header v0: what
// every non-flexible version uses.
func rawRoundTrip(conn net.Conn, req kmsg.Request) (kmsg.Response, error) {
	const correlationID = 1
	frame := be.BigEndian.AppendUint32(nil, 0) // size, set below
	frame = be.BigEndian.AppendUint16(frame, uint16(req.Key()))
	frame = be.BigEndian.AppendUint16(frame, uint16(req.GetVersion()))
	frame = be.BigEndian.AppendUint32(frame, correlationID)
	frame = be.BigEndian.AppendUint16(frame, 0xffff) // null client id
	frame = req.AppendTo(frame)
	be.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	if _, err := conn.Write(frame); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, be.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, err
	}
	if len(body) < 4 || be.BigEndian.Uint32(body) != correlationID {
		return nil, fmt.Errorf("answer without correlation id %d", correlationID)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	return resp, resp.ReadFrom(body[4:])
}
