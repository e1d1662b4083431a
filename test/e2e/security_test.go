package e2e

// TLS and SASL/PLAIN on Kafka listeners with real clients (issue 15): one
// broker with PLAINTEXT, SSL (mutual TLS required), SASL_PLAINTEXT and
// SASL_SSL listeners configured through the KAFKA_ environment with
// Kafka's keys, a CA and certificates made at test time; franz-go (through
// sluice's own -X client settings), the sluice CLI, kcat (librdkafka),
// confluent-kafka-python and kafka-python connect to it.

import (
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/kclient"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// securityUsers is the PLAIN JAAS line of the secured listeners, as
// Kafka's documentation writes it.
const securityUsers = `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
	`username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`

// secureBroker is a broker with one listener of each security protocol.
type secureBroker struct {
	*Broker
	SSL, SASLPlaintext, SASLSSL string // listener addresses
	CAFile                      string // PEM of the CA that signed the broker's and the client's certificates
	ClientCert, ClientKey       string // a client certificate, for mutual TLS
}

// startSecureBroker starts a broker with PLAINTEXT, SSL, SASL_PLAINTEXT
// and SASL_SSL listeners. SSL and SASL_SSL use the same CA; the SSL
// listener requires a client certificate (a per-listener override), and
// SASL_SSL's key store is given inline (KIP-651) where SSL's is a file.
func startSecureBroker(t *testing.T) *secureBroker {
	t.Helper()
	dir := t.TempDir()
	ca := testutil.NewCA(t)
	server := ca.Issue(t, pkix.Name{CommonName: "localhost"}, "127.0.0.1", "localhost")
	client := ca.Issue(t, pkix.Name{CommonName: "alice-cert", Organization: []string{"Sluice Tests"}})
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }
	sb := &secureBroker{
		Broker:        &Broker{t: t, DataDir: t.TempDir()},
		SSL:           addr(),
		SASLPlaintext: addr(),
		SASLSSL:       addr(),
		CAFile:        testutil.WriteFile(t, dir, "ca.pem", ca.CertPEM),
		ClientCert:    testutil.WriteFile(t, dir, "client.pem", client.CertPEM),
		ClientKey:     testutil.WriteFile(t, dir, "client.key", client.KeyPEM),
	}
	sb.Addr = addr()
	keystore := testutil.WriteFile(t, dir, "server.pem", append(append([]byte{}, server.KeyPEM...), server.CertPEM...))
	listeners := fmt.Sprintf("PLAINTEXT://%s,SSL://%s,SASL_PLAINTEXT://%s,SASL_SSL://%s", sb.Addr, sb.SSL, sb.SASLPlaintext, sb.SASLSSL)
	sb.Env = []string{
		"KAFKA_LISTENERS=" + listeners,
		"KAFKA_ADVERTISED_LISTENERS=" + listeners,
		"KAFKA_LOG_DIRS=" + sb.DataDir,
		"KAFKA_HTTP_LISTENERS=127.0.0.1:0",
		"KAFKA_SSL_KEYSTORE_TYPE=PEM",
		"KAFKA_SSL_KEYSTORE_LOCATION=" + keystore,
		"KAFKA_SSL_TRUSTSTORE_TYPE=PEM",
		"KAFKA_SSL_TRUSTSTORE_LOCATION=" + sb.CAFile,
		"KAFKA_LISTENER_NAME_SSL_SSL_CLIENT_AUTH=required",
		"KAFKA_LISTENER_NAME_SASL__SSL_SSL_KEYSTORE_LOCATION=",
		"KAFKA_LISTENER_NAME_SASL__SSL_SSL_KEYSTORE_CERTIFICATE_CHAIN=" + string(server.CertPEM),
		"KAFKA_LISTENER_NAME_SASL__SSL_SSL_KEYSTORE_KEY=" + string(server.KeyPEM),
		"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN",
		"KAFKA_LISTENER_NAME_SASL__PLAINTEXT_PLAIN_SASL_JAAS_CONFIG=" + securityUsers,
		"KAFKA_LISTENER_NAME_SASL__SSL_PLAIN_SASL_JAAS_CONFIG=" + securityUsers,
	}
	sb.Start()
	t.Cleanup(func() { sb.Stop() })
	return sb
}

// securityClient builds a franz-go client from -X style settings, as
// sluice's own commands do.
func securityClient(t *testing.T, addr string, settings ...string) *kgo.Client {
	t.Helper()
	s, err := kclient.ParseSettings(settings)
	if err != nil {
		t.Fatal(err)
	}
	security, err := s.Options()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kclient.New(kclient.Config{Seeds: []string{addr}, ClientID: "security-e2e", DialTimeout: 5 * time.Second, Security: security},
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RetryTimeout(5*time.Second), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// roundTrip produces records to a new topic and reads them back.
func roundTrip(ctx context.Context, cl *kgo.Client, topic string) error {
	const records = 20
	for i := range records {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v" + strconv.Itoa(i))}).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
	}
	cl.AddConsumeTopics(topic)
	got := 0
	for got < records {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			return fmt.Errorf("consume: %w", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) == "v"+strconv.Itoa(int(r.Offset)) {
				got++
			}
		})
	}
	return nil
}

// TestSecurityFranzGo: franz-go over SSL with a client certificate,
// SASL_PLAINTEXT and SASL_SSL with PLAIN; refused without a client
// certificate, with a wrong password, and in plaintext on a SASL
// listener; Metadata answers with the addresses of the listener asked.
func TestSecurityFranzGo(t *testing.T) {
	sb := startSecureBroker(t)
	alice := []string{"sasl.mechanism=PLAIN", "sasl.username=alice", "sasl.password=alice-secret"}
	ok := []struct {
		name     string
		addr     string
		settings []string
	}{
		{"SSL mutual TLS", sb.SSL, []string{"security.protocol=SSL", "ssl.ca.location=" + sb.CAFile,
			"ssl.certificate.location=" + sb.ClientCert, "ssl.key.location=" + sb.ClientKey}},
		{"SASL_PLAINTEXT PLAIN", sb.SASLPlaintext, append([]string{"security.protocol=SASL_PLAINTEXT"}, alice...)},
		{"SASL_SSL PLAIN", sb.SASLSSL, append([]string{"security.protocol=SASL_SSL", "ssl.ca.location=" + sb.CAFile}, alice...)},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			cl := securityClient(t, tt.addr, tt.settings...)
			ctx := testContext(t, 30*time.Second)
			if err := roundTrip(ctx, cl, "secure-"+strings.ReplaceAll(strings.ToLower(tt.name), " ", "-")); err != nil {
				t.Fatal(err)
			}
			// Metadata lists the broker on the listener the client uses.
			resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			_, port, _ := strings.Cut(tt.addr, ":")
			if len(resp.Brokers) != 1 || strconv.Itoa(int(resp.Brokers[0].Port)) != port {
				t.Errorf("Metadata brokers %+v, want port %s", resp.Brokers, port)
			}
		})
	}
	refused := []struct {
		name     string
		addr     string
		settings []string
		want     error // nil: any error
	}{
		{"SSL without a client certificate", sb.SSL, []string{"security.protocol=SSL", "ssl.ca.location=" + sb.CAFile}, nil},
		{"SSL with an untrusted broker", sb.SSL, []string{"security.protocol=SSL"}, nil},
		{"wrong password", sb.SASLSSL, []string{"security.protocol=SASL_SSL", "ssl.ca.location=" + sb.CAFile,
			"sasl.mechanism=PLAIN", "sasl.username=alice", "sasl.password=admin-secret"}, kerr.SaslAuthenticationFailed},
		{"impersonation is not possible with a wrong user", sb.SASLPlaintext, []string{"security.protocol=SASL_PLAINTEXT",
			"sasl.mechanism=PLAIN", "sasl.username=admin", "sasl.password=alice-secret"}, kerr.SaslAuthenticationFailed},
		{"plaintext on a SASL listener", sb.SASLPlaintext, nil, nil},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			cl := securityClient(t, tt.addr, tt.settings...)
			ctx := testContext(t, 10*time.Second)
			_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			if err == nil {
				t.Fatal("Metadata succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
	if out := sb.Output(); !strings.Contains(out, "failed authentication") || !strings.Contains(out, "remote=127.0.0.1:") {
		t.Errorf("failed authentications are not logged with the client address:\n%s", clip(out))
	}
}

// TestSecurityCLI: sluice's own commands reach a SASL_SSL listener with
// -X settings, the password also from $SLUICE_SASL_PASSWORD.
func TestSecurityCLI(t *testing.T) {
	sb := startSecureBroker(t)
	x := []string{"-b", sb.SASLSSL, "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + sb.CAFile,
		"-X", "sasl.mechanism=PLAIN", "-X", "sasl.username=alice", "-X", "sasl.password=alice-secret"}
	if r := cliRun(t, "", nil, append([]string{"topic", "create", "cli-secure"}, x...)...); r.code != 0 {
		t.Fatalf("topic create exited %d: %s", r.code, r.stderr)
	}
	if r := cliRun(t, "one\ntwo\nthree\n", nil, append([]string{"produce", "cli-secure", "--no-progress"}, x...)...); r.code != 0 {
		t.Fatalf("produce exited %d: %s", r.code, r.stderr)
	}
	r := cliRun(t, "", nil, append([]string{"consume", "cli-secure", "-e", "-f", `%v\n`}, x...)...)
	if r.code != 0 || r.stdout != "one\ntwo\nthree\n" {
		t.Fatalf("consume exited %d, printed %q: %s", r.code, r.stdout, r.stderr)
	}
	bad := append(slices.Clone(x[:len(x)-1]), "sasl.password=wrong")
	if r := cliRun(t, "", nil, append([]string{"topic", "list", "--timeout", "3s"}, bad...)...); r.code == 0 {
		t.Errorf("topic list with a wrong password succeeded: %s", r.stdout)
	}
	// The password from $SLUICE_SASL_PASSWORD, off the command line.
	noPassword := slices.Clone(x[:len(x)-2])
	env := []string{"SLUICE_SASL_PASSWORD=alice-secret"}
	if r := cliRun(t, "", env, append([]string{"topic", "list"}, noPassword...)...); r.code != 0 || !strings.Contains(r.stdout, "cli-secure") {
		t.Errorf("topic list with the password in the environment exited %d: %s %s", r.code, r.stdout, r.stderr)
	}
}

// TestSecurityKcat: kcat (librdkafka) produces and consumes over
// SASL_SSL with PLAIN and over SSL with a client certificate.
func TestSecurityKcat(t *testing.T) {
	kcat := lookTool(t, "kcat")
	sb := startSecureBroker(t)
	for _, tt := range []struct {
		name string
		addr string
		x    []string
	}{
		{"SASL_SSL", sb.SASLSSL, []string{"security.protocol=SASL_SSL", "ssl.ca.location=" + sb.CAFile,
			"sasl.mechanisms=PLAIN", "sasl.username=alice", "sasl.password=alice-secret"}},
		{"SSL", sb.SSL, []string{"security.protocol=SSL", "ssl.ca.location=" + sb.CAFile,
			"ssl.certificate.location=" + sb.ClientCert, "ssl.key.location=" + sb.ClientKey}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			topic := "kcat-" + strings.ToLower(tt.name)
			var args []string
			for _, kv := range tt.x {
				args = append(args, "-X", kv)
			}
			res, err := runTool(t, kcatTimeout, []byte("a\nb\nc\n"), kcat, append([]string{"-P", "-b", tt.addr, "-t", topic, "-p", "0"}, args...)...)
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("kcat -P: %v exit %d: %s\nbroker:\n%s", err, res.ExitCode, clip(res.Stderr), clip(sb.Output()))
			}
			res, err = runTool(t, kcatTimeout, nil, kcat, append([]string{"-C", "-b", tt.addr, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", `%s\n`}, args...)...)
			if err != nil || res.ExitCode != 0 || res.Stdout != "a\nb\nc\n" {
				t.Fatalf("kcat -C: %v exit %d printed %q: %s", err, res.ExitCode, res.Stdout, clip(res.Stderr))
			}
		})
	}
	res, err := runTool(t, kcatTimeout, nil, kcat, "-L", "-b", sb.SASLSSL, "-m", "5", "-X", "security.protocol=SASL_SSL",
		"-X", "ssl.ca.location="+sb.CAFile, "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice", "-X", "sasl.password=nope")
	if err != nil || res.ExitCode == 0 {
		t.Errorf("kcat -L with a wrong password: %v exit %d: %s", err, res.ExitCode, res.Stdout)
	}
}

// TestSecurityPython: confluent-kafka-python (librdkafka, SaslHandshake
// v1 and SaslAuthenticate) and kafka-python (its own protocol code) over
// SASL_SSL and SASL_PLAINTEXT with PLAIN.
func TestSecurityPython(t *testing.T) {
	sb := startSecureBroker(t)
	for _, client := range []struct{ name, module string }{{"confluent-kafka", "confluent_kafka"}, {"kafka-python", "kafka"}} {
		for _, listener := range []struct{ protocol, addr string }{{"SASL_SSL", sb.SASLSSL}, {"SASL_PLAINTEXT", sb.SASLPlaintext}} {
			t.Run(client.name+"/"+listener.protocol, func(t *testing.T) {
				requirePythonModule(t, client.module)
				script, err := filepath.Abs(filepath.Join("testdata", "security_clients.py"))
				if err != nil {
					t.Fatal(err)
				}
				topic := "py-" + client.module + "-" + strings.ToLower(listener.protocol)
				res, err := runTool(t, pythonScriptTimeout, nil, pythonPath, "-B", script, client.name, listener.addr, topic,
					listener.protocol, "alice", "alice-secret", sb.CAFile)
				if err != nil {
					t.Fatal(err)
				}
				if res.ExitCode == pythonExitMissing {
					t.Skip(res.Stderr)
				}
				var s struct {
					Client             string
					Produced, Consumed int
				}
				if res.ExitCode != 0 || json.Unmarshal([]byte(strings.TrimSpace(res.Stdout)), &s) != nil || s.Consumed != s.Produced || s.Produced == 0 {
					t.Fatalf("exit %d, printed %q:\n%s\nbroker:\n%s", res.ExitCode, res.Stdout, clip(res.Stderr), clip(sb.Output()))
				}
			})
		}
	}
}
