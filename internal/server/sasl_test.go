package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// recorder passes requests to a real handler and records who sent each
// and on which listener.
type recorder struct {
	h protocol.Handler

	mu   sync.Mutex // guards seen
	seen []protocol.Request
}

func (r *recorder) Handle(ctx context.Context, req *protocol.Request) protocol.Reply {
	r.mu.Lock()
	r.seen = append(r.seen, protocol.Request{Msg: req.Msg, Principal: req.Principal, Listener: req.Listener})
	r.mu.Unlock()
	return r.h.Handle(ctx, req)
}

// last returns the last request of key the handler saw.
func (r *recorder) last(key kmsg.Key) (protocol.Request, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.seen) - 1; i >= 0; i-- {
		if r.seen[i].Msg.Key() == key.Int16() {
			return r.seen[i], true
		}
	}
	return protocol.Request{}, false
}

// syncBuffer is a log destination tests can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// secureServer is a server on a loopback listener secured by sec.
type secureServer struct {
	addr string
	rec  *recorder
	log  *syncBuffer
}

// testSASLDelay is the failed-authentication delay of the SASL tests.
const testSASLDelay = 150 * time.Millisecond

// serveSecure serves a real handler on a loopback listener secured by sec
// until the test ends.
func serveSecure(t *testing.T, cfg Config, sec *auth.Listener) *secureServer {
	t.Helper()
	s := &secureServer{rec: &recorder{h: newTestHandler(t, nil)}, log: &syncBuffer{}}
	cfg.RequestBytesMax, cfg.QueuedBytesMax = 100<<20, 512<<20
	srv := New(cfg, s.rec, slog.New(slog.NewTextHandler(s.log, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeListener(ln, sec) }()
	t.Cleanup(func() {
		ln.Close()
		srv.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	s.addr = ln.Addr().String()
	return s
}

// plainListener is a SASL_PLAINTEXT listener with PLAIN users alice and
// admin.
func plainListener() *auth.Listener {
	users := map[string]string{"alice": "alice-secret", "admin": "admin-secret"}
	return &auth.Listener{Name: "SASL_PLAINTEXT", Protocol: "SASL_PLAINTEXT", SASL: auth.NewSASL(auth.NewPlain(users))}
}

func handshakeRequest(version int16, mechanism string) *kmsg.SASLHandshakeRequest {
	r := kmsg.NewPtrSASLHandshakeRequest()
	r.SetVersion(version)
	r.Mechanism = mechanism
	return r
}

func authenticateRequest(version int16, token string) *kmsg.SASLAuthenticateRequest {
	r := kmsg.NewPtrSASLAuthenticateRequest()
	r.SetVersion(version)
	r.SASLAuthBytes = []byte(token)
	return r
}

// TestSASLAuthenticate: ApiVersions lists the SASL keys; SaslHandshake v1
// and SaslAuthenticate at each version authenticate; the handler then sees
// User:alice on the listener, and a second handshake is answered
// ILLEGAL_SASL_STATE without closing the connection.
func TestSASLAuthenticate(t *testing.T) {
	s := serveSecure(t, Config{}, plainListener())
	for _, v := range []int16{0, 1, 2} {
		rc := dialRaw(t, s.addr)
		av := rc.RoundTrip(apiVersionsAt(3), 1).(*kmsg.ApiVersionsResponse)
		keys := map[int16]bool{}
		for _, k := range av.ApiKeys {
			keys[k.ApiKey] = true
		}
		if !keys[kmsg.SASLHandshake.Int16()] || !keys[kmsg.SASLAuthenticate.Int16()] {
			t.Fatalf("ApiVersions does not list SaslHandshake and SaslAuthenticate")
		}
		hs := rc.RoundTrip(handshakeRequest(1, "PLAIN"), 2).(*kmsg.SASLHandshakeResponse)
		if hs.ErrorCode != 0 || !slices.Equal(hs.SupportedMechanisms, []string{"PLAIN"}) {
			t.Fatalf("SaslHandshake: error %d, mechanisms %v", hs.ErrorCode, hs.SupportedMechanisms)
		}
		au := rc.RoundTrip(authenticateRequest(v, "\x00alice\x00alice-secret"), 3).(*kmsg.SASLAuthenticateResponse)
		if au.ErrorCode != 0 {
			t.Fatalf("SaslAuthenticate v%d: error %d %v", v, au.ErrorCode, au.ErrorMessage)
		}
		rc.RoundTrip(metadataAt(12), 4)
		req, _ := s.rec.last(kmsg.Metadata)
		if req.Principal.String() != "User:alice" || req.Listener != "SASL_PLAINTEXT" {
			t.Errorf("Metadata from %v on %q, want User:alice on SASL_PLAINTEXT", req.Principal, req.Listener)
		}
		again := rc.RoundTrip(handshakeRequest(1, "PLAIN"), 5).(*kmsg.SASLHandshakeResponse)
		if again.ErrorCode != kerr.IllegalSaslState.Code {
			t.Errorf("second SaslHandshake: error %d, want ILLEGAL_SASL_STATE", again.ErrorCode)
		}
		rc.RoundTrip(metadataAt(12), 6)
	}
}

// TestSASLHandshakeV0: after a v0 handshake the token comes as a bare
// frame and the answer is a bare, empty frame (kafka-python 2.0's way).
func TestSASLHandshakeV0(t *testing.T) {
	s := serveSecure(t, Config{}, plainListener())
	rc := dialRaw(t, s.addr)
	if hs := rc.RoundTrip(handshakeRequest(0, "PLAIN"), 1).(*kmsg.SASLHandshakeResponse); hs.ErrorCode != 0 {
		t.Fatalf("SaslHandshake v0: error %d", hs.ErrorCode)
	}
	if err := rc.WriteFrame([]byte("\x00admin\x00admin-secret")); err != nil {
		t.Fatal(err)
	}
	token, err := rc.ReadToken(testutil.IOTimeout)
	if err != nil || len(token) != 0 {
		t.Fatalf("token answer %q, %v; want an empty frame", token, err)
	}
	rc.RoundTrip(metadataAt(1), 2)
	if req, _ := s.rec.last(kmsg.Metadata); req.Principal.String() != "User:admin" {
		t.Errorf("Metadata from %v, want User:admin", req.Principal)
	}

	// A wrong password after a v0 handshake closes without an answer.
	rc = dialRaw(t, s.addr)
	rc.RoundTrip(handshakeRequest(0, "PLAIN"), 1)
	if err := rc.WriteFrame([]byte("\x00admin\x00guess")); err != nil {
		t.Fatal(err)
	}
	if token, err := rc.ReadToken(testutil.IOTimeout); err == nil {
		t.Fatalf("got token %q after a wrong password; want the connection closed", token)
	}
}

// TestSASLRefusals: before authentication a connection may send only
// the exchange's requests, in small frames; a failed authentication is
// answered after the delay, logged with the client's address, and closes
// the connection.
func TestSASLRefusals(t *testing.T) {
	s := serveSecure(t, Config{SASLReceiveBytesMax: 4096, FailedAuthenticationDelay: testSASLDelay}, plainListener())
	t.Run("request before authentication", func(t *testing.T) {
		rc := dialRaw(t, s.addr)
		rc.Send(metadataAt(12), 1)
		rc.ExpectClosed()
	})
	t.Run("produce before authentication", func(t *testing.T) {
		rc := dialRaw(t, s.addr)
		rc.Send(produceRequest(9, 1, "t", 0, testBatch(1, "v")), 1)
		rc.ExpectClosed()
	})
	t.Run("authenticate before handshake", func(t *testing.T) {
		rc := dialRaw(t, s.addr)
		rc.Send(authenticateRequest(2, "\x00alice\x00alice-secret"), 1)
		rc.ExpectClosed()
	})
	t.Run("api versions between handshake and authenticate", func(t *testing.T) {
		rc := dialRaw(t, s.addr)
		rc.RoundTrip(handshakeRequest(1, "PLAIN"), 1)
		rc.Send(apiVersionsAt(3), 2)
		rc.ExpectClosed()
	})
	t.Run("unsupported mechanism", func(t *testing.T) {
		rc := dialRaw(t, s.addr)
		hs := rc.RoundTrip(handshakeRequest(1, "SCRAM-SHA-256"), 1).(*kmsg.SASLHandshakeResponse)
		if hs.ErrorCode != kerr.UnsupportedSaslMechanism.Code || !slices.Equal(hs.SupportedMechanisms, []string{"PLAIN"}) {
			t.Errorf("SaslHandshake SCRAM: error %d, mechanisms %v", hs.ErrorCode, hs.SupportedMechanisms)
		}
		rc.ExpectClosed()
	})
	t.Run("frame above sasl.server.max.receive.size", func(t *testing.T) {
		rc := dialRaw(t, s.addr)
		// Only the size and the key are sent: the server must refuse the
		// frame before reading, let alone allocating, its body.
		frame := binary.BigEndian.AppendUint32(nil, 4097)
		frame = binary.BigEndian.AppendUint16(frame, uint16(kmsg.ApiVersions.Int16()))
		if err := rc.Write(frame); err != nil {
			t.Fatal(err)
		}
		rc.ExpectClosed()
	})
	for _, tt := range []struct{ name, token, message string }{
		{"wrong password", "\x00alice\x00admin-secret", "Authentication failed: Invalid username or password"},
		{"unknown user", "\x00mallory\x00alice-secret", "Authentication failed: Invalid username or password"},
		{"impersonation (CVE-2017-12610)", "admin\x00alice\x00alice-secret",
			"Authentication failed: Client requested an authorization id that is different from username"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialRaw(t, s.addr)
			rc.RoundTrip(handshakeRequest(1, "PLAIN"), 1)
			start := time.Now()
			au := rc.RoundTrip(authenticateRequest(2, tt.token), 2).(*kmsg.SASLAuthenticateResponse)
			elapsed := time.Since(start)
			if au.ErrorCode != kerr.SaslAuthenticationFailed.Code || au.ErrorMessage == nil || *au.ErrorMessage != tt.message {
				t.Errorf("SaslAuthenticate: error %d %v, want SASL_AUTHENTICATION_FAILED %q", au.ErrorCode, au.ErrorMessage, tt.message)
			}
			if elapsed < testSASLDelay {
				t.Errorf("failure answered after %v, before connection.failed.authentication.delay.ms %v", elapsed, testSASLDelay)
			}
			rc.ExpectClosed()
			if log := s.log.String(); !strings.Contains(log, "failed authentication") || !strings.Contains(log, "remote=127.0.0.1:") {
				t.Errorf("the failure is not logged with the client address:\n%s", log)
			}
		})
	}
}

// TestSASLFrameCapEndsWithAuthentication: the pre-authentication frame
// cap does not apply once the client has authenticated.
func TestSASLFrameCapEndsWithAuthentication(t *testing.T) {
	s := serveSecure(t, Config{SASLReceiveBytesMax: 4096}, plainListener())
	rc := dialRaw(t, s.addr)
	rc.RoundTrip(handshakeRequest(1, "PLAIN"), 1)
	rc.RoundTrip(authenticateRequest(2, "\x00alice\x00alice-secret"), 2)
	var topics []string
	for i := range 200 {
		topics = append(topics, fmt.Sprintf("a-topic-name-long-enough-%04d", i))
	}
	md := metadataAt(12, topics...)
	md.AllowAutoTopicCreation = false
	if n := len(testutil.AppendRequest(nil, md, 3, rc.ClientID)); n <= 4096 {
		t.Fatalf("request of %d bytes does not exceed the cap", n)
	}
	resp := rc.RoundTrip(md, 3).(*kmsg.MetadataResponse)
	if len(resp.Topics) != len(topics) {
		t.Errorf("%d topics answered, want %d", len(resp.Topics), len(topics))
	}
}

// TestSASLOnPlaintext: on a listener without SASL both SASL requests are
// answered ILLEGAL_SASL_STATE, as Kafka answers them.
func TestSASLOnPlaintext(t *testing.T) {
	s := serveSecure(t, Config{}, nil)
	rc := dialRaw(t, s.addr)
	if hs := rc.RoundTrip(handshakeRequest(1, "PLAIN"), 1).(*kmsg.SASLHandshakeResponse); hs.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("SaslHandshake: error %d", hs.ErrorCode)
	}
	if au := rc.RoundTrip(authenticateRequest(1, "\x00alice\x00alice-secret"), 2).(*kmsg.SASLAuthenticateResponse); au.ErrorCode != kerr.IllegalSaslState.Code {
		t.Errorf("SaslAuthenticate: error %d", au.ErrorCode)
	}
	rc.RoundTrip(metadataAt(12), 3)
	if req, _ := s.rec.last(kmsg.Metadata); req.Principal != protocol.Anonymous {
		t.Errorf("principal %v", req.Principal)
	}
}

// FuzzSASLExchange drives a connection's SASL state machine with an
// arbitrary sequence of handshakes, tokens and request keys: it never
// panics, authenticates only after a handshake and alice's exact
// credentials, never leaves the failed state, and before authentication
// allows nothing but the exchange's requests.
func FuzzSASLExchange(f *testing.F) {
	f.Add([]byte{0, 1, 1}, "PLAIN", "\x00alice\x00alice-secret")
	f.Add([]byte{0, 0, 1, 2, 2}, "PLAIN", "alice\x00alice\x00alice-secret")
	f.Add([]byte{1, 0, 1}, "SCRAM-SHA-256", "\x00alice\x00wrong")
	f.Fuzz(func(t *testing.T, ops []byte, mechanism, token string) {
		sc := &saslConn{listener: plainListener().SASL}
		handshaken := false
		for _, op := range ops {
			before := sc.step
			switch op % 4 {
			case 0:
				if sc.Handshake(mechanism, int16(op/4%2)) == nil {
					handshaken = true
				}
			case 1:
				sc.Authenticate([]byte(token))
			case 2:
				key := int16(op / 4)
				if !sc.authenticated() && sc.allowed(key) && sc.step != saslRawToken &&
					key != kmsg.ApiVersions.Int16() && key != kmsg.SASLHandshake.Int16() && key != kmsg.SASLAuthenticate.Int16() {
					t.Fatalf("%s allowed before authentication in step %d", kmsg.NameForKey(key), sc.step)
				}
			case 3:
				sc.Authenticate(nil)
			}
			if before == saslFailed && sc.step != saslFailed {
				t.Fatalf("left the failed state for %d", sc.step)
			}
			if sc.authenticated() {
				good := token == "\x00alice\x00alice-secret" || token == "alice\x00alice\x00alice-secret"
				if !handshaken || mechanism != "PLAIN" || !good || sc.exchange.User() != "alice" {
					t.Fatalf("authenticated as %q after handshake %v with %q, %q", sc.exchange.User(), handshaken, mechanism, token)
				}
			}
		}
	})
}
