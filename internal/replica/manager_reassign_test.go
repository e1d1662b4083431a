package replica

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/metadata"
)

// TestReconcileDeletesReassignedAway: a partition reassigned to another
// broker loses its directory once the image holds this broker's current
// registration; in an older image (metadata still catching up after a
// restart) it is only closed, its log kept.
func TestReconcileDeletesReassignedAway(t *testing.T) {
	for _, registered := range []bool{true, false} {
		dir := t.TempDir()
		m, err := NewManager(Config{Dirs: []string{dir}, NodeID: testNode, BrokerEpoch: func() uint64 { return 7 },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		epoch := uint64(7)
		if !registered {
			epoch = 3 // an older registration: the image predates this process's
		}
		image := func(replica int32) *metadata.Image {
			return &metadata.Image{
				Brokers: map[int32]*metadata.Broker{testNode: {ID: testNode, Epoch: epoch}, 99: {ID: 99, Epoch: 1}},
				Topics: map[string]*metadata.Topic{"t": {Name: "t", ID: metadata.TopicID{1}, Partitions: 1,
					Assignments: []metadata.Partition{{Replicas: []int32{replica}, ISR: []int32{replica}, Leader: replica}}}},
			}
		}
		cfg := func(*metadata.Topic) log.Config { return log.DefaultConfig() }
		if err := m.Reconcile(image(testNode), testNode, cfg); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "t-0")
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("the partition was not opened: %v", err)
		}
		if err := m.Reconcile(image(99), testNode, cfg); err != nil {
			t.Fatal(err)
		}
		if m.Len() != 0 {
			t.Fatalf("registered %v: still hosting %d partitions", registered, m.Len())
		}
		_, err = os.Stat(path)
		if registered && !os.IsNotExist(err) {
			t.Errorf("the reassigned-away partition's directory is still there: %v", err)
		}
		if !registered && err != nil {
			t.Errorf("an image older than the registration deleted the partition: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
