package acl

import (
	"context"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// Wildcards of Kafka's ACLs: the resource name every resource of a type
// matches (with a LITERAL pattern), the principal every principal
// matches, and the host every host matches.
const (
	WildcardResource  = "*"
	WildcardPrincipal = "User:*"
	WildcardHost      = "*"
)

// Config is the authorizer's configuration.
type Config struct {
	// SuperUsers are principals ("User:admin") allowed everything.
	SuperUsers []string
	// AllowEveryoneIfNoACL allows everyone on a resource no binding
	// covers (allow.everyone.if.no.acl.found).
	AllowEveryoneIfNoACL bool
}

// Action is one question: may Principal, connected from Host, perform
// Operation on the resource?
type Action struct {
	Principal    string // "User:alice"
	Host         string // the client's IP address; "" when unknown
	Operation    kmsg.ACLOperation
	ResourceType kmsg.ACLResourceType
	ResourceName string
}

// Authorize decides an action by the bindings acls, as the package doc
// describes. It reads every binding: its cost grows with their number,
// which metadata.ACLsMax bounds.
func Authorize(cfg *Config, acls map[string]*metadata.ACL, a Action) bool {
	if slices.Contains(cfg.SuperUsers, a.Principal) {
		return true
	}
	covered, allowed := false, false
	for _, b := range acls {
		if b.ResourceType != a.ResourceType || !patternCovers(b, a.ResourceName) {
			continue
		}
		covered = true
		if b.Principal != a.Principal && b.Principal != WildcardPrincipal {
			continue
		}
		switch b.Permission {
		case kmsg.ACLPermissionTypeDeny:
			if hostMatches(b.Host, a.Host, true) && (b.Operation == a.Operation || b.Operation == kmsg.ACLOperationAll) {
				return false
			}
		case kmsg.ACLPermissionTypeAllow:
			if hostMatches(b.Host, a.Host, false) && implies(b.Operation, a.Operation) {
				allowed = true
			}
		}
	}
	if !covered {
		return cfg.AllowEveryoneIfNoACL
	}
	return allowed
}

// patternCovers reports whether b's resource pattern covers name.
func patternCovers(b *metadata.ACL, name string) bool {
	switch b.PatternType {
	case kmsg.ACLResourcePatternTypeLiteral:
		return b.ResourceName == name || b.ResourceName == WildcardResource
	case kmsg.ACLResourcePatternTypePrefixed:
		return strings.HasPrefix(name, b.ResourceName)
	}
	return false
}

// hostMatches reports whether a binding for host applies to a client at
// client; with client unknown (""), a binding for a specific host
// applies when it is a DENY (deny), never when it is an ALLOW.
func hostMatches(host, client string, deny bool) bool {
	if host == WildcardHost {
		return true
	}
	if client == "" {
		return deny
	}
	return host == client
}

// implies reports whether an ALLOW of granted allows op.
func implies(granted, op kmsg.ACLOperation) bool {
	if granted == op || granted == kmsg.ACLOperationAll {
		return true
	}
	switch op {
	case kmsg.ACLOperationDescribe:
		return granted == kmsg.ACLOperationRead || granted == kmsg.ACLOperationWrite ||
			granted == kmsg.ACLOperationDelete || granted == kmsg.ACLOperationAlter
	case kmsg.ACLOperationDescribeConfigs:
		return granted == kmsg.ACLOperationAlterConfigs
	}
	return false
}

// Authorizer decides the requests of a broker by the ACLs of its current
// metadata image. It is safe for concurrent use.
type Authorizer struct {
	cfg   Config
	image func() *metadata.Image
}

// New returns an authorizer that reads the bindings of image() at each
// decision, so that a created or deleted binding applies as soon as the
// broker has applied its record.
func New(cfg Config, image func() *metadata.Image) *Authorizer {
	return &Authorizer{cfg: cfg, image: image}
}

// Authorize decides whether who may perform op on a resource; its
// signature is handler.Authorizer's. The hook does not carry the client's
// address yet: see the package doc on hosts.
func (z *Authorizer) Authorize(_ context.Context, who protocol.Principal, op kmsg.ACLOperation, typ kmsg.ACLResourceType, name string) bool {
	return Authorize(&z.cfg, z.image().ACLs, Action{Principal: who.String(), Operation: op, ResourceType: typ, ResourceName: name})
}
