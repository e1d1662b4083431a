package metadata

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestObserverFollowsVoter: a store fed by an Observer reaches the voter's
// image, through the history when it is close behind and through a
// snapshot when the voter's history no longer reaches back; proposals
// made on the observer take effect through the voter.
func TestObserverFollowsVoter(t *testing.T) {
	voter := newTestStore(t, 1, 1, 2)
	// More changes than the history keeps, so a new observer needs the
	// snapshot first.
	for i := range historyEntriesMax + 10 {
		if _, err := voter.AllocateProducerIDs(int64(i%3 + 1)); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc(RecordsPath, voter.ServeRecords)
	mux.HandleFunc(ProposePath, voter.ServePropose)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	store := NewStore(2, voter.logger)
	obs := NewObserver(store, map[int32]string{1: strings.TrimPrefix(srv.URL, "http://")})
	store.SetLog(obs)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		obs.Run(stop)
	}()
	defer func() {
		close(stop)
		<-done
	}()
	waitSame := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			a, b := voter.Image(), store.Image()
			if a.Index == b.Index && a.NextProducerID == b.NextProducerID && reflect.DeepEqual(a.Topics, b.Topics) &&
				reflect.DeepEqual(a.Brokers, b.Brokers) && a.ClusterID == b.ClusterID {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: observer at index %d, voter at %d", what, b.Index, a.Index)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitSame("snapshot")
	if obs.Leader() != 1 {
		t.Fatalf("observer names leader %d", obs.Leader())
	}
	for i := range 5 {
		if _, err := voter.CreateTopic("v"+strconv.Itoa(i), 2, 1, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitSame("history")
	// A change proposed by the observer: its outcome comes back through
	// its own applied log.
	top, err := store.CreateTopic("from-observer", 3, 1, [][]int32{{2}, {1}, {2}}, nil)
	if err != nil || top == nil || top.Partitions != 3 {
		t.Fatalf("create through the observer: %v %+v", err, top)
	}
	if _, err := store.CreateTopic("from-observer", 1, 1, [][]int32{{2}}, nil); err == nil {
		t.Fatal("a second create through the observer succeeded")
	}
	waitSame("after proposals")
}

// TestHistoryBounds: the history keeps at most historyEntriesMax entries
// and about historyBytesMax bytes (always the newest entry), and says
// when it no longer reaches back to an index.
func TestHistoryBounds(t *testing.T) {
	h := newHistory()
	for i := range uint64(historyEntriesMax + 5) {
		h.add(i+1, []byte("x"))
	}
	if len(h.entries) != historyEntriesMax || h.entries[0].Index != 6 {
		t.Fatalf("%d entries from index %d", len(h.entries), h.entries[0].Index)
	}
	if _, covered, _ := h.after(4); covered {
		t.Fatal("the history claims to reach back to index 5")
	}
	if got, covered, _ := h.after(5); !covered || len(got) == 0 || got[0].Index != 6 {
		t.Fatalf("after 5: covered %v, first %v", covered, got)
	}
	big := make([]byte, historyBytesMax/2+1)
	for i := range uint64(3) {
		h.add(uint64(historyEntriesMax+6)+i, big)
	}
	if h.bytes > historyBytesMax+len(big) || len(h.entries) != 1 {
		t.Fatalf("%d bytes in %d entries after three large ones", h.bytes, len(h.entries))
	}
}
