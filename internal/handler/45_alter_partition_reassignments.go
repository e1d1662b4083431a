package handler

// AlterPartitionReassignments, key 45, versions 0-1: starts, replaces or
// cancels (null replicas) partition reassignments (kafka-reassign-partitions
// --execute and --cancel, Admin.alterPartitionReassignments). Each
// partition's change is a record proposed through the metadata store; apply
// validates it with Kafka's answers (UNKNOWN_TOPIC_OR_PARTITION,
// INVALID_REPLICA_ASSIGNMENT for an empty list, a duplicate or an
// unregistered broker, NO_REASSIGNMENT_IN_PROGRESS for a cancel with none)
// and the brokers do the move (see metadata/reassign.go). v1's
// AllowReplicationFactorChange false refuses a target whose size differs
// from the partition's (target) replica count with INVALID_REPLICATION_FACTOR
// (KIP-860). ALTER on the cluster is required; without it the top level and
// every partition get CLUSTER_AUTHORIZATION_FAILED, as Kafka's
// getErrorResponse answers. TimeoutMillis bounds the request (timedReply):
// partitions not decided in time get REQUEST_TIMED_OUT.
//
// Not implemented: replication throttles for the moved replicas
// (leader/follower.replication.throttled.*).

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// reassignmentsInFlightMax bounds the reassignment records one request
// has proposed and not yet seen decided, as electionsInFlightMax does for
// elections.
const reassignmentsInFlightMax = 16

func (h *Handler) alterPartitionReassignments(ctx context.Context, who protocol.Principal, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange
	denied := !h.allowedCluster(ctx, who, kmsg.ACLOperationAlter)
	if denied {
		resp.ErrorCode, resp.ErrorMessage = errorCode(errClusterDenied), errorMessage(errClusterDenied)
	}
	im := h.b.Meta.Image()
	errs := make([][]error, len(req.Topics))
	sem := make(chan struct{}, reassignmentsInFlightMax)
	var wg sync.WaitGroup
	for i, rt := range req.Topics {
		errs[i] = make([]error, len(rt.Partitions))
		t, ok := im.Topics[rt.Topic]
		for j, rp := range rt.Partitions {
			switch {
			case denied:
				errs[i][j] = errClusterDenied
			case !ok || rp.Partition < 0 || rp.Partition >= t.Partitions:
				errs[i][j] = fmt.Errorf("%w: no such partition as %s-%d", kerr.UnknownTopicOrPartition, rt.Topic, rp.Partition)
			case !req.AllowReplicationFactorChange && rp.Replicas != nil &&
				len(rp.Replicas) != len(t.Assignments[rp.Partition].TargetReplicas()):
				errs[i][j] = fmt.Errorf("%w: the replication factor of %s-%d would change from %d to %d, which the request does not allow",
					kerr.InvalidReplicationFactor, rt.Topic, rp.Partition, len(t.Assignments[rp.Partition].TargetReplicas()), len(rp.Replicas))
			default:
				sem <- struct{}{}
				wg.Add(1)
				go func(id metadata.TopicID, partition int32, replicas []int32, out *error) {
					defer func() { <-sem; wg.Done() }()
					_, *out = h.b.Meta.Reassign(ctx, id, partition, replicas)
				}(t.ID, rp.Partition, rp.Replicas, &errs[i][j])
			}
		}
	}
	wg.Wait()
	for i, rt := range req.Topics {
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			sp.Partition = rp.Partition
			if err := errs[i][j]; err != nil {
				sp.ErrorCode, sp.ErrorMessage = errorCode(err), errorMessage(err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
