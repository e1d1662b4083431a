// Package handler is protocol translation only: it turns decoded Kafka
// requests (kmsg) into calls on the broker's parts and their results into
// responses. One file per API, named after its key, each opening with the
// versions it serves and what it does not implement yet.
//
// What it must not touch: disk and file systems (partitions own their
// logs: replica), Raft and the metadata log (metadata), connections and
// framing (server), topic settings, internal topics and group ownership
// (topics), the operator API (admin). It holds no state of its own beyond
// the request in hand; who may do what is asked of one hook
// (authorize.go), and errors become codes through kafkaerr.
package handler

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/kafkaerr"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/replica"
	"github.com/sluice-dev/sluice/internal/topics"
	"github.com/sluice-dev/sluice/internal/txn"
)

// Broker is what the handlers need from the rest of the broker.
type Broker struct {
	NodeID      int32
	Host        string // advertised
	Port        int32  // advertised
	Config      *config.Broker
	Meta        *metadata.Store
	Replicas    *replica.Manager
	ProducerIDs *txn.IDs
	Groups      *group.Coordinator
	// Txns is the transaction coordinator; nil refuses transactional
	// ids as before transactions.
	Txns    *txn.Coordinator
	Topics  *topics.Registry // settings, internal topics, group coordinators
	Logger  *slog.Logger
	Metrics *metrics.Metrics // nil-safe; nil in tests
	// Authorize is asked before each action on a topic, group or the
	// cluster (authorize.go); nil allows everything, as before ACLs.
	Authorize Authorizer
}

// Request and Reply are protocol's: the server hands requests over and
// takes replies back through protocol.Handler, which Handler implements.
type (
	Request = protocol.Request
	Reply   = protocol.Reply
)

// Handler dispatches requests by API key.
type Handler struct {
	b Broker
}

// New returns a Handler over the broker's parts.
func New(b Broker) *Handler {
	return &Handler{b: b}
}

var _ protocol.Handler = (*Handler)(nil)

// Handle answers one request. The request's version has already been
// checked against the advertised table.
func (h *Handler) Handle(ctx context.Context, req *Request) Reply {
	switch r := req.Msg.(type) {
	case *kmsg.ProduceRequest:
		return h.produce(ctx, req.Principal, r)
	case *kmsg.FetchRequest:
		return h.fetch(req.Principal, r)
	case *kmsg.ListOffsetsRequest:
		return Reply{Msg: h.listOffsets(ctx, req.Principal, r)}
	case *kmsg.MetadataRequest:
		return Reply{Msg: h.metadata(ctx, req.Principal, req.Listener, r)}
	case *kmsg.OffsetCommitRequest:
		return h.offsetCommit(ctx, req.Principal, r)
	case *kmsg.OffsetFetchRequest:
		return h.offsetFetch(req.Principal, r)
	case *kmsg.FindCoordinatorRequest:
		return Reply{Msg: h.findCoordinator(ctx, req.Principal, req.Listener, r)}
	case *kmsg.JoinGroupRequest:
		return h.joinGroup(req, r)
	case *kmsg.HeartbeatRequest:
		return h.heartbeat(req.Principal, r)
	case *kmsg.LeaveGroupRequest:
		return h.leaveGroup(req.Principal, r)
	case *kmsg.SyncGroupRequest:
		return h.syncGroup(req.Principal, r)
	case *kmsg.DescribeGroupsRequest:
		return h.describeGroups(req.Principal, r)
	case *kmsg.ListGroupsRequest:
		return h.listGroups(req.Principal, r)
	case *kmsg.ApiVersionsRequest:
		return Reply{Msg: h.apiVersions(r)}
	case *kmsg.SASLHandshakeRequest:
		return Reply{Msg: saslHandshake(req.SASL, r)}
	case *kmsg.SASLAuthenticateRequest:
		return Reply{Msg: saslAuthenticate(req.SASL, r)}
	case *kmsg.CreateTopicsRequest:
		return timedReply(r.TimeoutMillis, func(ctx context.Context) kmsg.Response { return h.createTopics(ctx, req.Principal, r) })
	case *kmsg.DeleteTopicsRequest:
		return timedReply(r.TimeoutMillis, func(ctx context.Context) kmsg.Response { return h.deleteTopics(ctx, req.Principal, r) })
	case *kmsg.OffsetForLeaderEpochRequest:
		return Reply{Msg: h.offsetForLeaderEpoch(ctx, req.Principal, r)}
	case *kmsg.InitProducerIDRequest:
		return Reply{Msg: h.initProducerID(ctx, req.Principal, r)}
	case *kmsg.DescribeConfigsRequest:
		return Reply{Msg: h.describeConfigs(ctx, req.Principal, r)}
	case *kmsg.DescribeLogDirsRequest:
		return Reply{Msg: h.describeLogDirs(ctx, req.Principal, r)}
	case *kmsg.CreatePartitionsRequest:
		return timedReply(r.TimeoutMillis, func(ctx context.Context) kmsg.Response { return h.createPartitions(ctx, req.Principal, r) })
	case *kmsg.AlterConfigsRequest:
		return Reply{Msg: h.alterConfigs(ctx, req.Principal, r)}
	case *kmsg.IncrementalAlterConfigsRequest:
		return Reply{Msg: h.incrementalAlterConfigs(ctx, req.Principal, r)}
	case *kmsg.DeleteRecordsRequest:
		return Reply{Msg: h.deleteRecords(ctx, req.Principal, r)}
	case *kmsg.ElectLeadersRequest:
		return timedReply(r.TimeoutMillis, func(ctx context.Context) kmsg.Response { return h.electLeaders(ctx, req.Principal, r) })
	case *kmsg.AlterPartitionAssignmentsRequest:
		return timedReply(r.TimeoutMillis, func(ctx context.Context) kmsg.Response {
			return h.alterPartitionReassignments(ctx, req.Principal, r)
		})
	case *kmsg.UnregisterBrokerRequest:
		return timedReply(0, func(ctx context.Context) kmsg.Response { return h.unregisterBroker(ctx, req.Principal, r) })
	case *kmsg.ListPartitionReassignmentsRequest:
		return Reply{Msg: h.listPartitionReassignments(ctx, req.Principal, r)}
	case *kmsg.DeleteGroupsRequest:
		return h.deleteGroups(req.Principal, r)
	case *kmsg.OffsetDeleteRequest:
		return h.offsetDelete(req.Principal, r)
	case *kmsg.DescribeACLsRequest:
		return Reply{Msg: h.describeACLs(ctx, req.Principal, r)}
	case *kmsg.CreateACLsRequest:
		return timedReply(0, func(ctx context.Context) kmsg.Response { return h.createACLs(ctx, req.Principal, r) })
	case *kmsg.DeleteACLsRequest:
		return timedReply(0, func(ctx context.Context) kmsg.Response { return h.deleteACLs(ctx, req.Principal, r) })
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		return Reply{Msg: h.describeUserScramCredentials(ctx, req.Principal, r)}
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		return timedReply(0, func(ctx context.Context) kmsg.Response { return h.alterUserScramCredentials(ctx, req.Principal, r) })
	case *kmsg.DescribeTopicPartitionsRequest:
		return Reply{Msg: h.describeTopicPartitions(ctx, req.Principal, r)}
	case *kmsg.UpdateFeaturesRequest:
		return timedReply(r.TimeoutMillis, func(ctx context.Context) kmsg.Response { return h.updateFeatures(ctx, req.Principal, r) })
	case *kmsg.DescribeClusterRequest:
		return Reply{Msg: h.describeCluster(ctx, req.Principal, req.Listener, r)}
	}
	// The server checks keys against the version table first.
	panic("handler: no handler for advertised API key " + kmsg.NameForKey(req.Msg.Key()))
}

// errorCode and errorMessage fill a response's ErrorCode and ErrorMessage
// from an error; the mapping is kafkaerr's, shared with the controller and
// the group coordinator.
var (
	errorCode    = kafkaerr.Code
	errorMessage = kafkaerr.Message
)
