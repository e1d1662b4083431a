package handler

// ListPartitionReassignments, key 46, version 0: the reassignments in
// progress (kafka-reassign-partitions --verify and --list,
// Admin.listPartitionReassignments), from this broker's metadata image:
// every one for a null topic list, else those of the named partitions
// (partitions not being reassigned, or unknown, are left out, as Kafka
// does). DESCRIBE on the cluster is required; without it the top level
// gets CLUSTER_AUTHORIZATION_FAILED.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) listPartitionReassignments(ctx context.Context, who protocol.Principal, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	if !h.allowedCluster(ctx, who, kmsg.ACLOperationDescribe) {
		resp.ErrorCode, resp.ErrorMessage = errorCode(errClusterDenied), errorMessage(errClusterDenied)
		return resp
	}
	var named map[string][]int32
	if req.Topics != nil {
		named = make(map[string][]int32, len(req.Topics))
		for _, rt := range req.Topics {
			named[rt.Topic] = append(named[rt.Topic], rt.Partitions...)
		}
	}
	for _, r := range h.b.Meta.Image().Reassignments() {
		if named != nil && !slices.Contains(named[r.Topic], r.Partition) {
			continue
		}
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != r.Topic {
			st := kmsg.NewListPartitionReassignmentsResponseTopic()
			st.Topic = r.Topic
			resp.Topics = append(resp.Topics, st)
		}
		sp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		sp.Partition = r.Partition
		sp.Replicas, sp.AddingReplicas, sp.RemovingReplicas = r.Replicas, r.AddingReplicas, r.RemovingReplicas
		st := &resp.Topics[len(resp.Topics)-1]
		st.Partitions = append(st.Partitions, sp)
	}
	return resp
}
