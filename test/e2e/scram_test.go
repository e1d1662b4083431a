package e2e

// SASL/SCRAM (SCRAM-SHA-256 and SCRAM-SHA-512) with real clients (issue
// 15): a broker whose SASL_PLAINTEXT and SASL_SSL listeners enable both
// mechanisms with Kafka's keys; users are created through
// AlterUserScramCredentials (kadm, the sluice CLI, Kafka's
// kafka-configs), then franz-go, kcat (librdkafka) and
// confluent-kafka-python authenticate as them.

import (
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// scramJAAS is the JAAS line Kafka's brokers need for each SCRAM
// mechanism; the users come from the metadata log.
const scramJAAS = "org.apache.kafka.common.security.scram.ScramLoginModule required;"

// scramBroker is a broker with a PLAINTEXT listener (no authorizer: any
// client may create users there) and SCRAM on SASL_PLAINTEXT and
// SASL_SSL.
type scramBroker struct {
	*Broker
	SASLPlaintext, SASLSSL string
	CAFile                 string
}

// startScramBroker starts a scramBroker.
func startScramBroker(t *testing.T) *scramBroker {
	t.Helper()
	dir := t.TempDir()
	ca := testutil.NewCA(t)
	server := ca.Issue(t, pkix.Name{CommonName: "localhost"}, "127.0.0.1", "localhost")
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }
	sb := &scramBroker{Broker: &Broker{t: t, DataDir: t.TempDir()}, SASLPlaintext: addr(), SASLSSL: addr(),
		CAFile: testutil.WriteFile(t, dir, "ca.pem", ca.CertPEM)}
	sb.Addr = addr()
	listeners := fmt.Sprintf("PLAINTEXT://%s,SASL_PLAINTEXT://%s,SASL_SSL://%s", sb.Addr, sb.SASLPlaintext, sb.SASLSSL)
	sb.Env = []string{
		"KAFKA_LISTENERS=" + listeners,
		"KAFKA_ADVERTISED_LISTENERS=" + listeners,
		"KAFKA_LOG_DIRS=" + sb.DataDir,
		"KAFKA_HTTP_LISTENERS=127.0.0.1:0",
		"KAFKA_SSL_KEYSTORE_TYPE=PEM",
		"KAFKA_SSL_KEYSTORE_CERTIFICATE_CHAIN=" + string(server.CertPEM),
		"KAFKA_SSL_KEYSTORE_KEY=" + string(server.KeyPEM),
		"KAFKA_SASL_ENABLED_MECHANISMS=SCRAM-SHA-256,SCRAM-SHA-512",
	}
	for _, l := range []string{"SASL__PLAINTEXT", "SASL__SSL"} {
		for _, m := range []string{"SCRAM___SHA___256", "SCRAM___SHA___512"} {
			sb.Env = append(sb.Env, "KAFKA_LISTENER_NAME_"+l+"_"+m+"_SASL_JAAS_CONFIG="+scramJAAS)
		}
	}
	sb.Start()
	t.Cleanup(func() { sb.Stop() })
	return sb
}

// createScramUser gives user password under both mechanisms, through
// kadm on the PLAINTEXT listener.
func createScramUser(t *testing.T, sb *scramBroker, user, password string) {
	t.Helper()
	adm := kadm.NewClient(securityClient(t, sb.Addr))
	var ups []kadm.UpsertSCRAM
	for _, m := range []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512} {
		ups = append(ups, kadm.UpsertSCRAM{User: user, Mechanism: m, Iterations: 8192, Password: password})
	}
	res, err := adm.AlterUserSCRAMs(testContext(t, 30*time.Second), nil, ups)
	if err != nil || res[user].Err != nil {
		t.Fatalf("create SCRAM user %s: %v %v", user, err, res[user].Err)
	}
}

// scramSettings are the -X settings of user over protocol with mech.
func scramSettings(protocol, mech, user, password, caFile string) []string {
	s := []string{"security.protocol=" + protocol, "sasl.mechanism=" + mech, "sasl.username=" + user, "sasl.password=" + password}
	if protocol == "SASL_SSL" {
		s = append(s, "ssl.ca.location="+caFile)
	}
	return s
}

// TestScramFranzGo: a user created with kadm produces and consumes with
// franz-go over both mechanisms on SASL_PLAINTEXT and SASL_SSL; a wrong
// password, and an unknown user, are refused; DescribeUserScramCredentials
// lists the user's mechanisms and a deleted credential no longer works.
func TestScramFranzGo(t *testing.T) {
	sb := startScramBroker(t)
	createScramUser(t, sb, "alice", "alice-secret")
	ctx := testContext(t, 60*time.Second)
	for _, listener := range []struct{ protocol, addr string }{{"SASL_PLAINTEXT", sb.SASLPlaintext}, {"SASL_SSL", sb.SASLSSL}} {
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			name := listener.protocol + "/" + mech
			cl := securityClient(t, listener.addr, scramSettings(listener.protocol, mech, "alice", "alice-secret", sb.CAFile)...)
			if err := roundTrip(ctx, cl, strings.ToLower(strings.ReplaceAll("scram-"+name, "/", "-"))); err != nil {
				t.Fatalf("%s: %v\nbroker:\n%s", name, err, clip(sb.Output()))
			}
			for _, who := range [][2]string{{"alice", "wrong"}, {"mallory", "alice-secret"}} {
				bad := securityClient(t, listener.addr, scramSettings(listener.protocol, mech, who[0], who[1], sb.CAFile)...)
				err := bad.Ping(testContext(t, 10*time.Second))
				if err == nil || !strings.Contains(err.Error(), kerr.SaslAuthenticationFailed.Message) {
					t.Errorf("%s as %s with %s: %v, want SASL_AUTHENTICATION_FAILED", name, who[0], who[1], err)
				}
			}
		}
	}

	adm := kadm.NewClient(securityClient(t, sb.Addr))
	described, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if infos := described["alice"].CredInfos; len(infos) != 2 || infos[0].Iterations != 8192 {
		t.Fatalf("described %+v", described)
	}
	res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "alice", Mechanism: kadm.ScramSha256}}, nil)
	if err != nil || res["alice"].Err != nil {
		t.Fatalf("delete alice's SCRAM-SHA-256: %v %v", err, res["alice"].Err)
	}
	gone := securityClient(t, sb.SASLPlaintext, scramSettings("SASL_PLAINTEXT", "SCRAM-SHA-256", "alice", "alice-secret", "")...)
	if err := gone.Ping(testContext(t, 10*time.Second)); err == nil {
		t.Error("a deleted SCRAM-SHA-256 credential still authenticates")
	}
	still := securityClient(t, sb.SASLPlaintext, scramSettings("SASL_PLAINTEXT", "SCRAM-SHA-512", "alice", "alice-secret", "")...)
	if err := still.Ping(testContext(t, 10*time.Second)); err != nil {
		t.Errorf("SCRAM-SHA-512 after deleting SCRAM-SHA-256: %v", err)
	}
}

// TestScramKcat: kcat (librdkafka) produces and consumes as a SCRAM user
// over SASL_SSL and SASL_PLAINTEXT, and is refused with a wrong password.
func TestScramKcat(t *testing.T) {
	kcat := lookTool(t, "kcat")
	sb := startScramBroker(t)
	createScramUser(t, sb, "alice", "alice-secret")
	for _, tt := range []struct{ protocol, addr, mech string }{
		{"SASL_SSL", sb.SASLSSL, "SCRAM-SHA-256"}, {"SASL_PLAINTEXT", sb.SASLPlaintext, "SCRAM-SHA-512"},
	} {
		t.Run(tt.protocol+"/"+tt.mech, func(t *testing.T) {
			topic := strings.ToLower("kcat-" + tt.protocol + "-" + tt.mech)
			var args []string
			for _, kv := range scramSettings(tt.protocol, tt.mech, "alice", "alice-secret", sb.CAFile) {
				args = append(args, "-X", strings.Replace(kv, "sasl.mechanism=", "sasl.mechanisms=", 1))
			}
			res, err := runTool(t, kcatTimeout, []byte("a\nb\nc\n"), kcat, append([]string{"-P", "-b", tt.addr, "-t", topic, "-p", "0"}, args...)...)
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("kcat -P: %v exit %d: %s\nbroker:\n%s", err, res.ExitCode, clip(res.Stderr), clip(sb.Output()))
			}
			res, err = runTool(t, kcatTimeout, nil, kcat, append([]string{"-C", "-b", tt.addr, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", `%s\n`}, args...)...)
			if err != nil || res.ExitCode != 0 || res.Stdout != "a\nb\nc\n" {
				t.Fatalf("kcat -C: %v exit %d printed %q: %s", err, res.ExitCode, res.Stdout, clip(res.Stderr))
			}
			wrong := append([]string{"-L", "-b", tt.addr, "-m", "5"}, args...)
			wrong = append(wrong, "-X", "sasl.password=nope")
			if res, err := runTool(t, kcatTimeout, nil, kcat, wrong...); err != nil || res.ExitCode == 0 {
				t.Errorf("kcat -L with a wrong password: %v exit %d: %s", err, res.ExitCode, res.Stdout)
			}
		})
	}
}

// TestScramPython: confluent-kafka-python produces and consumes as a
// SCRAM user with each mechanism.
func TestScramPython(t *testing.T) {
	requirePythonModule(t, "confluent_kafka")
	sb := startScramBroker(t)
	createScramUser(t, sb, "alice", "alice-secret")
	script, err := filepath.Abs(filepath.Join("testdata", "security_clients.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ protocol, addr, mech string }{
		{"SASL_SSL", sb.SASLSSL, "SCRAM-SHA-512"}, {"SASL_PLAINTEXT", sb.SASLPlaintext, "SCRAM-SHA-256"},
	} {
		t.Run(tt.protocol+"/"+tt.mech, func(t *testing.T) {
			topic := strings.ToLower("py-scram-" + tt.protocol + "-" + tt.mech)
			res, err := runTool(t, pythonScriptTimeout, nil, pythonPath, "-B", script, "confluent-kafka", tt.addr, topic,
				tt.protocol, "alice", "alice-secret", sb.CAFile, tt.mech)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode == pythonExitMissing {
				t.Skip(res.Stderr)
			}
			var s struct{ Produced, Consumed int }
			if res.ExitCode != 0 || json.Unmarshal([]byte(strings.TrimSpace(res.Stdout)), &s) != nil || s.Consumed != s.Produced || s.Produced == 0 {
				t.Fatalf("exit %d, printed %q:\n%s\nbroker:\n%s", res.ExitCode, res.Stdout, clip(res.Stderr), clip(sb.Output()))
			}
		})
	}
}

// TestScramJavaConfigs: Kafka's kafka-configs creates and deletes a
// SCRAM user through AlterUserScramCredentials, kadm describes it, and
// franz-go authenticates as that user.
func TestScramJavaConfigs(t *testing.T) {
	javaClasspath(t)
	sb := startScramBroker(t)
	ok := func(args ...string) string {
		t.Helper()
		return javaOK(t, sb.Broker, nil, javaConfigs, append([]string{"--bootstrap-server", sb.Addr}, args...)...)
	}
	user := []string{"--entity-type", "users", "--entity-name", "bob"}
	ok(append([]string{"--alter", "--add-config", "SCRAM-SHA-256=[iterations=8192,password=bob-secret]"}, user...)...)
	// kafka-configs --describe of users asks DescribeClientQuotas (48)
	// too, which Sluice does not serve yet; kadm describes instead.
	adm := kadm.NewClient(securityClient(t, sb.Addr))
	described, err := adm.DescribeUserSCRAMs(context.Background())
	if err != nil || len(described["bob"].CredInfos) != 1 || described["bob"].CredInfos[0].Iterations != 8192 {
		t.Fatalf("bob after kafka-configs --add-config: %+v %v", described, err)
	}
	cl := securityClient(t, sb.SASLPlaintext, scramSettings("SASL_PLAINTEXT", "SCRAM-SHA-256", "bob", "bob-secret", "")...)
	if err := cl.Ping(testContext(t, 10*time.Second)); err != nil {
		t.Fatalf("bob after kafka-configs: %v\nbroker:\n%s", err, clip(sb.Output()))
	}
	ok(append([]string{"--alter", "--delete-config", "SCRAM-SHA-256"}, user...)...)
	described, err = adm.DescribeUserSCRAMs(context.Background())
	if err != nil || len(described) != 0 {
		t.Errorf("after --delete-config: %+v %v", described, err)
	}
}

// TestScramCLI: `sluice user create|list|delete` manage SCRAM users that
// franz-go then authenticates as; errors are one sentence.
func TestScramCLI(t *testing.T) {
	sb := startScramBroker(t)
	cliOK(t, sb.Broker, "", "user", "create", "carol", "--password", "carol-secret")
	cliOK(t, sb.Broker, "", "user", "create", "carol", "--password", "carol-secret", "--mechanism", "scram-sha-512", "--iterations", "4096")
	out := cliOK(t, sb.Broker, "", "user", "list")
	if r := cliTableRow(out, "carol"); !strings.Contains(strings.Join(r, " "), "SCRAM-SHA-256 (8192 iterations), SCRAM-SHA-512 (4096 iterations)") {
		t.Errorf("user list:\n%s", out)
	}
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
		cl := securityClient(t, sb.SASLPlaintext, scramSettings("SASL_PLAINTEXT", mech, "carol", "carol-secret", "")...)
		if err := cl.Ping(testContext(t, 10*time.Second)); err != nil {
			t.Errorf("carol with %s: %v", mech, err)
		}
	}
	// The CLI itself authenticates with SCRAM on the SASL listener.
	r := cliRun(t, "", nil, "user", "list", "-b", sb.SASLPlaintext, "-X", "security.protocol=SASL_PLAINTEXT",
		"-X", "sasl.mechanism=SCRAM-SHA-512", "-X", "sasl.username=carol", "-X", "sasl.password=carol-secret")
	if r.code != 0 || !strings.Contains(r.stdout, "carol") {
		t.Errorf("user list over SCRAM: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cliFails(t, sb.Addr, "user", "create", "dan", "--password", "x", "--iterations", "100"); !strings.Contains(r.stderr, "4096..16384") {
		t.Errorf("too few iterations: %s", r.stderr)
	}
	if r := cliFails(t, sb.Addr, "user", "delete", "nobody"); !strings.Contains(r.stderr, `user "nobody" does not exist`) {
		t.Errorf("delete nobody: %s", r.stderr)
	}
	cliOK(t, sb.Broker, "", "user", "delete", "carol", "--mechanism", "SCRAM-SHA-256")
	if r := cliFails(t, sb.Addr, "user", "delete", "carol", "--mechanism", "SCRAM-SHA-256"); !strings.Contains(r.stderr, "has no SCRAM-SHA-256 credential") {
		t.Errorf("delete twice: %s", r.stderr)
	}
	cliOK(t, sb.Broker, "", "user", "delete", "carol")
	var users []struct{ User string }
	cliJSON(t, sb.Broker, &users, "user", "list")
	if len(users) != 0 {
		t.Errorf("users after delete: %+v", users)
	}
}
