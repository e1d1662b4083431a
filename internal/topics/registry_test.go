package topics

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/replica"
)

// newRegistry builds a registry over a one-node in-memory metadata store
// and a temporary log dir.
func newRegistry(t *testing.T) *Registry {
	t.Helper()
	return newRegistryWith(t, nil)
}

// newRegistryWith is newRegistry with broker config flags.
func newRegistryWith(t *testing.T, flags map[string]string) *Registry {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"log.dirs": dir, "offsets.topic.num.partitions": "3"}
	maps.Copy(all, flags)
	cfg, _, err := config.Load("", nil, all)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	meta, err := metadata.OpenMemory(cfg.NodeID(), "127.0.0.1", 9092, logger)
	if err != nil {
		t.Fatal(err)
	}
	replicas, err := replica.NewManager(replica.Config{Dirs: []string{dir}, NodeID: cfg.NodeID(), Image: meta.Image, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { replicas.Close() })
	return New(Config{NodeID: cfg.NodeID(), Broker: cfg, Meta: meta, Replicas: replicas, Logger: logger})
}

// TestSettingsPerTopicVersion: settings are resolved once per topic
// version, and a config change (a new version) is seen at once.
func TestSettingsPerTopicVersion(t *testing.T) {
	r := newRegistry(t)
	if _, err := r.cfg.Meta.CreateTopic(context.Background(), "t", 1, 1, nil, map[string]string{"compression.type": "zstd"}); err != nil {
		t.Fatal(err)
	}
	v1 := r.cfg.Meta.Image().Topics["t"]
	s := r.Settings(v1)
	if s != r.Settings(v1) {
		t.Errorf("settings of one topic version resolved twice")
	}
	if s.Recompress == nil || s.LogAppendTime || s.RequireKeys {
		t.Errorf("zstd topic: recompress %v, log append time %v, require keys %v", s.Recompress, s.LogAppendTime, s.RequireKeys)
	}
	err := r.cfg.Meta.SetConfigs(context.Background(), "t", map[string]string{"cleanup.policy": "compact", "message.timestamp.type": "LogAppendTime"})
	if err != nil {
		t.Fatal(err)
	}
	s2 := r.Settings(r.cfg.Meta.Image().Topics["t"])
	if s2.Recompress != nil || !s2.LogAppendTime || !s2.RequireKeys {
		t.Errorf("after the change: recompress %v, log append time %v, require keys %v", s2.Recompress, s2.LogAppendTime, s2.RequireKeys)
	}
	if lc := LogConfig(s2.Config); !lc.Compact || lc.DeleteRetention {
		t.Errorf("compacted topic's log config: compact %v, delete retention %v", lc.Compact, lc.DeleteRetention)
	}
}

// TestSettingsCacheBounded: versions of topics that were replaced do not
// pile up in the cache.
func TestSettingsCacheBounded(t *testing.T) {
	r := newRegistry(t)
	limit := settingsVersionsPerTopic*len(r.cfg.Meta.Image().Topics) + settingsCacheSlack + 1
	for range 10 * limit {
		r.Settings(&metadata.Topic{Name: "t"}) // a new version each time
		if n := len(r.settings); n > limit {
			t.Fatalf("%d cached settings, limit %d", n, limit)
		}
	}
}

// TestGroupCoordinatorCreatesOffsetsTopic: on one node this broker owns
// every group; the first lookup creates the offsets topic, opens its
// partitions, and creating it again is no error.
func TestGroupCoordinatorCreatesOffsetsTopic(t *testing.T) {
	r := newRegistry(t)
	if !r.OwnsGroup("g") {
		t.Errorf("before the offsets topic exists the broker does not own group g")
	}
	id, e, err := r.GroupCoordinator("g")
	if err != nil || id != r.cfg.NodeID || e.Port != 9092 {
		t.Fatalf("coordinator of g: %d at %+v, %v", id, e, err)
	}
	ot, ok := r.cfg.Meta.Image().Topics[group.OffsetsTopic]
	if !ok || ot.Partitions != 3 {
		t.Fatalf("offsets topic after the lookup: %v", ot)
	}
	if _, ok := r.cfg.Replicas.Get(group.OffsetsTopic, 2); !ok {
		t.Errorf("offsets partition 2 is not open")
	}
	if err := r.CreateInternalTopic(group.OffsetsTopic, 3, group.OffsetsTopicConfigs()); err != nil {
		t.Errorf("creating the offsets topic again: %v", err)
	}
	if !r.OwnsGroup("g") {
		t.Errorf("the only broker does not own group g")
	}
	if err := r.CreateInternalTopic("__x", 0, nil); err == nil {
		t.Errorf("an internal topic of 0 partitions was created")
	}
}

// TestInternalTopicReplicationFactor: the offsets topic takes
// offsets.topic.replication.factor capped at the live brokers (fenced ones
// do not count); other internal topics take default.replication.factor.
func TestInternalTopicReplicationFactor(t *testing.T) {
	for _, tc := range []struct {
		name          string
		flags         map[string]string
		others        []int32 // brokers registered beside this node
		fenced        int32   // one of others to fence, -1 for none
		offsets, rest int     // replicas of the offsets topic and of another internal topic
	}{
		{"one node", nil, nil, -1, 1, 1},
		{"two brokers", nil, []int32{2}, -1, 2, 1},
		{"four brokers", nil, []int32{2, 3, 4}, -1, 3, 1},
		{"four brokers, one fenced", nil, []int32{2, 3, 4}, 3, 3, 1},
		{"three brokers, one fenced", nil, []int32{2, 3}, 3, 2, 1},
		{"configured", map[string]string{"offsets.topic.replication.factor": "2", "default.replication.factor": "3"},
			[]int32{2, 3, 4}, -1, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistryWith(t, tc.flags)
			ctx := context.Background()
			for _, id := range tc.others {
				epoch, err := r.cfg.Meta.RegisterBroker(ctx, metadata.RegisterBrokerRecord{ID: id,
					Endpoints: []metadata.Endpoint{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092 + id}}})
				if err != nil {
					t.Fatal(err)
				}
				if id == tc.fenced {
					if err := r.cfg.Meta.FenceBroker(ctx, id, epoch, true); err != nil {
						t.Fatal(err)
					}
				}
			}
			for name, want := range map[string]int{group.OffsetsTopic: tc.offsets, "__other": tc.rest} {
				if err := r.CreateInternalTopic(name, 3, nil); err != nil {
					t.Fatalf("create %s: %v", name, err)
				}
				for i, p := range r.cfg.Meta.Image().Topics[name].Assignments {
					if len(p.Replicas) != want || slices.Contains(p.Replicas, tc.fenced) {
						t.Errorf("%s partition %d replicas %v, want %d live ones", name, i, p.Replicas, want)
					}
				}
			}
		})
	}
}
