package metadata

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ACLs live in the metadata log, as Kafka's AccessControlEntryRecord and
// RemoveAccessControlEntryRecord keep them in KRaft. Each binding has an
// id chosen by its proposer; CreateACLsRecord adds bindings, and
// DeleteACLsRecord removes bindings by id, the proposer having resolved
// its filters against its image. Both are safe to retry: a create of an
// id, or of a binding, already present adds nothing, and a delete of an
// id already gone removes nothing.

// ACLsMax bounds the ACL bindings a cluster holds, so that a client
// cannot grow every node's image (and each authorization, which scans
// the bindings of a resource type) without bound.
const ACLsMax = 100_000

// ACL is one ACL binding: a resource pattern and an access control
// entry, with Kafka's codes for its enums.
type ACL struct {
	ID           string                      `json:"id"`
	ResourceType kmsg.ACLResourceType        `json:"resourceType"`
	ResourceName string                      `json:"resourceName"`
	PatternType  kmsg.ACLResourcePatternType `json:"patternType"`
	Principal    string                      `json:"principal"`
	Host         string                      `json:"host"`
	Operation    kmsg.ACLOperation           `json:"operation"`
	Permission   kmsg.ACLPermissionType      `json:"permission"`
}

// sameBinding reports whether a and b bind the same access, ids aside.
func (a *ACL) sameBinding(b *ACL) bool {
	x, y := *a, *b
	x.ID, y.ID = "", ""
	return x == y
}

// CreateACLsRecord adds ACL bindings.
type CreateACLsRecord struct {
	ACLs []ACL `json:"acls"`
}

// DeleteACLsRecord removes the ACL bindings with these ids.
type DeleteACLsRecord struct {
	IDs []string `json:"ids"`
}

// SortedACLs returns the image's ACL bindings ordered by resource type,
// name, pattern type, principal, host, operation and permission.
func (im *Image) SortedACLs() []*ACL {
	acls := slices.Collect(maps.Values(im.ACLs))
	slices.SortFunc(acls, compareACLs)
	return acls
}

// compareACLs orders bindings for stable answers.
func compareACLs(a, b *ACL) int {
	if c := int(a.ResourceType) - int(b.ResourceType); c != 0 {
		return c
	}
	if c := strings.Compare(a.ResourceName, b.ResourceName); c != 0 {
		return c
	}
	if c := int(a.PatternType) - int(b.PatternType); c != 0 {
		return c
	}
	if c := strings.Compare(a.Principal, b.Principal); c != 0 {
		return c
	}
	if c := strings.Compare(a.Host, b.Host); c != 0 {
		return c
	}
	if c := int(a.Operation) - int(b.Operation); c != 0 {
		return c
	}
	if c := int(a.Permission) - int(b.Permission); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// createACLs adds the bindings not present yet, by id or by content. It
// adds none if the cluster would hold more than ACLsMax.
func (im *Image) createACLs(r *CreateACLsRecord) Result {
	var added []*ACL
	for i := range r.ACLs {
		a := r.ACLs[i]
		if a.ID == "" {
			return Result{Err: fmt.Errorf("%w: an ACL binding has no id", kerr.InvalidRequest)}
		}
		if _, ok := im.ACLs[a.ID]; ok || slices.ContainsFunc(added, a.sameBinding) || im.hasBinding(&a) {
			continue
		}
		added = append(added, &a)
	}
	if len(added) == 0 {
		return Result{}
	}
	if len(im.ACLs)+len(added) > ACLsMax {
		return Result{Err: fmt.Errorf("%w: the cluster would hold more than %d ACL bindings", kerr.PolicyViolation, ACLsMax)}
	}
	im.ACLs = maps.Clone(im.ACLs)
	if im.ACLs == nil {
		im.ACLs = map[string]*ACL{}
	}
	for _, a := range added {
		im.ACLs[a.ID] = a
	}
	return Result{}
}

// hasBinding reports whether the image holds a binding like a.
func (im *Image) hasBinding(a *ACL) bool {
	for _, b := range im.ACLs {
		if b.sameBinding(a) {
			return true
		}
	}
	return false
}

// deleteACLs removes the bindings with the record's ids that exist.
func (im *Image) deleteACLs(r *DeleteACLsRecord) Result {
	if !slices.ContainsFunc(r.IDs, func(id string) bool { _, ok := im.ACLs[id]; return ok }) {
		return Result{}
	}
	im.ACLs = maps.Clone(im.ACLs)
	for _, id := range r.IDs {
		delete(im.ACLs, id)
	}
	return Result{}
}

// CreateACLs adds ACL bindings, giving each a new id, and returns them
// with their ids. Bindings the cluster holds already are left as they
// are, as Kafka does.
func (s *Store) CreateACLs(ctx context.Context, acls []ACL) ([]ACL, error) {
	out := slices.Clone(acls)
	for i := range out {
		id := newID()
		out[i].ID = base64.RawURLEncoding.EncodeToString(id[:])
	}
	_, err := s.change(ctx, Record{CreateACLs: &CreateACLsRecord{ACLs: out}})
	return out, err
}

// DeleteACLs removes the ACL bindings with these ids; ids already gone
// are ignored, so a retry is harmless. The caller resolves its filters
// against an image (Image.ACLs) into ids.
func (s *Store) DeleteACLs(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.change(ctx, Record{DeleteACLs: &DeleteACLsRecord{IDs: ids}})
	return err
}
