package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestPrintPartitionHealth: a topic with an offline and an
// under-replicated partition gets its counts and a STATUS column; a
// healthy one prints the columns it always did.
func TestPrintPartitionHealth(t *testing.T) {
	sick := describedTopic{Topic: "t", Replicas: 3, SizeBytes: 300, UnderReplicated: 2, Offline: 1, Partitions: []describedPartition{
		{Partition: 0, Leader: 1, LeaderEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, OfflineReplicas: []int32{},
			HighWatermark: 5, SizeBytes: 100},
		{Partition: 1, Leader: 2, LeaderEpoch: 3, Replicas: []int32{2, 3, 1}, ISR: []int32{2}, OfflineReplicas: []int32{3},
			UnderReplicated: true, HighWatermark: 6, SizeBytes: 100},
		{Partition: 2, Leader: -1, LeaderEpoch: 4, Replicas: []int32{3, 1, 2}, ISR: []int32{3}, OfflineReplicas: []int32{3},
			UnderReplicated: true, Offline: true, LogStartOffset: -1, HighWatermark: -1, SizeBytes: 100,
			Error: "the leader is not available"},
	}}
	var out bytes.Buffer
	if err := printTopicDescriptions(&out, []describedTopic{sick}, false); err != nil {
		t.Fatal(err)
	}
	want := `TOPIC             t
PARTITIONS        3
OFFLINE           1
UNDER-REPLICATED  2
REPLICAS          3
SIZE              300 B

PARTITION  LEADER  EPOCH  REPLICAS  ISR    OFFLINE-REPLICAS  LOG-START-OFFSET  HIGH-WATERMARK  SIZE   STATUS
0          1       2      1,2,3     1,2,3  -                 0                 5               100 B  -
1          2       3      2,3,1     2      3                 0                 6               100 B  UNDER-REPLICATED
2          none    4      3,1,2     3      3                 -                 -               100 B  OFFLINE  the leader is not available
`
	if out.String() != want {
		t.Errorf("unhealthy topic printed\n%s\nwant\n%s", out.String(), want)
	}

	healthy := describedTopic{Topic: "h", Replicas: 1, Partitions: []describedPartition{
		{Partition: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}, OfflineReplicas: []int32{}, HighWatermark: 4},
	}}
	out.Reset()
	if err := printTopicDescriptions(&out, []describedTopic{healthy}, false); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "STATUS") || strings.Contains(s, "UNDER-REPLICATED") || strings.Contains(s, "OFFLINE") ||
		!strings.Contains(s, "PARTITION  LEADER  EPOCH  REPLICAS  ISR  LOG-START-OFFSET  HIGH-WATERMARK  SIZE\n") {
		t.Errorf("healthy topic printed\n%s", s)
	}
}
