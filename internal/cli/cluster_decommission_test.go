package cli

import (
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

// decommissionMeta is four brokers and topic "t": partition 0 on [1 2],
// 1 on [2 3], 2 on [3 1] and 3 on [1 2 3]; broker 4 holds nothing.
func decommissionMeta() kadm.Metadata {
	return kadm.Metadata{
		Brokers: kadm.BrokerDetails{{NodeID: 1}, {NodeID: 2}, {NodeID: 3}, {NodeID: 4}},
		Topics: kadm.TopicDetails{"t": {Topic: "t", Partitions: kadm.PartitionDetails{
			0: {Topic: "t", Partition: 0, Replicas: []int32{1, 2}},
			1: {Topic: "t", Partition: 1, Replicas: []int32{2, 3}},
			2: {Topic: "t", Partition: 2, Replicas: []int32{3, 1}},
			3: {Topic: "t", Partition: 3, Replicas: []int32{1, 2, 3}},
		}}},
	}
}

// TestPlanDecommission: node 1 is replaced in place by the least loaded
// broker that is not already a replica (4 first, it holds nothing).
func TestPlanDecommission(t *testing.T) {
	got, err := planDecommission(decommissionMeta(), 1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int32][]int32{"t": {0: {4, 2}, 2: {3, 4}, 3: {4, 2, 3}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
	if got, err := planDecommission(decommissionMeta(), 4); err != nil || len(got) != 0 {
		t.Fatalf("broker 4 holds nothing: %v, %v", got, err)
	}
}

// TestPlanDecommissionRefuses: an unknown broker, and a partition whose
// replication factor the other brokers cannot hold, are refused with
// nothing planned.
func TestPlanDecommissionRefuses(t *testing.T) {
	if _, err := planDecommission(decommissionMeta(), 9); err == nil || !strings.Contains(err.Error(), "not in the cluster") {
		t.Fatalf("unknown broker: %v", err)
	}
	meta := decommissionMeta()
	meta.Brokers = meta.Brokers[:3] // without 4, t-3 (RF 3) cannot leave 1
	plan, err := planDecommission(meta, 1)
	if err == nil || plan != nil || !strings.Contains(err.Error(), "t-3") {
		t.Fatalf("plan %v, err %v; want a refusal naming t-3", plan, err)
	}
}
