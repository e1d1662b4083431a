package server

import (
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// refusedAtOnce reports whether the server closed c without a word: a read
// sees EOF (or a reset) well before the deadline.
func refusedAtOnce(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// openConns waits until the server holds n connections.
func openConns(t *testing.T, srv *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		srv.mu.Lock()
		got := len(srv.conns)
		srv.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConnectionLimits: past max.connections.per.ip, or the override for
// the address, a new connection is closed at once while the ones already
// open keep working; closing one makes room again. max.connections
// applies to all connections together.
func TestConnectionLimits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		limit int
	}{
		{"per-ip", Config{ConnectionsPerIPMax: 3}, 3},
		{"override", Config{ConnectionsPerIPMax: 3, ConnectionsPerIPOverrides: map[string]int{"127.0.0.1": 2}}, 2},
		{"max", Config{ConnectionsMax: 2, ConnectionsPerIPMax: 10}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New()
			tc.cfg.Metrics = m
			ts := newTestServer(t, tc.cfg, nil)
			var kept []*testutil.Conn
			for range tc.limit {
				kept = append(kept, dialRaw(t, ts.addr))
			}
			openConns(t, ts.srv, tc.limit)
			extra, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer extra.Close()
			if !refusedAtOnce(t, extra) {
				t.Fatalf("connection %d past the limit %d was not closed", tc.limit+1, tc.limit)
			}
			if got := gauge(t, m, "sluice_server_connections_refused_total"); got != 1 {
				t.Fatalf("refused counter %v, want 1", got)
			}
			if got := gauge(t, m, "kafka_server_socketservermetrics_connection_count"); got != float64(tc.limit) {
				t.Fatalf("connection count %v, want %d", got, tc.limit)
			}
			// The connections kept still answer.
			if resp := kept[1].RoundTrip(apiVersionsAt(3), 1).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
				t.Fatalf("ApiVersions on a kept connection: error %d", resp.ErrorCode)
			}
			// Closing one makes room.
			kept[0].Close()
			openConns(t, ts.srv, tc.limit-1)
			again := dialRaw(t, ts.addr)
			if resp := again.RoundTrip(apiVersionsAt(3), 1).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
				t.Fatalf("ApiVersions after a connection closed: error %d", resp.ErrorCode)
			}
		})
	}
}

// gauge is the value of the metric named name in m's registry.
func gauge(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			if g := f.GetMetric()[0].GetGauge(); g != nil {
				return g.GetValue()
			}
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
