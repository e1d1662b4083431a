// Package brokertest assembles a one-node broker's parts in process, the
// way internal/broker does but over an in-memory metadata store and a
// temporary log dir, for the tests of the packages above those parts
// (handler, server). It stops short of the handler so that handler's own
// tests can use it without an import cycle; each caller builds its handler
// from Parts in one call.
//
// It is imported only from _test.go files.
package brokertest

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/replica"
	"github.com/sluice-dev/sluice/internal/topics"
	"github.com/sluice-dev/sluice/internal/txn"
)

// Host and Port are the advertised listener of the assembled node.
const (
	Host = "127.0.0.1"
	Port = 9092
)

// producerIDsFile is where the node keeps its producer id block.
const producerIDsFile = "sluice-producer-ids"

// Parts are a running node's parts below the handler.
type Parts struct {
	Config      *config.Broker
	Meta        *metadata.Store
	Replicas    *replica.Manager
	ProducerIDs *txn.IDs
	Topics      *topics.Registry
	Logger      *slog.Logger
	// Dir is the node's one log dir, removed when the test ends.
	Dir string
}

// Open assembles the parts with broker config keys overridden by flags
// (log.dirs is the test's temporary dir) and opens the partitions the
// metadata holds. The partitions are closed when the test ends.
func Open(t testing.TB, flags map[string]string) *Parts {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"log.dirs": dir}
	for k, v := range flags {
		all[k] = v
	}
	cfg, _, err := config.Load("", nil, all)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	meta, err := metadata.OpenMemory(cfg.NodeID(), Host, Port, logger)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := txn.OpenIDs(filepath.Join(dir, producerIDsFile))
	if err != nil {
		t.Fatal(err)
	}
	replicas, err := replica.NewManager(replica.Config{Dirs: []string{dir}, NodeID: cfg.NodeID(), Image: meta.Image, Logger: logger,
		ReplicaSelector: cfg.String("replica.selector.class")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { replicas.Close() })
	reg := topics.New(topics.Config{NodeID: cfg.NodeID(), Broker: cfg, Meta: meta, Replicas: replicas, Logger: logger})
	if err := reg.Reconcile(); err != nil {
		t.Fatal(err)
	}
	return &Parts{Config: cfg, Meta: meta, Replicas: replicas, ProducerIDs: ids, Topics: reg, Logger: logger, Dir: dir}
}
