package config

import (
	"slices"
	"strings"
)

// Authorizer class names Kafka's brokers accept for ACL authorization:
// StandardAuthorizer (KRaft) and the ZooKeeper-era AclAuthorizer, which
// Sluice treats alike since both keep the same ACL semantics.
const (
	StandardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
	AclAuthorizer      = "kafka.security.authorizer.AclAuthorizer"
)

// authorizerDefs are the keys of ACL authorization (issue 15). Defaults
// are Kafka's: no authorizer, no super users, deny what no ACL covers.
var authorizerDefs = []*Def{
	{Name: "authorizer.class.name", Type: TypeString, Default: "", check: checkAuthorizerClass,
		Doc: "The authorizer: " + StandardAuthorizer + " (or " + AclAuthorizer + ") enables ACLs; empty allows every request."},
	{Name: "super.users", Type: TypeString, Nullable: true,
		Doc: "Principals allowed everything whatever the ACLs say, separated by ';' (User:admin;User:broker)."},
	{Name: "allow.everyone.if.no.acl.found", Type: TypeBool, Default: "false",
		Doc: "Whether a resource no ACL names is open to everyone (else only to super users)."},
}

// checkAuthorizerClass is Def.check for authorizer.class.name.
func checkAuthorizerClass(value string) error {
	if value != "" && value != StandardAuthorizer && value != AclAuthorizer {
		return &Error{Key: "authorizer.class.name", Reason: "Sluice knows only " + StandardAuthorizer + " and " + AclAuthorizer}
	}
	return nil
}

// AuthorizerEnabled reports whether authorizer.class.name enables ACLs.
func (b *Broker) AuthorizerEnabled() bool { return b.String("authorizer.class.name") != "" }

// SuperUsers returns super.users, split at ';' and trimmed, as Kafka's
// StandardAuthorizer reads it.
func (b *Broker) SuperUsers() []string {
	var users []string
	for u := range strings.SplitSeq(b.String("super.users"), ";") {
		if u = strings.TrimSpace(u); u != "" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	return users
}
