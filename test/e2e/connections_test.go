package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// idleConnectionsCount is how many idle connections TestIdleConnectionMemory
// opens: the measurement.
const idleConnectionsCount = 4000

// TestIdleConnectionMemory opens idleConnectionsCount connections that
// each ask ApiVersions, as every client does first, and then stay idle,
// and reports the broker's resident memory per connection. It fails above
// idleConnectionBytesMax, so buffers held by idle connections show up.
func TestIdleConnectionMemory(t *testing.T) {
	const idleConnectionBytesMax = 16 << 10
	b := StartBroker(t)
	settle := func() int {
		time.Sleep(2 * time.Second)
		rss, _ := protoMemoryKB(t, b)
		return rss
	}
	before := settle()
	conns := make([]*testutil.Conn, 0, idleConnectionsCount)
	for i := range idleConnectionsCount {
		c := testutil.Dial(t, b.Addr)
		resp := c.RoundTrip(protoApiVersions(3), int32(i)).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("ApiVersions on connection %d: error %d", i, resp.ErrorCode)
		}
		conns = append(conns, c)
	}
	after := settle()
	perConn := float64(after-before) * 1024 / idleConnectionsCount
	t.Logf("broker RSS %d KiB with no client, %d KiB with %d idle connections: %.1f KiB per connection",
		before, after, idleConnectionsCount, perConn/1024)
	if perConn > idleConnectionBytesMax {
		t.Errorf("%.1f KiB per idle connection, want at most %d KiB", perConn/1024, idleConnectionBytesMax>>10)
	}
	// The connections still answer.
	if resp := conns[0].RoundTrip(protoApiVersions(3), 1).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions after idling: error %d", resp.ErrorCode)
	}
	runtime.KeepAlive(conns)
}

// TestConnectionsPerIP: with max.connections.per.ip=2 a third connection
// from the same address is closed as it is accepted, the two open ones
// keep working, and /metrics counts the refusal.
func TestConnectionsPerIP(t *testing.T) {
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	b := StartBroker(t, "KAFKA_MAX_CONNECTIONS_PER_IP=2", "KAFKA_HTTP_LISTENERS="+httpAddr)
	first, second := testutil.Dial(t, b.Addr), testutil.Dial(t, b.Addr)
	for i, c := range []*testutil.Conn{first, second} {
		if resp := c.RoundTrip(protoApiVersions(3), int32(i)).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
			t.Fatalf("ApiVersions on connection %d: error %d", i, resp.ErrorCode)
		}
	}
	third, err := net.Dial("tcp", b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the third connection from one address was not closed: %v", err)
	}
	if resp := first.RoundTrip(protoApiVersions(3), 9).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions on a kept connection: error %d", resp.ErrorCode)
	}
	samples := scrape(t, "http://"+httpAddr)
	if samples["sluice_server_connections_refused_total"] != 1 || samples["kafka_server_socketservermetrics_connection_count"] != 2 {
		t.Fatalf("refused %v, open %v; want 1 and 2", samples["sluice_server_connections_refused_total"],
			samples["kafka_server_socketservermetrics_connection_count"])
	}
	if !strings.Contains(b.Output(), "max.connections.per.ip reached") {
		t.Fatalf("no line names the limit:\n%s", b.Output())
	}
}
