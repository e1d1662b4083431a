package metadata

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// aliceScram is a SCRAM-SHA-256 credential of alice.
var aliceScram = ScramCredential{ScramKey: ScramKey{User: "alice", Mechanism: "SCRAM-SHA-256"},
	Salt: []byte("salt"), Iterations: 4096, StoredKey: []byte("stored"), ServerKey: []byte("server")}

// TestScramLifecycle: credentials are set, replaced, carried by
// snapshots and removed idempotently; earlier images do not change.
func TestScramLifecycle(t *testing.T) {
	s := newTestStore(t, 1, 1)
	if err := s.UpsertScramCredential(ctx, aliceScram); err != nil {
		t.Fatal(err)
	}
	first := s.Image()
	again := aliceScram
	again.Iterations, again.StoredKey = 8192, []byte("stored 2")
	bob := aliceScram
	bob.User = "bob"
	if err := s.AlterScramCredentials(ctx, []ScramCredential{again, bob}, nil); err != nil {
		t.Fatal(err)
	}
	c, ok := s.Image().ScramCredential("alice", "SCRAM-SHA-256")
	if !ok || c.Iterations != 8192 || !bytes.Equal(c.StoredKey, []byte("stored 2")) {
		t.Fatalf("alice after replace: %+v %v", c, ok)
	}
	if c, _ := first.ScramCredential("alice", "SCRAM-SHA-256"); c.Iterations != 4096 {
		t.Fatal("apply changed an earlier image's credentials")
	}
	if _, ok := s.Image().ScramCredential("alice", "SCRAM-SHA-512"); ok {
		t.Fatal("alice has a SCRAM-SHA-512 credential")
	}
	index, snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(snap, []byte("password")) {
		t.Fatalf("snapshot mentions a password: %s", snap)
	}
	r := newTestStore(t, 2)
	if err := r.Restore(index, snap); err != nil {
		t.Fatal(err)
	}
	if got := r.Image().SortedScramCredentials(); len(got) != 2 || got[0].User != "alice" || got[1].User != "bob" || got[0].Iterations != 8192 {
		t.Fatalf("restored %+v", got)
	}
	for range 2 {
		if err := s.DeleteScramCredential(ctx, aliceScram.ScramKey); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Image().SortedScramCredentials(); len(got) != 1 || got[0].User != "bob" {
		t.Fatalf("after delete: %+v", got)
	}
	bad := aliceScram
	bad.StoredKey = nil
	if err := s.UpsertScramCredential(ctx, bad); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("a credential without keys: %v", err)
	}
}

func TestDecodeEntryScram(t *testing.T) {
	if _, err := decodeEntry([]byte(`{"req":"r","record":{"scramCredentials":{"remove":[{"user":"a","mechanism":"SCRAM-SHA-256"}]}}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeEntry([]byte(`{"req":"r","record":{"scramCredentials":{},"deleteAcls":{"ids":["x"]}}}`)); err == nil {
		t.Fatal("two kinds decoded")
	}
}
