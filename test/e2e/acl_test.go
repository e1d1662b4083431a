package e2e

// ACLs (issue 15) with real processes: a broker with a SASL_PLAINTEXT
// PLAIN listener (users admin and alice), authorizer.class.name set to
// Kafka's StandardAuthorizer and admin a super user; franz-go's kadm and
// Kafka 4.4's kafka-acls create, list and delete ACLs, and alice is
// allowed or refused as they say.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// aclTakesEffectMax is how soon a created or deleted ACL must decide
// alice's requests.
const aclTakesEffectMax = time.Second

// startACLBroker starts a broker with PLAINTEXT and SASL_PLAINTEXT
// listeners and ACLs enabled; it returns the broker and the SASL
// listener's address. PLAINTEXT connections are User:ANONYMOUS, which no
// ACL names: they may do nothing.
func startACLBroker(t *testing.T) (*Broker, string) {
	t.Helper()
	sasl := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	b := &Broker{t: t, DataDir: t.TempDir()}
	b.Addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	listeners := fmt.Sprintf("PLAINTEXT://%s,SASL_PLAINTEXT://%s", b.Addr, sasl)
	b.Env = append([]string{
		"KAFKA_LISTENERS=" + listeners,
		"KAFKA_ADVERTISED_LISTENERS=" + listeners,
		"KAFKA_LOG_DIRS=" + b.DataDir,
		"KAFKA_HTTP_LISTENERS=127.0.0.1:0",
		"KAFKA_SASL_ENABLED_MECHANISMS=PLAIN",
		"KAFKA_LISTENER_NAME_SASL__PLAINTEXT_PLAIN_SASL_JAAS_CONFIG=" + securityUsers,
		"KAFKA_AUTHORIZER_CLASS_NAME=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"KAFKA_SUPER_USERS=User:admin",
	}, javaBrokerEnv...)
	b.Start()
	t.Cleanup(func() { b.Stop() })
	return b, sasl
}

// produceOne produces one record to topic, within a short time.
func produceOne(ctx context.Context, cl *kgo.Client, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
}

// TestACLsFranzGo: kadm creates ACLs that let alice READ and WRITE
// topics (and groups) prefixed "a-"; alice produces and consumes on
// a-topic and is refused on b-topic; kadm lists them; revoked, they stop
// deciding within aclTakesEffectMax.
func TestACLsFranzGo(t *testing.T) {
	b, sasl := startACLBroker(t)
	ctx := testContext(t, 2*time.Minute)
	admin := kadm.NewClient(securityClient(t, sasl, "security.protocol=SASL_PLAINTEXT", "sasl.mechanism=PLAIN", "sasl.username=admin", "sasl.password=admin-secret"))
	for _, topic := range []string{"a-topic", "b-topic"} {
		if _, err := admin.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatalf("admin creating %s: %v\n%s", topic, err, clip(b.Output()))
		}
	}
	aliceSettings := []string{"security.protocol=SASL_PLAINTEXT", "sasl.mechanism=PLAIN", "sasl.username=alice", "sasl.password=alice-secret"}
	if err := produceOne(ctx, securityClient(t, sasl, aliceSettings...), "a-topic"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice producing before any ACL: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// Without ACLs, alice may not administer them either.
	aliceAdmin := kadm.NewClient(securityClient(t, sasl, aliceSettings...))
	grant := kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("a-").Groups("a-").
		ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpRead, kadm.OpWrite)
	if res, err := aliceAdmin.CreateACLs(ctx, grant); err != nil || len(res) == 0 || !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice creating ACLs: %v, %+v", err, res)
	}

	res, err := admin.CreateACLs(ctx, grant)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("creating %+v: %v %s", r, r.Err, r.ErrMessage)
		}
	}
	described, err := admin.DescribeACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts().AnyResource().
		ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny))
	if err != nil || len(described) != 1 || described[0].Err != nil || len(described[0].Described) != 4 {
		t.Fatalf("describing: %v, %+v", err, described)
	}

	alice := securityClient(t, sasl, aliceSettings...)
	if err := roundTrip(ctx, alice, "a-topic"); err != nil {
		t.Fatalf("alice on a-topic: %v\n%s", err, clip(b.Output()))
	}
	if err := produceOne(ctx, securityClient(t, sasl, aliceSettings...), "b-topic"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice producing to b-topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	deleted, err := admin.DeleteACLs(ctx, grant)
	if err != nil || len(deleted) == 0 {
		t.Fatalf("deleting: %v, %+v", err, deleted)
	}
	for _, d := range deleted {
		if d.Err != nil || len(d.Deleted) != 1 {
			t.Fatalf("deleting %+v: %v", d, d.Err)
		}
	}
	producer := securityClient(t, sasl, aliceSettings...)
	revoked := time.Now()
	for {
		err := produceOne(ctx, producer, "a-topic")
		if errors.Is(err, kerr.TopicAuthorizationFailed) {
			break
		}
		if time.Since(revoked) > aclTakesEffectMax {
			t.Fatalf("alice still produces %v after the ACLs were deleted: %v", aclTakesEffectMax, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestACLsJavaTool: Kafka 4.4's kafka-acls, as the super user over SASL,
// adds, lists and removes ACLs.
func TestACLsJavaTool(t *testing.T) {
	javaClasspath(t)
	b, sasl := startACLBroker(t)
	config := testutil.WriteFile(t, t.TempDir(), "admin.properties", []byte(
		"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
			`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";`+"\n"))
	tool := func(args ...string) string {
		t.Helper()
		return javaOK(t, b, nil, javaACLs, append([]string{"--bootstrap-server", sasl, "--command-config", config}, args...)...)
	}
	tool("--add", "--allow-principal", "User:alice", "--operation", "Read", "--operation", "Write",
		"--topic", "a-", "--resource-pattern-type", "prefixed")
	out := tool("--list", "--topic", "a-", "--resource-pattern-type", "prefixed")
	for _, want := range []string{"User:alice", "READ", "WRITE", "PREFIXED", "a-"} {
		if !strings.Contains(out, want) {
			t.Errorf("--list does not say %q:\n%s", want, out)
		}
	}
	tool("--remove", "--force", "--allow-principal", "User:alice", "--operation", "Read",
		"--topic", "a-", "--resource-pattern-type", "prefixed")
	out = tool("--list", "--topic", "a-", "--resource-pattern-type", "prefixed")
	if strings.Contains(out, "READ") || !strings.Contains(out, "WRITE") {
		t.Errorf("after removing READ, --list says:\n%s", out)
	}
	// Anonymous PLAINTEXT may not list them.
	res := javaTool(t, b, nil, javaACLs, "--bootstrap-server", b.Addr, "--list")
	if res.ExitCode == 0 || !strings.Contains(res.Stdout+res.Stderr, "ClusterAuthorization") {
		t.Errorf("anonymous --list exited %d:\n%s\n%s", res.ExitCode, clip(res.Stdout), clip(res.Stderr))
	}
}

// TestACLsCluster: three brokers with ACLs enabled replicate when the
// principal of their replica fetches, User:ANONYMOUS (the fetchers speak
// PLAINTEXT), is a super user, as Kafka wants brokers' principals in
// super.users; an ACL created through one broker is described by every
// other (it travels in the metadata log).
func TestACLsCluster(t *testing.T) {
	c := newCluster(t, "KAFKA_AUTHORIZER_CLASS_NAME=kafka.security.authorizer.AclAuthorizer", "KAFKA_SUPER_USERS=User:ANONYMOUS")
	c.start()
	ctx := testContext(t, 3*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	c.createReplicated(ctx, "acl-replicated", 1) // acks=all: the followers fetched

	grant := kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("a-").
		ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpRead)
	res, err := kadm.NewClient(clusterClient(t, []string{c.nodes[0].Addr})).CreateACLs(ctx, grant)
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("creating: %v, %+v", err, res)
	}
	for _, b := range c.nodes[1:] {
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
		req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		if !testutil.WaitFor(clusterAgreeMax, func() bool {
			resp, err := c.ask(b).Request(ctx, req)
			if err != nil {
				return false
			}
			d := resp.(*kmsg.DescribeACLsResponse)
			return d.ErrorCode == 0 && len(d.Resources) == 1 && d.Resources[0].ResourceName == "a-"
		}) {
			t.Fatalf("broker at %s does not describe the ACL", b.Addr)
		}
	}
}
