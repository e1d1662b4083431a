package handler

// Authorization is where security plugs in. Each API asks the Broker's
// Authorize hook about the resources it touches, as Kafka's KafkaApis
// does, with the request's principal, and answers a denial with the
// resource's *_AUTHORIZATION_FAILED code:
//
//	Produce          WRITE topic                  TOPIC_AUTHORIZATION_FAILED
//	Fetch            READ topic                   TOPIC_AUTHORIZATION_FAILED
//	Metadata         DESCRIBE topic; to auto-create, CREATE cluster or topic
//	CreateTopics     CREATE cluster or topic      TOPIC_AUTHORIZATION_FAILED
//	DeleteTopics     DELETE topic (by id: DESCRIBE to learn the name)
//	OffsetCommit     READ group, READ topic       GROUP_/TOPIC_AUTHORIZATION_FAILED
//	OffsetFetch      DESCRIBE group               GROUP_AUTHORIZATION_FAILED
//	FindCoordinator  DESCRIBE group
//	JoinGroup, SyncGroup, Heartbeat, LeaveGroup   READ group
//	DescribeGroups   DESCRIBE group
//	ListGroups       DESCRIBE cluster, else only the groups it may DESCRIBE
//	DeleteGroups, OffsetDelete                    DELETE group
//	OffsetForLeaderEpoch  CLUSTER_ACTION cluster, else DESCRIBE topic
//
// Not checked yet (Kafka does): ListOffsets, DeleteRecords (topic
// DESCRIBE/DELETE), configs, CreatePartitions, DescribeLogDirs,
// DescribeCluster, InitProducerId, the topic checks of OffsetFetch and
// OffsetDelete, and the cluster checks of follower fetches; they come
// with ACLs.

import (
	"context"

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
	return h.allowed(ctx, who, kmsg.ACLOperationCreate, kmsg.ACLResourceTypeCluster, clusterResource) ||
		h.allowedTopic(ctx, who, kmsg.ACLOperationCreate, topic)
}
