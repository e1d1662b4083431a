package acl

import (
	"context"
	"iter"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"

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
// describes. It reads every binding; Authorizer indexes them instead.
func Authorize(cfg *Config, acls map[string]*metadata.ACL, a Action) bool {
	return decide(cfg, a, func(yield func(*metadata.ACL) bool) {
		for _, b := range acls {
			if b.ResourceType == a.ResourceType && patternCovers(b, a.ResourceName) && !yield(b) {
				return
			}
		}
	})
}

// decide applies the rules to the bindings whose pattern covers the
// action's resource.
func decide(cfg *Config, a Action, covering iter.Seq[*metadata.ACL]) bool {
	if slices.Contains(cfg.SuperUsers, a.Principal) {
		return true
	}
	covered, allowed, denied := false, false, false
	for b := range covering {
		covered = true
		if b.Principal != a.Principal && b.Principal != WildcardPrincipal {
			continue
		}
		switch b.Permission {
		case kmsg.ACLPermissionTypeDeny:
			if hostMatches(b.Host, a.Host, true) && (b.Operation == a.Operation || b.Operation == kmsg.ACLOperationAll) {
				denied = true
			}
		case kmsg.ACLPermissionTypeAllow:
			if hostMatches(b.Host, a.Host, false) && implies(b.Operation, a.Operation) {
				allowed = true
			}
		}
		if denied {
			break
		}
	}
	if !covered {
		return cfg.AllowEveryoneIfNoACL
	}
	return allowed && !denied
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
	// index is built from an image's ACLs the first time they are asked
	// about; apply replaces the map when ACLs change, so its identity
	// says when the index is stale.
	index atomic.Pointer[index]
}

// index is the bindings of one ACL map by resource: literal patterns by
// type and name, the literal wildcard and prefixed patterns by type.
type index struct {
	// acls is the map indexed, kept so that its address, source, is not
	// reused by another map while the index may be asked.
	acls     map[string]*metadata.ACL
	source   uintptr
	literal  map[resourceKey][]*metadata.ACL
	wildcard map[kmsg.ACLResourceType][]*metadata.ACL
	prefixed map[kmsg.ACLResourceType][]*metadata.ACL
}

// resourceKey names one resource.
type resourceKey struct {
	typ  kmsg.ACLResourceType
	name string
}

// newIndex indexes acls.
func newIndex(acls map[string]*metadata.ACL) *index {
	ix := &index{acls: acls, source: reflect.ValueOf(acls).Pointer(), literal: map[resourceKey][]*metadata.ACL{},
		wildcard: map[kmsg.ACLResourceType][]*metadata.ACL{}, prefixed: map[kmsg.ACLResourceType][]*metadata.ACL{}}
	for _, b := range acls {
		switch {
		case b.PatternType == kmsg.ACLResourcePatternTypePrefixed:
			ix.prefixed[b.ResourceType] = append(ix.prefixed[b.ResourceType], b)
		case b.PatternType == kmsg.ACLResourcePatternTypeLiteral && b.ResourceName == WildcardResource:
			ix.wildcard[b.ResourceType] = append(ix.wildcard[b.ResourceType], b)
		case b.PatternType == kmsg.ACLResourcePatternTypeLiteral:
			k := resourceKey{b.ResourceType, b.ResourceName}
			ix.literal[k] = append(ix.literal[k], b)
		}
	}
	return ix
}

// covering yields the bindings whose pattern covers a's resource.
func (ix *index) covering(a Action) iter.Seq[*metadata.ACL] {
	return func(yield func(*metadata.ACL) bool) {
		for _, b := range ix.literal[resourceKey{a.ResourceType, a.ResourceName}] {
			if !yield(b) {
				return
			}
		}
		for _, b := range ix.wildcard[a.ResourceType] {
			if !yield(b) {
				return
			}
		}
		for _, b := range ix.prefixed[a.ResourceType] {
			if strings.HasPrefix(a.ResourceName, b.ResourceName) && !yield(b) {
				return
			}
		}
	}
}

// indexOf returns the index of acls, building it if the cached one is of
// another map.
func (z *Authorizer) indexOf(acls map[string]*metadata.ACL) *index {
	source := reflect.ValueOf(acls).Pointer()
	if ix := z.index.Load(); ix != nil && ix.source == source {
		return ix
	}
	ix := newIndex(acls)
	z.index.Store(ix)
	return ix
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
	a := Action{Principal: who.String(), Operation: op, ResourceType: typ, ResourceName: name}
	return decide(&z.cfg, a, z.indexOf(z.image().ACLs).covering(a))
}
