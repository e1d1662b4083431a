package metadata

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// aliceReads is a binding letting alice READ topics prefixed "a-".
var aliceReads = ACL{ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "a-",
	PatternType: kmsg.ACLResourcePatternTypePrefixed, Principal: "User:alice", Host: "*",
	Operation: kmsg.ACLOperationRead, Permission: kmsg.ACLPermissionTypeAllow}

// TestACLLifecycle: bindings are created once however often proposed,
// deleted by id idempotently, and carried by snapshots.
func TestACLLifecycle(t *testing.T) {
	s := newTestStore(t, 1, 1)
	created, err := s.CreateACLs(ctx, []ACL{aliceReads})
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 1 || created[0].ID == "" {
		t.Fatalf("created %+v, want one with an id", created)
	}
	// The same binding again (a client's retry) adds nothing.
	if _, err := s.CreateACLs(ctx, []ACL{aliceReads, aliceReads}); err != nil {
		t.Fatal(err)
	}
	// A retried record with the same id adds nothing either.
	if _, err := s.change(ctx, Record{CreateACLs: &CreateACLsRecord{ACLs: created}}); err != nil {
		t.Fatal(err)
	}
	if got := s.Image().SortedACLs(); len(got) != 1 || *got[0] != created[0] {
		t.Fatalf("ACLs %+v, want %+v", got, created)
	}
	// Snapshot and restore carry them.
	index, snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := newTestStore(t, 2)
	if err := r.Restore(index, snap); err != nil {
		t.Fatal(err)
	}
	if got := r.Image().SortedACLs(); len(got) != 1 || *got[0] != created[0] {
		t.Fatalf("restored ACLs %+v, want %+v", got, created)
	}
	// Delete by id, twice: the second removes nothing and does not fail.
	before := s.Image()
	for range 2 {
		if err := s.DeleteACLs(ctx, []string{created[0].ID}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.Image().ACLs) != 0 {
		t.Fatalf("ACLs after delete: %+v", s.Image().ACLs)
	}
	if len(before.ACLs) != 1 {
		t.Fatal("apply changed an earlier image's ACLs")
	}
}

// TestDecodeEntryACLs: an ACL record decodes, and one with another kind
// set as well is refused.
func TestDecodeEntryACLs(t *testing.T) {
	if _, err := decodeEntry([]byte(`{"req":"r","record":{"deleteAcls":{"ids":["x"]}}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeEntry([]byte(`{"req":"r","record":{"deleteAcls":{"ids":["x"]},"createAcls":{"acls":[]}}}`)); err == nil {
		t.Fatal("two kinds decoded")
	}
}
