package controller

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
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// A broker that is not a controller voter (process.roles=broker) holds no
// Raft state: it observes the metadata log by fetching committed records
// from a voter, and sends its proposals to a voter, which proposes them to
// the quorum. The voter answers from the applied history its Store keeps
// (metadata.Store.AppliedAfter). It applies what it fetches to its own Store, so its Image
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

// historyEntry is one applied entry as it travels to an observer.
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

// ServeRecords answers an observer's fetch on a voter.
func ServeRecords(store *metadata.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		after, err := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		if err != nil {
			http.Error(w, "after must be a log index", http.StatusBadRequest)
			return
		}
		resp := recordsResponse{Leader: store.Leader()}
		entries, covered, news := store.AppliedAfter(after, recordsBytesMax)
		if len(entries) == 0 && (covered || store.Image().Index <= after) {
			select {
			case <-news:
				entries, covered, _ = store.AppliedAfter(after, recordsBytesMax)
			case <-time.After(recordsWait):
			case <-r.Context().Done():
				return
			}
		}
		if !covered && store.Image().Index > after {
			// Too far behind the history: the whole image, then what follows.
			if resp.SnapshotIndex, resp.Snapshot, err = store.Snapshot(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			entries, _, _ = store.AppliedAfter(resp.SnapshotIndex, recordsBytesMax)
		}
		resp.Entries = wireEntries(entries)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(&resp)
	}
}

// wireEntries converts applied entries to their wire form.
func wireEntries(entries []metadata.AppliedEntry) []historyEntry {
	out := make([]historyEntry, len(entries))
	for i, e := range entries {
		out[i] = historyEntry{Index: e.Index, Data: e.Data}
	}
	return out
}

// ServePropose proposes an observer's entry to the quorum.
func ServePropose(store *metadata.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, metadata.EntryBytesMax))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		if err := store.ProposeEncoded(r.Context(), data); errors.Is(err, kerr.InvalidRequest) {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// Observer is the Log of a broker that is not a voter: it fetches the
// committed records from the voters into its Store and forwards proposals
// to them.
type Observer struct {
	store  *metadata.Store
	voters map[int32]string
	client *http.Client

	leader atomic.Int32
	next   atomic.Int32 // the voter to ask when the leader is unknown or failing
}

// NewObserver returns an observer applying to store.
func NewObserver(store *metadata.Store, voters map[int32]string) *Observer {
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
			o.store.Logger().Debug("fetch metadata records", "err", err)
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
