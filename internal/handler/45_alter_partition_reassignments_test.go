package handler

import (
	"context"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// reassignRequest asks to move each named partition to its replicas (nil:
// cancel).
func reassignRequest(version int16, topic string, targets map[int32][]int32) *kmsg.AlterPartitionAssignmentsRequest {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.SetVersion(version)
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	for _, p := range slices.Sorted(func(yield func(int32) bool) {
		for p := range targets {
			if !yield(p) {
				return
			}
		}
	}) {
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = p, targets[p]
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// reassignCodes returns the per-partition error codes of an answer.
func reassignCodes(resp *kmsg.AlterPartitionAssignmentsResponse) map[int32]int16 {
	out := map[int32]int16{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			out[rp.Partition] = rp.ErrorCode
		}
	}
	return out
}

// listReassignments lists every reassignment in progress.
func listReassignments(t *testing.T, h *Handler) *kmsg.ListPartitionReassignmentsResponse {
	t.Helper()
	return roundTrip[*kmsg.ListPartitionReassignmentsResponse](t, h, kmsg.NewPtrListPartitionReassignmentsRequest())
}

// TestPartitionReassignments: topic "r" has replicas [1 2]; moving it to
// [2 3] adds broker 3 (not caught up), which List shows; cancelling
// restores [1 2]; bad targets get Kafka's errors; a removal-only target
// completes at once.
func TestPartitionReassignments(t *testing.T) {
	h := protoHandler(t)
	ctx := context.Background()
	replicatedTopic(t, h, "r", nil)
	if _, err := h.b.Meta.RegisterBroker(ctx, metadata.RegisterBrokerRecord{ID: 3,
		Endpoints: []metadata.Endpoint{{Name: "PLAINTEXT", Host: "127.0.0.3", Port: 9092}}}); err != nil {
		t.Fatal(err)
	}
	got := reassignCodes(roundTrip[*kmsg.AlterPartitionAssignmentsResponse](t, h, reassignRequest(1, "r",
		map[int32][]int32{0: {followerID, 3}, 1: {1}})))
	if got[0] != 0 || got[1] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("start: %v", got)
	}
	list := listReassignments(t, h)
	if list.ErrorCode != 0 || len(list.Topics) != 1 || len(list.Topics[0].Partitions) != 1 {
		t.Fatalf("list: %+v", list)
	}
	lp := list.Topics[0].Partitions[0]
	if !slices.Equal(lp.Replicas, []int32{followerID, 3, h.b.NodeID}) || !slices.Equal(lp.AddingReplicas, []int32{3}) ||
		!slices.Equal(lp.RemovingReplicas, []int32{h.b.NodeID}) {
		t.Fatalf("listed: %+v", lp)
	}

	for _, tc := range []struct {
		name     string
		version  int16
		replicas []int32
		rfFixed  bool
		want     int16
	}{
		{"duplicate", 0, []int32{3, 3}, false, kerr.InvalidReplicaAssignment.Code},
		{"unknown broker", 0, []int32{3, 9}, false, kerr.InvalidReplicaAssignment.Code},
		{"empty", 1, []int32{}, false, kerr.InvalidReplicaAssignment.Code},
		{"replication factor fixed", 1, []int32{3}, true, kerr.InvalidReplicationFactor.Code},
	} {
		req := reassignRequest(tc.version, "r", map[int32][]int32{0: tc.replicas})
		req.AllowReplicationFactorChange = !tc.rfFixed
		if c := reassignCodes(roundTrip[*kmsg.AlterPartitionAssignmentsResponse](t, h, req))[0]; c != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, kerr.ErrorForCode(c), kerr.ErrorForCode(tc.want))
		}
	}

	if c := reassignCodes(roundTrip[*kmsg.AlterPartitionAssignmentsResponse](t, h, reassignRequest(0, "r", map[int32][]int32{0: nil})))[0]; c != 0 {
		t.Fatalf("cancel: %v", kerr.ErrorForCode(c))
	}
	if list := listReassignments(t, h); len(list.Topics) != 0 {
		t.Fatalf("listed after the cancel: %+v", list.Topics)
	}
	// Kafka's revert keeps the merged order, without the adding replicas.
	if a := h.b.Meta.Image().Topics["r"].Assignments[0]; !slices.Equal(a.Replicas, []int32{followerID, h.b.NodeID}) {
		t.Fatalf("replicas after the cancel: %v", a.Replicas)
	}
	if c := reassignCodes(roundTrip[*kmsg.AlterPartitionAssignmentsResponse](t, h, reassignRequest(0, "r", map[int32][]int32{0: nil})))[0]; c != kerr.NoReassignmentInProgress.Code {
		t.Fatalf("cancel with none: %v", kerr.ErrorForCode(c))
	}
	if c := reassignCodes(roundTrip[*kmsg.AlterPartitionAssignmentsResponse](t, h, reassignRequest(1, "r", map[int32][]int32{0: {h.b.NodeID}})))[0]; c != 0 {
		t.Fatalf("shrink: %v", kerr.ErrorForCode(c))
	}
	if a := h.b.Meta.Image().Topics["r"].Assignments[0]; !slices.Equal(a.Replicas, []int32{h.b.NodeID}) || a.Reassigning() {
		t.Fatalf("after the shrink: %+v", a)
	}
}

// TestPartitionReassignmentsDenied: without ALTER (DESCRIBE) on the
// cluster, both APIs answer CLUSTER_AUTHORIZATION_FAILED and nothing moves.
func TestPartitionReassignmentsDenied(t *testing.T) {
	h := protoHandler(t)
	replicatedTopic(t, h, "r", nil)
	h.b.Authorize = denyAll
	resp := roundTrip[*kmsg.AlterPartitionAssignmentsResponse](t, h, reassignRequest(1, "r", map[int32][]int32{0: {followerID}}))
	if resp.ErrorCode != kerr.ClusterAuthorizationFailed.Code || reassignCodes(resp)[0] != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("alter: %+v", resp)
	}
	if a := h.b.Meta.Image().Topics["r"].Assignments[0]; len(a.Replicas) != 2 {
		t.Fatalf("the denied reassignment moved the partition: %+v", a)
	}
	if list := listReassignments(t, h); list.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("list: %v", kerr.ErrorForCode(list.ErrorCode))
	}
}

// TestUnregisterBroker: an unknown broker is BROKER_ID_NOT_REGISTERED, a
// registered one leaves the cluster, and without ALTER on the cluster
// the answer is CLUSTER_AUTHORIZATION_FAILED.
func TestUnregisterBroker(t *testing.T) {
	h := protoHandler(t)
	replicatedTopic(t, h, "r", nil)
	unregister := func(id int32) int16 {
		req := kmsg.NewPtrUnregisterBrokerRequest()
		req.BrokerID = id
		return roundTrip[*kmsg.UnregisterBrokerResponse](t, h, req).ErrorCode
	}
	if c := unregister(9); c != kerr.BrokerIDNotRegistered.Code {
		t.Errorf("unknown broker: %v", kerr.ErrorForCode(c))
	}
	h.b.Authorize = denyAll
	if c := unregister(followerID); c != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("denied: %v", kerr.ErrorForCode(c))
	}
	h.b.Authorize = nil
	if c := unregister(followerID); c != 0 {
		t.Fatalf("unregister: %v", kerr.ErrorForCode(c))
	}
	if _, ok := h.b.Meta.Image().Brokers[followerID]; ok {
		t.Fatal("still registered")
	}
}
