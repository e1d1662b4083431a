package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// tlsListener is an SSL (or, with sasl, SASL_SSL) listener with a
// certificate for 127.0.0.1 from ca, asking for client certificates. It
// is named PLAINTEXT because that is the one listener the test handler's
// metadata advertises.
func tlsListener(t *testing.T, ca *testutil.CA, sasl *auth.SASL) *auth.Listener {
	server := ca.Issue(t, pkix.Name{CommonName: "broker"}, "127.0.0.1")
	l := &auth.Listener{Name: "PLAINTEXT", Protocol: "SSL", SASL: sasl, TLS: &tls.Config{
		Certificates: []tls.Certificate{server.TLSCertificate(t)},
		ClientCAs:    ca.Pool(),
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}}
	if sasl != nil {
		l.Protocol = "SASL_SSL"
	}
	return l
}

// tlsDialer dials addr over TLS whatever address the client asks for:
// the test handler advertises 127.0.0.1:9092.
func tlsDialer(addr string, tc *tls.Config) kgo.Opt {
	return kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d tls.Dialer
		d.Config = tc.Clone()
		d.Config.ServerName = "127.0.0.1"
		return d.DialContext(ctx, network, addr)
	})
}

// roundTripRecords produces records of 64 KiB to a new topic through cl
// and fetches them back, so the fetch carries sections large enough for
// sendfile on plaintext.
func roundTripRecords(t *testing.T, cl *kgo.Client, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	create := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
	create.Topics = append(create.Topics, rt)
	resp, err := create.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create %s: %v", topic, kerr.ErrorForCode(code))
	}
	value := bytes.Repeat([]byte("tls"), 64<<10/3)
	const records = 8
	for range records {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.AddConsumeTopics(topic)
	got := 0
	for got < records {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !bytes.Equal(r.Value, value) {
				t.Fatalf("record %d came back changed", r.Offset)
			}
			got++
		})
	}
}

// TestTLSListener: over TLS, fetched records are copied, never sent with
// sendfile (which would put plaintext on an encrypted connection); a
// client certificate's subject is the principal, and without one the
// client is ANONYMOUS.
func TestTLSListener(t *testing.T) {
	ca := testutil.NewCA(t)
	s := serveSecure(t, Config{}, tlsListener(t, ca, nil))
	client := ca.Issue(t, pkix.Name{CommonName: "alice", Organization: []string{"Example"}})
	for _, tt := range []struct {
		name      string
		certs     []tls.Certificate
		principal string
	}{
		{"mutual TLS", []tls.Certificate{client.TLSCertificate(t)}, "User:CN=alice,O=Example"},
		{"no client certificate", nil, "User:ANONYMOUS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := kgo.NewClient(kgo.SeedBrokers(s.addr),
				tlsDialer(s.addr, &tls.Config{RootCAs: ca.Pool(), Certificates: tt.certs}),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			sentBefore := sentFileBytes.Load()
			roundTripRecords(t, cl, "tls-"+strings.ReplaceAll(tt.name, " ", "-"))
			if sent := sentFileBytes.Load() - sentBefore; sent != 0 {
				t.Errorf("sendfile sent %d bytes on a TLS connection", sent)
			}
			req, ok := s.rec.last(kmsg.Fetch)
			if !ok || req.Principal.String() != tt.principal || req.Listener != "PLAINTEXT" {
				t.Errorf("Fetch from %v on %q, want %s on PLAINTEXT", req.Principal, req.Listener, tt.principal)
			}
		})
	}
}

// TestPlaintextUsesSendfile is TestTLSListener's control: the same
// round trip on plaintext goes by sendfile, so the TLS test's check can
// fail.
func TestPlaintextUsesSendfile(t *testing.T) {
	s := serveSecure(t, Config{}, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.addr),
		kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.addr)
		}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sentBefore := sentFileBytes.Load()
	roundTripRecords(t, cl, "plaintext")
	if sentFileBytes.Load() == sentBefore {
		t.Errorf("no fetch went by sendfile on plaintext")
	}
}

// TestSASLSSLListener: franz-go authenticates with PLAIN inside TLS; the
// SASL user, not the certificate, is the principal, as in Kafka.
func TestSASLSSLListener(t *testing.T) {
	ca := testutil.NewCA(t)
	sasl := auth.NewSASL(auth.NewPlain(map[string]string{"alice": "alice-secret"}))
	s := serveSecure(t, Config{}, tlsListener(t, ca, sasl))
	client := ca.Issue(t, pkix.Name{CommonName: "someone-else"})
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.addr),
		tlsDialer(s.addr, &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLSCertificate(t)}}),
		kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	roundTripRecords(t, cl, "sasl-ssl")
	if req, _ := s.rec.last(kmsg.Produce); req.Principal != (protocol.Principal{Type: "User", Name: "alice"}) {
		t.Errorf("Produce from %v, want User:alice", req.Principal)
	}
}
