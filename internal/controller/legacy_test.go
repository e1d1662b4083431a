package controller

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// TestImportLegacy: the first controller on a dir of a pre-quorum version
// names the cluster after the old file, re-creates its topics with their
// ids on this node, skips the producer ids handed out before, and renames
// the file so a restart does not import it again. A corrupt file stops
// the start.
func TestImportLegacy(t *testing.T) {
	dir := t.TempDir()
	file, ids := filepath.Join(dir, "sluice-metadata.json"), filepath.Join(dir, "sluice-producer-ids")
	const old = `{"clusterId":"old-cluster","topics":[` +
		`{"name":"orders","id":"AAECAwQFBgcICQoLDA0ODw","partitions":2,"configs":{"retention.ms":"1000"}},` +
		`{"name":"audit","id":"EBESExQVFhcYGRobHB0eHw","partitions":1}]}`
	if err := os.WriteFile(file, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ids, []byte("5000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckLegacyFile(file); err != nil {
		t.Fatal(err)
	}
	s := metadata.NewStore(1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.SetLog(metadata.NewMemoryLog(s))
	c := NewController(s, ControllerConfig{ClusterID: "configured", LegacyFile: file, LegacyProducerIDsFile: ids, SessionTimeout: time.Second})
	c.Tick(ctx, time.Unix(1000, 0)) // names the cluster
	if id := s.Image().ClusterID; id != "old-cluster" {
		t.Fatalf("cluster id %q, want the old file's", id)
	}
	if _, err := c.Register(ctx, metadata.RegisterBrokerRecord{ID: 1, Incarnation: "x"}, time.Unix(1000, 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.ImportLegacy(ctx); err != nil {
		t.Fatal(err)
	}
	orders := s.Image().Topics["orders"]
	if orders == nil || orders.ID.String() != "AAECAwQFBgcICQoLDA0ODw" || orders.Partitions != 2 ||
		orders.Configs["retention.ms"] != "1000" || orders.Leader(1) != 1 {
		t.Fatalf("orders imported as %+v", orders)
	}
	if _, ok := s.Image().Topics["audit"]; !ok {
		t.Fatal("audit was not imported")
	}
	if next := s.Image().NextProducerID; next < 5000 {
		t.Fatalf("next producer id %d reuses ids below the old block end 5000", next)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the old file is still in place: %v", err)
	}
	if err := c.ImportLegacy(ctx); err != nil {
		t.Fatalf("a second start: %v", err)
	}

	if err := os.WriteFile(file, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckLegacyFile(file); err == nil {
		t.Fatal("a corrupt metadata file was accepted")
	}
}
