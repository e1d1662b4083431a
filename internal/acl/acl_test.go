package acl

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// Shorthands for the tables.
const (
	topic   = kmsg.ACLResourceTypeTopic
	group   = kmsg.ACLResourceTypeGroup
	cluster = kmsg.ACLResourceTypeCluster
	txnID   = kmsg.ACLResourceTypeTransactionalId
	literal = kmsg.ACLResourcePatternTypeLiteral
	prefix  = kmsg.ACLResourcePatternTypePrefixed
	allow   = kmsg.ACLPermissionTypeAllow
	deny    = kmsg.ACLPermissionTypeDeny

	read      = kmsg.ACLOperationRead
	write     = kmsg.ACLOperationWrite
	describe  = kmsg.ACLOperationDescribe
	alter     = kmsg.ACLOperationAlter
	del       = kmsg.ACLOperationDelete
	create    = kmsg.ACLOperationCreate
	all       = kmsg.ACLOperationAll
	descCfg   = kmsg.ACLOperationDescribeConfigs
	alterCfg  = kmsg.ACLOperationAlterConfigs
	clusterOp = kmsg.ACLOperationClusterAction
)

// bind is a binding for the tables.
func bind(typ kmsg.ACLResourceType, name string, pat kmsg.ACLResourcePatternType, principal, host string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) metadata.ACL {
	return metadata.ACL{ResourceType: typ, ResourceName: name, PatternType: pat, Principal: principal, Host: host, Operation: op, Permission: perm}
}

// TestAuthorize: StandardAuthorizer's rules, one table.
func TestAuthorize(t *testing.T) {
	aliceReadsA := bind(topic, "a-", prefix, "User:alice", "*", read, allow)
	tests := []struct {
		name   string
		cfg    Config
		acls   []metadata.ACL
		action Action
		want   bool
	}{
		{"no ACLs: denied", Config{}, nil, Action{"User:alice", "", read, topic, "t"}, false},
		{"no ACLs, allow.everyone: allowed", Config{AllowEveryoneIfNoACL: true}, nil, Action{"User:alice", "", read, topic, "t"}, true},
		{"super user", Config{SuperUsers: []string{"User:admin"}}, []metadata.ACL{bind(topic, "*", literal, "User:admin", "*", all, deny)},
			Action{"User:admin", "", write, topic, "t"}, true},
		{"prefixed allow", Config{}, []metadata.ACL{aliceReadsA}, Action{"User:alice", "", read, topic, "a-topic"}, true},
		{"prefixed does not cover another name", Config{}, []metadata.ACL{aliceReadsA}, Action{"User:alice", "", read, topic, "b-topic"}, false},
		{"prefix is a prefix, not a glob", Config{}, []metadata.ACL{aliceReadsA}, Action{"User:alice", "", read, topic, "xa-"}, false},
		{"another resource type", Config{}, []metadata.ACL{aliceReadsA}, Action{"User:alice", "", read, group, "a-topic"}, false},
		{"another principal", Config{}, []metadata.ACL{aliceReadsA}, Action{"User:bob", "", read, topic, "a-topic"}, false},
		{"covered resource ignores allow.everyone", Config{AllowEveryoneIfNoACL: true}, []metadata.ACL{aliceReadsA},
			Action{"User:bob", "", read, topic, "a-topic"}, false},
		{"uncovered resource with allow.everyone", Config{AllowEveryoneIfNoACL: true}, []metadata.ACL{aliceReadsA},
			Action{"User:bob", "", read, topic, "b-topic"}, true},
		{"literal exact", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", write, allow)}, Action{"User:alice", "", write, topic, "t"}, true},
		{"literal is not a prefix", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", write, allow)}, Action{"User:alice", "", write, topic, "tt"}, false},
		{"wildcard resource", Config{}, []metadata.ACL{bind(group, "*", literal, "User:alice", "*", read, allow)}, Action{"User:alice", "", read, group, "g"}, true},
		{"wildcard principal", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:*", "*", read, allow)}, Action{"User:bob", "", read, topic, "t"}, true},
		{"operation not granted", Config{}, []metadata.ACL{aliceReadsA}, Action{"User:alice", "", write, topic, "a-1"}, false},
		{"ALL grants everything", Config{}, []metadata.ACL{bind(cluster, "kafka-cluster", literal, "User:alice", "*", all, allow)},
			Action{"User:alice", "", clusterOp, cluster, "kafka-cluster"}, true},
		{"READ implies DESCRIBE", Config{}, []metadata.ACL{aliceReadsA}, Action{"User:alice", "", describe, topic, "a-1"}, true},
		{"WRITE implies DESCRIBE", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", write, allow)}, Action{"User:alice", "", describe, topic, "t"}, true},
		{"DELETE implies DESCRIBE", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", del, allow)}, Action{"User:alice", "", describe, topic, "t"}, true},
		{"ALTER implies DESCRIBE", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", alter, allow)}, Action{"User:alice", "", describe, topic, "t"}, true},
		{"CREATE does not imply DESCRIBE", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", create, allow)}, Action{"User:alice", "", describe, topic, "t"}, false},
		{"DESCRIBE does not imply READ", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", describe, allow)}, Action{"User:alice", "", read, topic, "t"}, false},
		{"ALTER_CONFIGS implies DESCRIBE_CONFIGS", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", alterCfg, allow)}, Action{"User:alice", "", descCfg, topic, "t"}, true},
		{"DESCRIBE_CONFIGS does not imply ALTER_CONFIGS", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", descCfg, allow)}, Action{"User:alice", "", alterCfg, topic, "t"}, false},
		{"DENY wins over ALLOW", Config{}, []metadata.ACL{aliceReadsA, bind(topic, "a-secret", literal, "User:alice", "*", read, deny)},
			Action{"User:alice", "", read, topic, "a-secret"}, false},
		{"DENY ALL wins", Config{}, []metadata.ACL{aliceReadsA, bind(topic, "*", literal, "User:*", "*", all, deny)},
			Action{"User:alice", "", read, topic, "a-1"}, false},
		{"DENY READ does not deny DESCRIBE", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", describe, allow), bind(topic, "t", literal, "User:alice", "*", read, deny)},
			Action{"User:alice", "", describe, topic, "t"}, true},
		{"DENY of another principal", Config{}, []metadata.ACL{aliceReadsA, bind(topic, "a-", prefix, "User:bob", "*", read, deny)},
			Action{"User:alice", "", read, topic, "a-1"}, true},
		{"host exact", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "10.0.0.1", read, allow)}, Action{"User:alice", "10.0.0.1", read, topic, "t"}, true},
		{"host other", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "10.0.0.1", read, allow)}, Action{"User:alice", "10.0.0.2", read, topic, "t"}, false},
		{"host unknown: a host's ALLOW does not apply", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "10.0.0.1", read, allow)}, Action{"User:alice", "", read, topic, "t"}, false},
		{"host unknown: a host's DENY applies", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", read, allow), bind(topic, "t", literal, "User:alice", "10.0.0.1", read, deny)},
			Action{"User:alice", "", read, topic, "t"}, false},
		{"host other: a host's DENY does not apply", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:alice", "*", read, allow), bind(topic, "t", literal, "User:alice", "10.0.0.1", read, deny)},
			Action{"User:alice", "10.0.0.2", read, topic, "t"}, true},
		{"transactional id", Config{}, []metadata.ACL{bind(txnID, "tx-", prefix, "User:alice", "*", write, allow)}, Action{"User:alice", "", write, txnID, "tx-1"}, true},
		{"anonymous", Config{}, []metadata.ACL{bind(topic, "t", literal, "User:ANONYMOUS", "*", read, allow)}, Action{"User:ANONYMOUS", "", read, topic, "t"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acls := map[string]*metadata.ACL{}
			for i := range tt.acls {
				a := tt.acls[i]
				a.ID = strconv.Itoa(i)
				acls[a.ID] = &a
			}
			if got := Authorize(&tt.cfg, acls, tt.action); got != tt.want {
				t.Errorf("Authorize(%+v) = %v, want %v", tt.action, got, tt.want)
			}
			if tt.action.Host != "" {
				return // the hook has no host
			}
			z := New(tt.cfg, func() *metadata.Image { return &metadata.Image{ACLs: acls} })
			who, ok := strings.CutPrefix(tt.action.Principal, "User:")
			if !ok {
				t.Fatal("a principal that is not a User")
			}
			a := tt.action
			if got := z.Authorize(context.Background(), protocol.Principal{Type: "User", Name: who}, a.Operation, a.ResourceType, a.ResourceName); got != tt.want {
				t.Errorf("Authorizer.Authorize(%+v) = %v, want %v", tt.action, got, tt.want)
			}
		})
	}
}

// TestFilter: Kafka's AclBindingFilter matching.
func TestFilter(t *testing.T) {
	name := func(s string) *string { return &s }
	lit := bind(topic, "a-1", literal, "User:alice", "*", read, allow)
	pre := bind(topic, "a-", prefix, "User:alice", "*", read, allow)
	wild := bind(topic, "*", literal, "User:bob", "*", write, deny)
	any := kmsg.ACLResourcePatternTypeAny
	match := kmsg.ACLResourcePatternTypeMatch
	anyType, anyOp, anyPerm := kmsg.ACLResourceTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	tests := []struct {
		name   string
		filter Filter
		want   []bool // lit, pre, wild
	}{
		{"everything", Filter{anyType, nil, any, nil, nil, anyOp, anyPerm}, []bool{true, true, true}},
		{"any pattern by name", Filter{topic, name("a-1"), any, nil, nil, anyOp, anyPerm}, []bool{true, false, false}},
		{"literal by name", Filter{topic, name("a-"), literal, nil, nil, anyOp, anyPerm}, []bool{false, false, false}},
		{"prefixed by name", Filter{topic, name("a-"), prefix, nil, nil, anyOp, anyPerm}, []bool{false, true, false}},
		{"match", Filter{topic, name("a-1"), match, nil, nil, anyOp, anyPerm}, []bool{true, true, true}},
		{"match another", Filter{topic, name("b"), match, nil, nil, anyOp, anyPerm}, []bool{false, false, true}},
		{"group", Filter{group, nil, any, nil, nil, anyOp, anyPerm}, []bool{false, false, false}},
		{"principal", Filter{anyType, nil, any, name("User:bob"), nil, anyOp, anyPerm}, []bool{false, false, true}},
		{"host", Filter{anyType, nil, any, nil, name("1.2.3.4"), anyOp, anyPerm}, []bool{false, false, false}},
		{"operation", Filter{anyType, nil, any, nil, nil, read, anyPerm}, []bool{true, true, false}},
		{"permission", Filter{anyType, nil, any, nil, nil, anyOp, deny}, []bool{false, false, true}},
	}
	for _, tt := range tests {
		for i, b := range []metadata.ACL{lit, pre, wild} {
			if got := tt.filter.Matches(&b); got != tt.want[i] {
				t.Errorf("%s: binding %d matched %v, want %v", tt.name, i, got, tt.want[i])
			}
		}
	}
	if !(&Filter{kmsg.ACLResourceTypeUnknown, nil, any, nil, nil, anyOp, anyPerm}).Unknown() ||
		!(&Filter{anyType, nil, any, nil, nil, 99, anyPerm}).Unknown() ||
		(&Filter{anyType, nil, match, nil, nil, anyOp, anyPerm}).Unknown() {
		t.Error("Unknown is wrong")
	}
}

// TestValidate: new bindings are checked as Kafka does.
func TestValidate(t *testing.T) {
	good := bind(topic, "t", literal, "User:alice", "*", read, allow)
	if err := Validate(&good); err != nil {
		t.Fatal(err)
	}
	for _, change := range []func(*metadata.ACL){
		func(b *metadata.ACL) { b.ResourceType = kmsg.ACLResourceTypeAny },
		func(b *metadata.ACL) { b.PatternType = kmsg.ACLResourcePatternTypeMatch },
		func(b *metadata.ACL) { b.Operation = kmsg.ACLOperationAny },
		func(b *metadata.ACL) { b.Permission = kmsg.ACLPermissionTypeAny },
		func(b *metadata.ACL) { b.ResourceName = "" },
		func(b *metadata.ACL) { b.Principal = "alice" },
		func(b *metadata.ACL) { b.ResourceType, b.ResourceName = cluster, "other" },
	} {
		b := good
		change(&b)
		if err := Validate(&b); err == nil {
			t.Errorf("%+v validated", b)
		}
	}
}

// TestAuthorizerFollowsTheImage: a new ACL map (a created or deleted
// binding) is indexed anew; the same map is not.
func TestAuthorizerFollowsTheImage(t *testing.T) {
	read := bind(topic, "a-", prefix, "User:alice", "*", kmsg.ACLOperationRead, allow)
	read.ID = "1"
	im := &metadata.Image{}
	z := New(Config{}, func() *metadata.Image { return im })
	alice := protocol.Principal{Type: "User", Name: "alice"}
	if z.Authorize(context.Background(), alice, kmsg.ACLOperationRead, topic, "a-1") {
		t.Fatal("allowed without ACLs")
	}
	im = &metadata.Image{ACLs: map[string]*metadata.ACL{"1": &read}}
	if !z.Authorize(context.Background(), alice, kmsg.ACLOperationRead, topic, "a-1") {
		t.Fatal("denied after the ACL was created")
	}
	first := z.index.Load()
	z.Authorize(context.Background(), alice, kmsg.ACLOperationRead, topic, "a-2")
	if z.index.Load() != first {
		t.Fatal("the same ACLs were indexed again")
	}
	im = &metadata.Image{ACLs: map[string]*metadata.ACL{}}
	if z.Authorize(context.Background(), alice, kmsg.ACLOperationRead, topic, "a-1") {
		t.Fatal("allowed after the ACL was deleted")
	}
}
