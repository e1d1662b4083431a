package controller

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// TestObserverFollowsVoter: a store fed by an Observer reaches the voter's
// image, through the history when it is close behind and through a
// snapshot when the voter's history no longer reaches back; proposals
// made on the observer take effect through the voter.
func TestObserverFollowsVoter(t *testing.T) {
	voter := newTestStore(t, 1, 1, 2)
	// More changes than the history keeps, so a new observer needs the
	// snapshot first.
	for i := 0; ; i++ {
		if _, covered, _ := voter.AppliedAfter(0, 1); !covered {
			break
		}
		if _, err := voter.AllocateProducerIDs(ctx, int64(i%3+1)); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc(RecordsPath, ServeRecords(voter))
	mux.HandleFunc(ProposePath, ServePropose(voter))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	store := metadata.NewStore(2, voter.Logger())
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
		same := func() bool {
			a, b := voter.Image(), store.Image()
			return a.Index == b.Index && a.NextProducerID == b.NextProducerID && reflect.DeepEqual(a.Topics, b.Topics) &&
				reflect.DeepEqual(a.Brokers, b.Brokers) && a.ClusterID == b.ClusterID
		}
		if !testutil.WaitFor(5*time.Second, same) {
			t.Fatalf("%s: observer at index %d, voter at %d", what, store.Image().Index, voter.Image().Index)
		}
	}
	waitSame("snapshot")
	if obs.Leader() != 1 {
		t.Fatalf("observer names leader %d", obs.Leader())
	}
	for i := range 5 {
		if _, err := voter.CreateTopic(ctx, "v"+strconv.Itoa(i), 2, 1, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitSame("history")
	// A change proposed by the observer: its outcome comes back through
	// its own applied log.
	top, err := store.CreateTopic(ctx, "from-observer", 3, 1, [][]int32{{2}, {1}, {2}}, nil)
	if err != nil || top == nil || top.Partitions != 3 {
		t.Fatalf("create through the observer: %v %+v", err, top)
	}
	if _, err := store.CreateTopic(ctx, "from-observer", 1, 1, [][]int32{{2}}, nil); err == nil {
		t.Fatal("a second create through the observer succeeded")
	}
	waitSame("after proposals")
}
