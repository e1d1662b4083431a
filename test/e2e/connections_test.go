package e2e

import (
	"runtime"
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
