package e2e

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestClusterOtherClients: librdkafka (kcat and confluent-kafka-python)
// and kafka-python, each bootstrapped with one broker of three, follow the
// metadata to the leaders of a topic spread over the cluster and to their
// group's coordinator.
func TestClusterOtherClients(t *testing.T) {
	c := newCluster(t)
	c.start()
	ctx := testContext(t, 3*time.Minute)
	c.waitMembership(ctx, c.nodes, clusterAgreeMax)
	adm := kadm.NewClient(clusterClient(t, c.seeds()))

	t.Run("kcat", func(t *testing.T) {
		if _, err := adm.CreateTopic(ctx, 6, 1, nil, "kcat-cluster"); err != nil {
			t.Fatal(err)
		}
		// Keyed records only: librdkafka spreads null keys at random, and
		// the check is that each key stays on the partition its hash names.
		records := slices.DeleteFunc(kcatRecords(600, 7), func(r kcatRecord) bool { return r.Key == "" })
		for i := range records {
			records[i].Offset = int64(i)
		}
		kcatProduce(t, c.nodes[0], "kcat-cluster", records)
		got := kcatConsume(t, c.nodes[2], "kcat-cluster")
		if len(got) != len(records) {
			t.Fatalf("kcat consumed %d records through node 3, produced %d through node 1", len(got), len(records))
		}
		checkKeyPartitioned(t, records, got, 6)
	})
	for i, client := range []string{"confluent", "kafka-python"} {
		t.Run(client, func(t *testing.T) {
			topic := "py-cluster-" + client
			if _, err := adm.CreateTopic(ctx, 6, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			script, err := filepath.Abs(filepath.Join("testdata", "cluster_clients.py"))
			if err != nil {
				t.Fatal(err)
			}
			const count = 3000
			res, err := runTool(t, 90*time.Second, nil, pythonPath, "-B", script, client, c.nodes[i+1].Addr, topic, "g-"+client, strconv.Itoa(count))
			if err != nil {
				t.Fatal(err)
			}
			switch res.ExitCode {
			case 0:
			case pythonExitMissing:
				t.Skip(strings.TrimSpace(res.Stderr))
			default:
				t.Fatalf("%s exited %d:\n%s\n%s", client, res.ExitCode, clip(res.Stderr), c.outputs())
			}
			var s struct{ Produced, Consumed, Partitions, Committed int }
			if err := json.Unmarshal([]byte(strings.TrimSpace(res.Stdout)), &s); err != nil {
				t.Fatalf("%s printed %q: %v", client, clip(res.Stdout), err)
			}
			t.Logf("%s: %+v", client, s)
			if s.Consumed != count || s.Partitions != 6 || s.Committed != count {
				t.Fatalf("%s: %+v; want %d consumed from 6 partitions and %d committed", client, s, count, count)
			}
		})
	}
}
