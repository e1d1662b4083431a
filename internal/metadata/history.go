package metadata

import (
	"slices"
	"sync"
)

// The Store keeps the tail of its applied log so that a voter can serve
// brokers that observe the log without holding Raft state (package
// controller carries it to them). An observer further behind than the
// history gets a snapshot instead.

const (
	// historyEntriesMax and historyBytesMax bound the applied entries a
	// store keeps for observers.
	historyEntriesMax = 4096
	historyBytesMax   = 32 << 20
)

// AppliedEntry is one committed entry as the log applied it: its index
// and its encoded bytes, which another Store applies as they are.
type AppliedEntry struct {
	Index uint64
	Data  []byte
}

// history is the tail of the applied log kept for observers.
type history struct {
	mu      sync.Mutex // guards entries, bytes and news
	entries []AppliedEntry
	bytes   int           // data bytes held in entries
	news    chan struct{} // closed and replaced on every append
}

func newHistory() *history { return &history{news: make(chan struct{})} }

func (h *history) add(index uint64, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = append(h.entries, AppliedEntry{Index: index, Data: data})
	h.bytes += len(data)
	drop := 0
	for len(h.entries)-drop > historyEntriesMax || h.bytes > historyBytesMax && drop < len(h.entries)-1 {
		h.bytes -= len(h.entries[drop].Data)
		drop++
	}
	h.entries = slices.Delete(h.entries, 0, drop)
	close(h.news)
	h.news = make(chan struct{})
}

// reset forgets the history when the store is replaced by a snapshot.
func (h *history) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries, h.bytes = nil, 0
	close(h.news)
	h.news = make(chan struct{})
}

// after returns up to bytesMax of the entries after index (at least one
// when there is one), whether the history reaches back that far, and a
// channel closed on the next append.
func (h *history) after(index uint64, bytesMax int) ([]AppliedEntry, bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i, _ := slices.BinarySearchFunc(h.entries, index+1, func(e AppliedEntry, target uint64) int {
		return cmpUint(e.Index, target)
	})
	covered := len(h.entries) > 0 && h.entries[0].Index <= index+1
	var out []AppliedEntry
	size := 0
	for _, e := range h.entries[i:] {
		if size += len(e.Data); size > bytesMax && len(out) > 0 {
			break
		}
		out = append(out, e)
	}
	return out, covered, h.news
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// AppliedAfter returns up to bytesMax of the applied entries after index
// (at least one when there is one), whether the kept history reaches back
// to index (when it does not, the caller needs a Snapshot first), and a
// channel closed when the next entry is applied.
func (s *Store) AppliedAfter(index uint64, bytesMax int) ([]AppliedEntry, bool, <-chan struct{}) {
	return s.history.after(index, bytesMax)
}
