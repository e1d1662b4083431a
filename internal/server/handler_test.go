package server

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// fakeHandler answers Metadata at once and ApiVersions only once release
// is closed, recording what the server handed it.
type fakeHandler struct {
	release chan struct{}

	mu   sync.Mutex // guards seen
	seen []protocol.Request
}

func (f *fakeHandler) Handle(ctx context.Context, req *protocol.Request) protocol.Reply {
	f.mu.Lock()
	f.seen = append(f.seen, *req)
	f.mu.Unlock()
	switch r := req.Msg.(type) {
	case *kmsg.ApiVersionsRequest:
		return protocol.Reply{Wait: func(ctx context.Context) kmsg.Response {
			<-f.release
			return r.ResponseKind()
		}}
	default:
		return protocol.Reply{Msg: req.Msg.ResponseKind()}
	}
}

func serveFake(t *testing.T, h protocol.Handler) string {
	t.Helper()
	srv := New(Config{RequestBytesMax: 1 << 20, QueuedBytesMax: 64 << 20}, h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return serveLoopback(t, srv)
}

// TestServerHandlerSeam: the server needs only a protocol.Handler. It
// hands each request over with the connection's principal (anonymous
// until authentication exists) and client id, and answers in request
// order even when an earlier reply waits and a later one is ready.
func TestServerHandlerSeam(t *testing.T) {
	f := &fakeHandler{release: make(chan struct{})}
	rc := dialRaw(t, serveFake(t, f))
	rc.Send(apiVersionsAt(3), 1)
	rc.Send(metadataAt(12), 2)
	// The Metadata reply is ready while the ApiVersions one still waits.
	testutil.Eventually(t, 5*time.Second, "the handler sees both requests", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.seen) == 2
	})
	close(f.release)
	for _, want := range []int32{1, 2} {
		id, _, err := rc.ReadFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if id != want {
			t.Fatalf("response to correlation id %d, want %d: out of order", id, want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) != 2 {
		t.Fatalf("handler saw %d requests, want 2", len(f.seen))
	}
	for _, req := range f.seen {
		if req.Principal != protocol.Anonymous || req.Principal.String() != "User:ANONYMOUS" {
			t.Errorf("%s: principal %v, want User:ANONYMOUS", kmsg.NameForKey(req.Msg.Key()), req.Principal)
		}
		if req.ClientID != "raw" || req.Host != "127.0.0.1" {
			t.Errorf("%s: client %q from %q", kmsg.NameForKey(req.Msg.Key()), req.ClientID, req.Host)
		}
	}
}
