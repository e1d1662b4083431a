package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// TestJavaReassignPartitions runs Kafka's kafka-reassign-partitions
// against three brokers: --generate proposes an assignment of topic "jr"
// (on broker 1) over brokers 2 and 3; --execute moves it to broker 3;
// --verify reports the move completed once broker 3 caught up and leads;
// the records read back intact.
func TestJavaReassignPartitions(t *testing.T) {
	javaClasspath(t)
	c := newCluster(t, append(append(fastFencing, javaBrokerEnv...), noAutoRebalance)...)
	c.start()
	ctx := testContext(t, 3*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	c.createAssigned(ctx, "jr", []int32{1})
	sent := makeRecords("jr", 2000)
	produceAll(t, clusterClient(t, c.seeds(), kgo.RequiredAcks(kgo.AllISRAcks())), sent)

	dir := t.TempDir()
	topicsFile := filepath.Join(dir, "topics.json")
	planFile := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(topicsFile, []byte(`{"version":1,"topics":[{"topic":"jr"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(planFile, []byte(`{"version":1,"partitions":[{"topic":"jr","partition":0,"replicas":[3],"log_dirs":["any"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bootstrap := strings.Join(c.seeds(), ",")
	tool := func(args ...string) string {
		t.Helper()
		return javaOK(t, c.nodes[0], nil, javaReassign, append([]string{"--bootstrap-server", bootstrap}, args...)...)
	}

	out := tool("--generate", "--topics-to-move-json-file", topicsFile, "--broker-list", "2,3")
	if !strings.Contains(out, "Current partition replica assignment") || !strings.Contains(out, `{"topic":"jr","partition":0,"replicas":[1]`) ||
		!strings.Contains(out, "Proposed partition reassignment configuration") {
		t.Fatalf("--generate printed:\n%s", out)
	}
	out = tool("--execute", "--reassignment-json-file", planFile)
	if !strings.Contains(out, "Successfully started partition reassignment for jr-0") {
		t.Fatalf("--execute printed:\n%s", out)
	}
	c.waitElectLayout(ctx, c.nodes, "jr", 1, reassignMoveMax, "jr on [3]",
		func(l map[int32]electPartition) bool {
			return slices.Equal(l[0].Replicas, []int32{3}) && l[0].Leader == 3
		})
	if !testutil.WaitFor(clusterAgreeMax, func() bool {
		out = tool("--verify", "--reassignment-json-file", planFile)
		return strings.Contains(out, "Reassignment of partition jr-0 is completed.")
	}) {
		t.Fatalf("--verify printed:\n%s", out)
	}
	checkSame(t, sent, consumeAll(t, c.nodes[2].Addr, "jr", int64(len(sent))))
}
