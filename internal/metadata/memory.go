package metadata

import (
	"context"
	"log/slog"
	"sync"
)

// MemoryLog is a Log of one node that commits every proposal at once, in
// memory. Tests and tools that need metadata without a quorum use it.
type MemoryLog struct {
	store *Store
	node  int32

	mu    sync.Mutex // guards index and serialises Apply, as a quorum does
	index uint64
}

// NewMemoryLog returns a log that applies to store.
func NewMemoryLog(store *Store) *MemoryLog { return &MemoryLog{store: store, node: store.nodeID} }

// Propose implements Log: the entry is applied before Propose returns.
func (m *MemoryLog) Propose(_ context.Context, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.index++
	m.store.Apply(m.index, data)
	return nil
}

// Leader implements Log: this node.
func (m *MemoryLog) Leader() int32 { return m.node }

// OpenMemory returns a store on a MemoryLog with a cluster id and this
// node registered as a live broker at host:port.
func OpenMemory(nodeID int32, host string, port int32, logger *slog.Logger) (*Store, error) {
	s := NewStore(nodeID, logger)
	s.SetLog(NewMemoryLog(s))
	ctx := context.Background()
	if err := s.InitCluster(ctx, ""); err != nil {
		return nil, err
	}
	if _, err := s.RegisterBroker(ctx, RegisterBrokerRecord{ID: nodeID, Endpoints: []Endpoint{{Name: "PLAINTEXT", Host: host, Port: port}}}); err != nil {
		return nil, err
	}
	return s, nil
}
