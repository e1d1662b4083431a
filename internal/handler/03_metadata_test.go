package handler

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// TestMetadataPartition: replicas, ISR, offline replicas, leader and error
// of one partition as Kafka's KRaftMetadataCache answers them, for a
// cluster where broker 1 is live, 2 fenced and 4 not registered.
func TestMetadataPartition(t *testing.T) {
	im := &metadata.Image{Brokers: map[int32]*metadata.Broker{
		1: {ID: 1},
		2: {ID: 2, Fenced: true},
		3: {ID: 3},
	}}
	for _, tc := range []struct {
		name                   string
		p                      metadata.Partition
		version                int16
		leader                 int32
		code                   int16
		replicas, isr, offline []int32
	}{
		{"healthy", metadata.Partition{Replicas: []int32{1, 3}, ISR: []int32{1, 3}, Leader: 1, LeaderEpoch: 4},
			12, 1, 0, []int32{1, 3}, []int32{1, 3}, []int32{}},
		{"under-replicated", metadata.Partition{Replicas: []int32{3, 1, 2}, ISR: []int32{3, 1}, Leader: 3, LeaderEpoch: 4},
			12, 3, 0, []int32{3, 1, 2}, []int32{3, 1}, []int32{2}},
		{"unregistered replica", metadata.Partition{Replicas: []int32{1, 4}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 4},
			1, 1, 0, []int32{1, 4}, []int32{1}, []int32{4}},
		{"no leader", metadata.Partition{Replicas: []int32{2, 1}, ISR: []int32{2}, Leader: metadata.NoLeader, LeaderEpoch: 4},
			12, -1, kerr.LeaderNotAvailable.Code, []int32{2, 1}, []int32{2}, []int32{2}},
		{"fenced leader", metadata.Partition{Replicas: []int32{2, 1}, ISR: []int32{2, 1}, Leader: 2, LeaderEpoch: 4},
			12, -1, kerr.LeaderNotAvailable.Code, []int32{2, 1}, []int32{2, 1}, []int32{2}},
		// Version 0 lists live brokers only and says it left some out.
		{"v0 healthy", metadata.Partition{Replicas: []int32{1, 3}, ISR: []int32{1, 3}, Leader: 1, LeaderEpoch: 4},
			0, 1, 0, []int32{1, 3}, []int32{1, 3}, []int32{}},
		{"v0 offline replica", metadata.Partition{Replicas: []int32{3, 2, 1}, ISR: []int32{3, 1}, Leader: 3, LeaderEpoch: 4},
			0, 3, kerr.ReplicaNotAvailable.Code, []int32{3, 1}, []int32{3, 1}, []int32{2}},
		{"v0 offline ISR member", metadata.Partition{Replicas: []int32{1, 4}, ISR: []int32{1, 4}, Leader: 1, LeaderEpoch: 4},
			0, 1, kerr.ReplicaNotAvailable.Code, []int32{1}, []int32{1}, []int32{4}},
		{"v0 no leader", metadata.Partition{Replicas: []int32{2}, ISR: []int32{2}, Leader: metadata.NoLeader, LeaderEpoch: 4},
			0, -1, kerr.LeaderNotAvailable.Code, []int32{}, []int32{}, []int32{2}},
	} {
		sp := metadataPartition(im, 7, tc.p, tc.version)
		if sp.Partition != 7 || sp.Leader != tc.leader || sp.LeaderEpoch != 4 || sp.ErrorCode != tc.code {
			t.Errorf("%s: partition %d, leader %d, epoch %d, error %d; want 7, %d, 4, %d",
				tc.name, sp.Partition, sp.Leader, sp.LeaderEpoch, sp.ErrorCode, tc.leader, tc.code)
		}
		if !slices.Equal(sp.Replicas, tc.replicas) || !slices.Equal(sp.ISR, tc.isr) || !slices.Equal(sp.OfflineReplicas, tc.offline) {
			t.Errorf("%s: replicas %v, isr %v, offline %v; want %v, %v, %v",
				tc.name, sp.Replicas, sp.ISR, sp.OfflineReplicas, tc.replicas, tc.isr, tc.offline)
		}
		if sp.OfflineReplicas == nil {
			t.Errorf("%s: offline replicas nil, want an empty array", tc.name)
		}
	}
}
