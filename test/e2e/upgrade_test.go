package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestUpgradeImportsSingleNodeMetadata: a data dir of the single-node
// version before the metadata quorum (topics in sluice-metadata.json,
// producer id blocks in sluice-producer-ids, no quorum log, no
// partition.metadata) starts with its topics, their ids and records, and
// producer ids beyond those already handed out.
func TestUpgradeImportsSingleNodeMetadata(t *testing.T) {
	b := StartBroker(t)
	ctx := testContext(t, time.Minute)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.DefaultProduceTopic("kept"))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	created, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": new("3600000")}, "kept")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	b.Stop()

	// Turn the data dir into what the earlier version left.
	const handedOut = 5000
	if err := os.RemoveAll(filepath.Join(b.DataDir, "__cluster_metadata-0")); err != nil {
		t.Fatal(err)
	}
	for p := range 2 {
		os.Remove(filepath.Join(b.DataDir, "kept-"+strconv.Itoa(p), "partition.metadata"))
	}
	legacy := map[string]any{"version": 1, "clusterId": "legacy-cluster", "topics": []map[string]any{
		{"name": "kept", "id": base64.RawURLEncoding.EncodeToString(created.ID[:]), "partitions": 2, "configs": map[string]string{"retention.ms": "3600000"}},
	}}
	js, _ := json.Marshal(legacy)
	if err := os.WriteFile(filepath.Join(b.DataDir, "sluice-metadata.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.DataDir, "sluice-producer-ids"), []byte(strconv.Itoa(handedOut)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	b.Start()
	cl, err = kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.DefaultProduceTopic("kept"),
		kgo.ConsumeTopics("kept"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm = kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx, "kept")
	if err != nil || td["kept"].Err != nil {
		t.Fatalf("list after the upgrade: %v %v", err, td["kept"].Err)
	}
	if got := td["kept"]; got.ID != created.ID || len(got.Partitions) != 2 {
		t.Fatalf("topic after the upgrade: id %v, %d partitions; want id %v, 2 partitions", got.ID, len(got.Partitions), created.ID)
	}
	rc, err := adm.DescribeTopicConfigs(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := rc.On("kept", nil); err != nil || !hasConfig(v.Configs, "retention.ms", "3600000") {
		t.Fatalf("retention.ms override lost in the upgrade: %v", err)
	}
	seen := 0
	for seen < 10 && ctx.Err() == nil {
		seen += cl.PollFetches(ctx).NumRecords()
	}
	if seen != 10 {
		t.Fatalf("read %d records after the upgrade, want 10", seen)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	id, _, err := cl.ProducerID(ctx)
	if err != nil || id < handedOut {
		t.Fatalf("producer id %d after the upgrade (%v); ids below %d were handed out before", id, err, handedOut)
	}
	if _, err := os.Stat(filepath.Join(b.DataDir, "sluice-metadata.json.imported")); err != nil {
		t.Fatalf("the imported file was not set aside: %v", err)
	}
}

// hasConfig reports whether configs holds name=value.
func hasConfig(configs []kadm.Config, name, value string) bool {
	for _, c := range configs {
		if c.Key == name && c.Value != nil && *c.Value == value {
			return true
		}
	}
	return false
}
