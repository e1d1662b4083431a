package auth

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/testutil"
)

func loadConfig(t *testing.T, flags map[string]string) *config.Broker {
	t.Helper()
	cfg, _, err := config.Load("", nil, flags)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// handshake runs a TLS handshake between a server with sc and a client
// that trusts ca, presenting clientCert when given, and returns the
// server's view of the client's certificates or the first error.
func handshake(t *testing.T, sc *tls.Config, ca *testutil.CA, clientCert *tls.Certificate) ([]string, error) {
	t.Helper()
	cc := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
	if clientCert != nil {
		cc.Certificates = []tls.Certificate{*clientCert}
	}
	client, server := netPipe()
	srv := tls.Server(server, sc)
	errs := make(chan error, 1)
	go func() {
		errs <- srv.Handshake()
		server.Close()
	}()
	cl := tls.Client(client, cc)
	cerr := cl.Handshake()
	if cerr == nil {
		// TLS 1.3 reports a refused client certificate on the first read.
		cl.Write([]byte{0})
		cl.Read(make([]byte, 1))
	}
	client.Close()
	serr := <-errs
	if serr != nil {
		return nil, serr
	}
	var names []string
	for _, c := range srv.ConnectionState().PeerCertificates {
		names = append(names, CertificateName(c))
	}
	return names, nil
}

// TestServerTLS: the key store comes from a PEM file, inline PEM text or
// a PKCS12 file, per listener; ssl.client.auth decides whether a client
// certificate is needed, and its subject becomes the principal name.
func TestServerTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testutil.NewCA(t)
	server := ca.Issue(t, pkix.Name{CommonName: "localhost"}, "localhost")
	client := ca.Issue(t, pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Example"}, Country: []string{"US"}})
	clientPair := client.TLSCertificate(t)
	pemFile := testutil.WriteFile(t, dir, "server.pem", append(append([]byte{}, server.KeyPEM...), server.CertPEM...))
	caFile := testutil.WriteFile(t, dir, "ca.pem", ca.CertPEM)
	pfx, err := pkcs12.Modern.Encode(server.TLSCertificate(t).PrivateKey, server.Cert, nil, "store-pass")
	if err != nil {
		t.Fatal(err)
	}
	p12File := testutil.WriteFile(t, dir, "server.p12", pfx)
	trustP12, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.Cert}, "trust-pass")
	if err != nil {
		t.Fatal(err)
	}
	trustFile := testutil.WriteFile(t, dir, "trust.p12", trustP12)

	tests := []struct {
		name      string
		flags     map[string]string
		presented bool     // the client presents its certificate
		want      []string // client certificate subjects the server saw
		configErr string
		refused   bool
	}{
		{name: "PEM file, no client auth", flags: map[string]string{
			"ssl.keystore.type": "PEM", "ssl.keystore.location": pemFile}},
		{name: "inline PEM per listener, client auth required", flags: map[string]string{
			"listener.name.secure.ssl.keystore.type":              "PEM",
			"listener.name.secure.ssl.keystore.certificate.chain": string(server.CertPEM),
			"listener.name.secure.ssl.keystore.key":               string(server.KeyPEM),
			"listener.name.secure.ssl.truststore.type":            "PEM",
			"listener.name.secure.ssl.truststore.certificates":    string(ca.CertPEM),
			"listener.name.secure.ssl.client.auth":                "required",
		}, presented: true, want: []string{"CN=alice,OU=eng,O=Example,C=US"}},
		{name: "client auth required, none presented", flags: map[string]string{
			"ssl.keystore.type": "PEM", "ssl.keystore.location": pemFile,
			"ssl.truststore.type": "PEM", "ssl.truststore.location": caFile, "ssl.client.auth": "required",
		}, refused: true},
		{name: "client auth requested, none presented", flags: map[string]string{
			"ssl.keystore.type": "PEM", "ssl.keystore.location": pemFile,
			"ssl.truststore.type": "PEM", "ssl.truststore.location": caFile, "ssl.client.auth": "requested",
		}},
		{name: "PKCS12 key store", flags: map[string]string{
			"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p12File, "ssl.keystore.password": "store-pass"}},
		{name: "PKCS12 trust store, client auth required", flags: map[string]string{
			"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p12File, "ssl.keystore.password": "store-pass",
			"ssl.truststore.type": "PKCS12", "ssl.truststore.location": trustFile, "ssl.truststore.password": "trust-pass",
			"ssl.client.auth": "required",
		}, presented: true, want: []string{"CN=alice,OU=eng,O=Example,C=US"}},
		{name: "PKCS12 wrong password", flags: map[string]string{
			"ssl.keystore.type": "PKCS12", "ssl.keystore.location": p12File, "ssl.keystore.password": "nope"},
			configErr: "PKCS12 key store"},
		{name: "JKS refused", flags: map[string]string{"ssl.keystore.location": "/x.jks"}, configErr: "JKS is Java's own format"},
		{name: "no key store", flags: map[string]string{}, configErr: "TLS needs a key store"},
		{name: "required without trust store", flags: map[string]string{
			"ssl.keystore.type": "PEM", "ssl.keystore.location": pemFile, "ssl.client.auth": "required"},
			configErr: "needs a trust store"},
		{name: "encrypted PEM key refused", flags: map[string]string{
			"ssl.keystore.type": "PEM", "ssl.keystore.certificate.chain": string(server.CertPEM),
			"ssl.keystore.key": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"},
			configErr: "encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := ServerTLS(loadConfig(t, tt.flags), "SECURE")
			if tt.configErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.configErr) {
					t.Fatalf("ServerTLS error %v, want %q", err, tt.configErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var cert *tls.Certificate
			if tt.presented {
				cert = &clientPair
			}
			got, err := handshake(t, sc, ca, cert)
			if tt.refused {
				if err == nil {
					t.Fatalf("handshake without a client certificate succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("client certificates %q, want %q", got, tt.want)
			}
		})
	}
}

// TestListenerOverride: a listener.name.<l>. key wins for its listener
// only.
func TestListenerOverride(t *testing.T) {
	cfg := loadConfig(t, map[string]string{
		"ssl.client.auth":                               "requested",
		"listener.name.internal.ssl.client.auth":        "none",
		"sasl.enabled.mechanisms":                       "PLAIN",
		"listener.name.internal.plain.sasl.jaas.config": plainLoginModule + ` required user_a="b";`,
	})
	if got := cfg.ListenerString("INTERNAL", "ssl.client.auth"); got != "none" {
		t.Errorf("INTERNAL ssl.client.auth = %q", got)
	}
	if got := cfg.ListenerString("EXTERNAL", "ssl.client.auth"); got != "requested" {
		t.Errorf("EXTERNAL ssl.client.auth = %q", got)
	}
	if _, err := NewListener(cfg, "INTERNAL", "SASL_PLAINTEXT", nil); err != nil {
		t.Errorf("INTERNAL: %v", err)
	}
	_, err := NewListener(cfg, "EXTERNAL", "SASL_PLAINTEXT", nil)
	if err == nil || !strings.Contains(err.Error(), "listener.name.external.plain.sasl.jaas.config is not set") {
		t.Errorf("EXTERNAL without JAAS: %v", err)
	}
	cfg = loadConfig(t, nil)
	if _, err := NewListener(cfg, "SASL_PLAINTEXT", "SASL_PLAINTEXT", nil); err == nil || !strings.Contains(err.Error(), "GSSAPI") {
		t.Errorf("Kafka's default GSSAPI: %v", err)
	}
}

// serverName handshakes with sc as a client trusting ca and returns the
// common name of the certificate the server presented.
func serverName(t *testing.T, sc *tls.Config, ca *testutil.CA) string {
	t.Helper()
	client, server := netPipe()
	defer client.Close()
	go func() {
		srv := tls.Server(server, sc)
		srv.Handshake()
		srv.Close()
	}()
	cl := tls.Client(client, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err := cl.Handshake(); err != nil {
		t.Fatal(err)
	}
	return cl.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestServerTLSReload: a key store file that changes is read again for
// new connections; one that does not build (a half-written renewal)
// leaves the last good certificate in use.
func TestServerTLSReload(t *testing.T) {
	reloadCheckInterval = 0
	t.Cleanup(func() { reloadCheckInterval = time.Second })
	dir := t.TempDir()
	ca := testutil.NewCA(t)
	// Each write moves the modification time on by a second, so a
	// coarse file system clock cannot hide a change.
	stamp := time.Now()
	write := func(data []byte) {
		path := testutil.WriteFile(t, dir, "server.pem", data)
		stamp = stamp.Add(time.Second)
		if err := os.Chtimes(path, stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
	issue := func(cn string) []byte {
		is := ca.Issue(t, pkix.Name{CommonName: cn}, "localhost")
		return append(append([]byte{}, is.KeyPEM...), is.CertPEM...)
	}
	write(issue("first"))
	sc, err := ServerTLS(loadConfig(t, map[string]string{
		"ssl.keystore.type": "PEM", "ssl.keystore.location": filepath.Join(dir, "server.pem")}), "SSL")
	if err != nil {
		t.Fatal(err)
	}
	if got := serverName(t, sc, ca); got != "first" {
		t.Fatalf("server certificate %q, want first", got)
	}
	write(issue("second"))
	if got := serverName(t, sc, ca); got != "second" {
		t.Fatalf("after the file changed: server certificate %q, want second", got)
	}
	write([]byte("-----BEGIN CERTIFICATE-----\nhalf"))
	if got := serverName(t, sc, ca); got != "second" {
		t.Fatalf("after a broken write: server certificate %q, want second", got)
	}
}
