package metadata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A broker that is not a controller voter (process.roles=broker) holds no
// Raft state: it observes the metadata log by fetching committed records
// from a voter, and sends its proposals to a voter, which proposes them to
// the quorum. It applies what it fetches to its own Store, so its Image
// and its proposals' outcomes work exactly as on a voter.
//
// Voters serve two paths on the controller listener:
//
//	GET  /controller/records?after=N  records after index N, waiting up to
//	                                  recordsWait for one; a snapshot first
//	                                  when N is older than the history kept
//	POST /controller/propose          one encoded Entry to propose

const (
	// RecordsPath and ProposePath are the observer paths.
	RecordsPath = "/controller/records"
	ProposePath = "/controller/propose"
	// historyEntriesMax and historyBytesMax bound the applied entries a
	// voter keeps for observers; an observer further behind gets a
	// snapshot.
	historyEntriesMax = 4096
	historyBytesMax   = 32 << 20
	// recordsResponseBytesMax bounds what an observer reads of one
	// answer: a snapshot (at most what the quorum can ship) and entries.
	recordsResponseBytesMax = 128 << 20
	// recordsBytesMax bounds one records answer (a snapshot may exceed
	// it: it is sent whole).
	recordsBytesMax = 4 << 20
	// recordsWait is how long a records request waits for news.
	recordsWait = time.Second
	// observeBackoff is the pause after a failed fetch.
	observeBackoff = 200 * time.Millisecond
)

// historyEntry is one applied entry kept for observers.
type historyEntry struct {
	Index uint64 `json:"index"`
	Data  []byte `json:"data"`
}

// recordsResponse is a voter's answer to an observer.
type recordsResponse struct {
	Leader        int32          `json:"leader"`
	SnapshotIndex uint64         `json:"snapshotIndex,omitempty"`
	Snapshot      []byte         `json:"snapshot,omitempty"`
	Entries       []historyEntry `json:"entries"`
}

// history is the tail of the applied log a voter keeps for observers.
type history struct {
	mu      sync.Mutex // guards entries, bytes and news
	entries []historyEntry
	bytes   int           // data bytes held in entries
	news    chan struct{} // closed and replaced on every append
}

func newHistory() *history { return &history{news: make(chan struct{})} }

func (h *history) add(index uint64, data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = append(h.entries, historyEntry{Index: index, Data: data})
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

// after returns up to recordsBytesMax of the entries after index, whether
// the history reaches back that far, and a channel closed on the next
// append.
func (h *history) after(index uint64) ([]historyEntry, bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i, _ := slices.BinarySearchFunc(h.entries, index+1, func(e historyEntry, target uint64) int {
		return cmpUint(e.Index, target)
	})
	covered := len(h.entries) > 0 && h.entries[0].Index <= index+1
	var out []historyEntry
	size := 0
	for _, e := range h.entries[i:] {
		if size += len(e.Data); size > recordsBytesMax && len(out) > 0 {
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

// ServeRecords answers an observer's fetch on a voter.
func (s *Store) ServeRecords(w http.ResponseWriter, r *http.Request) {
	after, err := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	if err != nil {
		http.Error(w, "after must be a log index", http.StatusBadRequest)
		return
	}
	resp := recordsResponse{Leader: s.log.Leader()}
	entries, covered, news := s.history.after(after)
	if len(entries) == 0 && (covered || s.Image().Index <= after) {
		select {
		case <-news:
			entries, covered, _ = s.history.after(after)
		case <-time.After(recordsWait):
		case <-r.Context().Done():
			return
		}
	}
	if !covered && s.Image().Index > after {
		// Too far behind the history: the whole image, then what follows.
		if resp.SnapshotIndex, resp.Snapshot, err = s.Snapshot(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		entries, _, _ = s.history.after(resp.SnapshotIndex)
	}
	resp.Entries = entries
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(&resp)
}

// ServePropose proposes an observer's entry to the quorum.
func (s *Store) ServePropose(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, entryBytesMax))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	if _, err := decodeEntry(data); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.log.Propose(r.Context(), data); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Observer is the Log of a broker that is not a voter: it fetches the
// committed records from the voters into its Store and forwards proposals
// to them.
type Observer struct {
	store  *Store
	voters map[int32]string
	client *http.Client

	leader atomic.Int32
	next   atomic.Int32 // the voter to ask when the leader is unknown or failing
}

// NewObserver returns an observer applying to store.
func NewObserver(store *Store, voters map[int32]string) *Observer {
	o := &Observer{store: store, voters: voters, client: &http.Client{Timeout: recordsWait + 5*time.Second}}
	o.leader.Store(-1)
	return o
}

// Leader implements Log: the leader the voters last named.
func (o *Observer) Leader() int32 { return o.leader.Load() }

// voter picks a voter to talk to: the leader if known, else the next in
// turn.
func (o *Observer) voter() (int32, string) {
	ids := slices.Sorted(maps.Keys(o.voters))
	if l := o.leader.Load(); l >= 0 {
		if addr, ok := o.voters[l]; ok {
			return l, addr
		}
	}
	id := ids[int(o.next.Add(1))%len(ids)]
	return id, o.voters[id]
}

// failed moves on from a voter that did not answer.
func (o *Observer) failed(id int32) {
	o.leader.CompareAndSwap(id, -1)
}

// Propose implements Log: the entry goes to a voter, which proposes it.
func (o *Observer) Propose(ctx context.Context, data []byte) error {
	id, addr := o.voter()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+ProposePath, bytes.NewReader(data))
	if err != nil {
		return err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		o.failed(id)
		return fmt.Errorf("voter %d: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		o.failed(id)
		return fmt.Errorf("voter %d: %s", id, bytes.TrimSpace(msg))
	}
	return nil
}

// Run fetches and applies records until stop is closed.
func (o *Observer) Run(stop <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-stop
		cancel()
	}()
	for ctx.Err() == nil {
		if err := o.fetch(ctx); err != nil && ctx.Err() == nil {
			o.store.logger.Debug("fetch metadata records", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(observeBackoff):
			}
		}
	}
}

// fetch asks one voter for the records after the store's index and
// applies them.
func (o *Observer) fetch(ctx context.Context) error {
	id, addr := o.voter()
	url := "http://" + addr + RecordsPath + "?after=" + strconv.FormatUint(o.store.Image().Index, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		o.failed(id)
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		o.failed(id)
		return fmt.Errorf("voter %d answered %s", id, resp.Status)
	}
	var rr recordsResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, recordsResponseBytesMax)).Decode(&rr); err != nil {
		o.failed(id)
		return fmt.Errorf("voter %d: %w", id, err)
	}
	o.leader.Store(rr.Leader)
	if rr.Snapshot != nil {
		if err := o.store.Restore(rr.SnapshotIndex, rr.Snapshot); err != nil {
			return err
		}
	}
	for _, e := range rr.Entries {
		if e.Index != o.store.Image().Index+1 {
			return errors.New("metadata records arrived out of order")
		}
		o.store.Apply(e.Index, e.Data)
	}
	return nil
}
