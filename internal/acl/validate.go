package acl

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// ClusterResourceName is the one name of the cluster resource.
const ClusterResourceName = "kafka-cluster"

// operationTwoPhaseCommit is TWO_PHASE_COMMIT (KIP-939, Kafka 4), which
// kmsg does not name yet.
const operationTwoPhaseCommit kmsg.ACLOperation = 15

// The enum checks: a code Kafka does not know is UNKNOWN to it;
// filters may also use ANY (and MATCH for pattern types), bindings not.

func knownResourceType(t kmsg.ACLResourceType, filter bool) bool {
	return t >= kmsg.ACLResourceTypeTopic && t <= kmsg.ACLResourceTypeUser || filter && t == kmsg.ACLResourceTypeAny
}

func knownPatternType(t kmsg.ACLResourcePatternType, filter bool) bool {
	return t == kmsg.ACLResourcePatternTypeLiteral || t == kmsg.ACLResourcePatternTypePrefixed ||
		filter && (t == kmsg.ACLResourcePatternTypeAny || t == kmsg.ACLResourcePatternTypeMatch)
}

func knownOperation(op kmsg.ACLOperation, filter bool) bool {
	return op >= kmsg.ACLOperationAll && op <= operationTwoPhaseCommit || filter && op == kmsg.ACLOperationAny
}

func knownPermission(p kmsg.ACLPermissionType, filter bool) bool {
	return p == kmsg.ACLPermissionTypeDeny || p == kmsg.ACLPermissionTypeAllow || filter && p == kmsg.ACLPermissionTypeAny
}

// Validate checks a new binding as Kafka's AclControlManager and
// KafkaApis do, returning an INVALID_REQUEST error with Kafka's message.
func Validate(b *metadata.ACL) error {
	switch {
	case !knownResourceType(b.ResourceType, false):
		return fmt.Errorf("%w: Invalid resourceType %v", kerr.InvalidRequest, b.ResourceType)
	case !knownPatternType(b.PatternType, false):
		return fmt.Errorf("%w: Invalid patternType %v", kerr.InvalidRequest, b.PatternType)
	case !knownOperation(b.Operation, false):
		return fmt.Errorf("%w: Invalid operation %v", kerr.InvalidRequest, b.Operation)
	case !knownPermission(b.Permission, false):
		return fmt.Errorf("%w: Invalid permissionType %v", kerr.InvalidRequest, b.Permission)
	case b.ResourceName == "":
		return fmt.Errorf("%w: Resource name should not be empty", kerr.InvalidRequest)
	case b.ResourceType == kmsg.ACLResourceTypeCluster && b.ResourceName != ClusterResourceName:
		return fmt.Errorf("%w: The only valid name for the CLUSTER resource is %s", kerr.InvalidRequest, ClusterResourceName)
	case !strings.Contains(b.Principal, ":"):
		return fmt.Errorf("%w: Could not parse principal from `%s` (no colon is present separating the principal type from the principal name)", kerr.InvalidRequest, b.Principal)
	case b.Host == "":
		return fmt.Errorf("%w: Invalid host: the host must not be empty (use * for any host)", kerr.InvalidRequest)
	}
	return nil
}
