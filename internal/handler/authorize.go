package handler

// Authorization is where security plugs in (package acl, when
// authorizer.class.name enables it). Each API asks the Broker's
// Authorize hook about the resources it touches, as Kafka's KafkaApis
// (and ControllerApis, for what a KRaft broker forwards) does, with the
// request's principal, and answers a denial with the resource's
// *_AUTHORIZATION_FAILED code:
//
//	Produce          WRITE topic                  TOPIC_AUTHORIZATION_FAILED
//	Fetch            READ topic                   TOPIC_AUTHORIZATION_FAILED
//	ListOffsets      DESCRIBE topic               TOPIC_AUTHORIZATION_FAILED
//	Metadata         DESCRIBE topic; to auto-create, CREATE cluster or topic
//	OffsetCommit     READ group, READ topic       GROUP_/TOPIC_AUTHORIZATION_FAILED
//	OffsetFetch      DESCRIBE group, DESCRIBE topic (all topics: filtered)
//	FindCoordinator  DESCRIBE group
//	JoinGroup, SyncGroup, Heartbeat, LeaveGroup   READ group
//	DescribeGroups   DESCRIBE group
//	ListGroups       DESCRIBE cluster, else only the groups it may DESCRIBE
//	CreateTopics     CREATE cluster or topic      TOPIC_AUTHORIZATION_FAILED
//	DeleteTopics     DELETE topic (by id: DESCRIBE to learn the name)
//	DeleteRecords    DELETE topic                 TOPIC_AUTHORIZATION_FAILED
//	InitProducerId   IDEMPOTENT_WRITE cluster or WRITE a topic (see
//	                 mayWriteIdempotently)        CLUSTER_AUTHORIZATION_FAILED
//	OffsetForLeaderEpoch  CLUSTER_ACTION cluster, else DESCRIBE topic
//	DescribeAcls     DESCRIBE cluster             CLUSTER_AUTHORIZATION_FAILED
//	CreateAcls, DeleteAcls  ALTER cluster         CLUSTER_AUTHORIZATION_FAILED
//	DescribeConfigs  DESCRIBE_CONFIGS \ topic, group, or the cluster for
//	AlterConfigs     ALTER_CONFIGS    / broker-wide configs (configDenied)
//	IncrementalAlterConfigs  ALTER_CONFIGS, as AlterConfigs
//	DescribeLogDirs  DESCRIBE cluster             CLUSTER_AUTHORIZATION_FAILED
//	CreatePartitions ALTER topic                  TOPIC_AUTHORIZATION_FAILED
//	DeleteGroups     DELETE group
//	ElectLeaders     ALTER cluster                CLUSTER_AUTHORIZATION_FAILED
//	OffsetDelete     DELETE group, READ topic     GROUP_/TOPIC_AUTHORIZATION_FAILED
//	DescribeCluster  DESCRIBE cluster, only for the authorized operations
//	                 a client asks for (0 when denied), as Kafka
//
// A follower's Fetch needs CLUSTER_ACTION on the cluster, as in Kafka;
// the fetching broker connects in PLAINTEXT, as User:ANONYMOUS, so with
// ACLs enabled that principal must be a super user or be allowed
// CLUSTER_ACTION (internal/broker warns when it is not a super user).
//
// The hook is not given the client's address: package acl decides
// bindings for a specific host conservatively (see its doc).
//
// Not checked yet (Kafka does): CLUSTER_ACTION for the broker-to-broker
// APIs Sluice does not serve yet; WRITE on a transactional id, refused
// whatever the hook says until transactions exist.

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

// clusterResource is the name of the one cluster resource, as Kafka
// names it in ACLs.
const clusterResource = "kafka-cluster"

// Authorizer decides whether a principal may perform an operation on a
// resource (Kafka's Authorizer.authorize for one action). It is called on
// the connection's goroutines, concurrently, and must not block for long.
type Authorizer func(ctx context.Context, who protocol.Principal, op kmsg.ACLOperation, resource kmsg.ACLResourceType, name string) bool

// allowed asks the hook; no hook allows everything.
func (h *Handler) allowed(ctx context.Context, who protocol.Principal, op kmsg.ACLOperation, resource kmsg.ACLResourceType, name string) bool {
	return h.b.Authorize == nil || h.b.Authorize(ctx, who, op, resource, name)
}

// allowedTopic reports whether who may perform op on a topic.
func (h *Handler) allowedTopic(ctx context.Context, who protocol.Principal, op kmsg.ACLOperation, topic string) bool {
	return h.allowed(ctx, who, op, kmsg.ACLResourceTypeTopic, topic)
}

// allowedGroup reports whether who may perform op on a consumer group.
func (h *Handler) allowedGroup(ctx context.Context, who protocol.Principal, op kmsg.ACLOperation, group string) bool {
	return h.allowed(ctx, who, op, kmsg.ACLResourceTypeGroup, group)
}

// mayCreateTopic reports whether who may create a topic: CREATE on the
// cluster covers every topic, else CREATE on the topic itself.
func (h *Handler) mayCreateTopic(ctx context.Context, who protocol.Principal, topic string) bool {
	return h.allowedCluster(ctx, who, kmsg.ACLOperationCreate) ||
		h.allowedTopic(ctx, who, kmsg.ACLOperationCreate, topic)
}

// allowedCluster reports whether who may perform op on the cluster.
func (h *Handler) allowedCluster(ctx context.Context, who protocol.Principal, op kmsg.ACLOperation) bool {
	return h.allowed(ctx, who, op, kmsg.ACLResourceTypeCluster, clusterResource)
}

// Denials of a config resource, with the messages Kafka's ApiError gives
// them (the codes' default messages).
var (
	errTopicDenied   = fmt.Errorf("%w: Topic authorization failed.", kerr.TopicAuthorizationFailed)
	errGroupDenied   = fmt.Errorf("%w: Group authorization failed.", kerr.GroupAuthorizationFailed)
	errClusterDenied = fmt.Errorf("%w: Cluster authorization failed.", kerr.ClusterAuthorizationFailed)
)

// configDenied asks whether who may perform op (DESCRIBE_CONFIGS or
// ALTER_CONFIGS) on a config resource, as Kafka's ConfigHelper and
// ControllerApis.authorizeAlterResource do: broker, broker logger and
// client metrics configs belong to the cluster, topic and group configs
// to the topic or group. It returns the denial, or nil; resource types
// Kafka does not know are left to the API, which refuses them.
func (h *Handler) configDenied(ctx context.Context, who protocol.Principal, op kmsg.ACLOperation, typ kmsg.ConfigResourceType, name string) error {
	switch typ {
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger, kmsg.ConfigResourceTypeClientMetrics:
		if !h.allowedCluster(ctx, who, op) {
			return errClusterDenied
		}
	case kmsg.ConfigResourceTypeTopic:
		if !h.allowedTopic(ctx, who, op, name) {
			return errTopicDenied
		}
	case kmsg.ConfigResourceTypeGroupConfig:
		if !h.allowedGroup(ctx, who, op, name) {
			return errGroupDenied
		}
	}
	return nil
}

// idempotentTopicChecksMax bounds how many topics one InitProducerId asks
// the hook about (mayWriteIdempotently), so that a principal allowed
// nothing cannot make each call cost one question per topic in a large
// cluster.
const idempotentTopicChecksMax = 1000

// mayWriteIdempotently reports whether who may get a producer id without
// a transactional id. Kafka (since 3.0, KIP-679) allows IDEMPOTENT_WRITE
// on the cluster, or WRITE on any topic: Authorizer.authorizeByResourceType
// looks for an ACL that allows WRITE on some topic pattern. A hook answers
// only about named resources, so Sluice asks WRITE about the existing
// topics, in name order, up to idempotentTopicChecksMax of them: a
// principal whose only write permission is on a topic that does not exist
// yet (or on topics past the bound) is refused, where Kafka would allow it.
func (h *Handler) mayWriteIdempotently(ctx context.Context, who protocol.Principal) bool {
	if h.b.Authorize == nil || h.allowedCluster(ctx, who, kmsg.ACLOperationIdempotentWrite) {
		return true
	}
	names := slices.Sorted(maps.Keys(h.b.Meta.Image().Topics))
	for _, name := range names[:min(len(names), idempotentTopicChecksMax)] {
		if h.allowedTopic(ctx, who, kmsg.ACLOperationWrite, name) {
			return true
		}
	}
	return false
}

// clusterOperations are the operations an ACL can grant on the cluster
// (Kafka's AclEntry.supportedOperations(CLUSTER)).
var clusterOperations = []kmsg.ACLOperation{
	kmsg.ACLOperationCreate, kmsg.ACLOperationClusterAction, kmsg.ACLOperationDescribeConfigs,
	kmsg.ACLOperationAlterConfigs, kmsg.ACLOperationIdempotentWrite, kmsg.ACLOperationAlter,
	kmsg.ACLOperationDescribe,
}

// clusterAuthorizedOperations is the bit field (bit n for operation n)
// of the cluster operations who may perform, as Kafka answers a client
// that asks for them (KIP-430): 0 to a principal that may not DESCRIBE
// the cluster; without a hook, every operation.
func (h *Handler) clusterAuthorizedOperations(ctx context.Context, who protocol.Principal) int32 {
	if !h.allowedCluster(ctx, who, kmsg.ACLOperationDescribe) {
		return 0
	}
	var ops int32
	for _, op := range clusterOperations {
		if h.allowedCluster(ctx, who, op) {
			ops |= 1 << op
		}
	}
	return ops
}
