package acl

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// Filter selects bindings, as Kafka's AclBindingFilter does for
// DescribeAcls and DeleteAcls: a nil string, and ANY, match everything.
type Filter struct {
	ResourceType kmsg.ACLResourceType
	ResourceName *string
	// PatternType ANY matches bindings of any pattern type whose name is
	// ResourceName; MATCH matches the bindings that would apply to a
	// resource named ResourceName (literal, wildcard and prefixes).
	PatternType kmsg.ACLResourcePatternType
	Principal   *string
	Host        *string
	Operation   kmsg.ACLOperation
	Permission  kmsg.ACLPermissionType
}

// Matches reports whether the filter selects b.
func (f *Filter) Matches(b *metadata.ACL) bool {
	return f.matchesPattern(b) &&
		(f.Principal == nil || *f.Principal == b.Principal) &&
		(f.Host == nil || *f.Host == b.Host) &&
		(f.Operation == kmsg.ACLOperationAny || f.Operation == b.Operation) &&
		(f.Permission == kmsg.ACLPermissionTypeAny || f.Permission == b.Permission)
}

// matchesPattern is Kafka's ResourcePatternFilter.matches.
func (f *Filter) matchesPattern(b *metadata.ACL) bool {
	if f.ResourceType != kmsg.ACLResourceTypeAny && f.ResourceType != b.ResourceType {
		return false
	}
	if f.PatternType != kmsg.ACLResourcePatternTypeAny && f.PatternType != kmsg.ACLResourcePatternTypeMatch && f.PatternType != b.PatternType {
		return false
	}
	if f.ResourceName == nil {
		return true
	}
	name := *f.ResourceName
	if f.PatternType != kmsg.ACLResourcePatternTypeMatch {
		return name == b.ResourceName
	}
	switch b.PatternType {
	case kmsg.ACLResourcePatternTypeLiteral:
		return name == b.ResourceName || b.ResourceName == WildcardResource
	case kmsg.ACLResourcePatternTypePrefixed:
		return strings.HasPrefix(name, b.ResourceName)
	}
	return false
}

// Unknown reports whether the filter names an enum value Kafka does not
// know, which DescribeAcls and DeleteAcls refuse with INVALID_REQUEST.
func (f *Filter) Unknown() bool {
	return f.ResourceType == kmsg.ACLResourceTypeUnknown || f.PatternType == kmsg.ACLResourcePatternTypeUnknown ||
		f.Operation == kmsg.ACLOperationUnknown || f.Permission == kmsg.ACLPermissionTypeUnknown ||
		!knownResourceType(f.ResourceType, true) || !knownPatternType(f.PatternType, true) ||
		!knownOperation(f.Operation, true) || !knownPermission(f.Permission, true)
}
