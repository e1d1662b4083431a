package metadata

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// SCRAM credentials live in the metadata log, as Kafka's
// UserScramCredentialRecord keeps them in KRaft: per user and mechanism,
// a salt, an iteration count, and the StoredKey and ServerKey derived
// from the salted password (RFC 5802 section 3). Neither the password
// nor the salted password is ever recorded: either would let a reader of
// the log authenticate. One ScramCredentialsRecord applies one
// AlterUserScramCredentials request at once; setting a credential again
// replaces it, and removing one already gone removes nothing, so a retry
// is harmless.

// ScramCredentialsMax bounds the SCRAM credentials a cluster holds, so
// that a client cannot grow every node's image without bound.
const ScramCredentialsMax = 100_000

// ScramKey names one credential: a user and a mechanism (SCRAM-SHA-256
// or SCRAM-SHA-512).
type ScramKey struct {
	User      string `json:"user"`
	Mechanism string `json:"mechanism"`
}

// ScramCredential is one user's credential for one mechanism.
type ScramCredential struct {
	ScramKey
	Salt       []byte `json:"salt"`
	Iterations int32  `json:"iterations"`
	StoredKey  []byte `json:"storedKey"`
	ServerKey  []byte `json:"serverKey"`
}

// ScramCredentialsRecord removes, then sets, SCRAM credentials.
type ScramCredentialsRecord struct {
	Set    []ScramCredential `json:"set,omitempty"`
	Remove []ScramKey        `json:"remove,omitempty"`
}

// ScramCredential returns user's credential for mechanism.
func (im *Image) ScramCredential(user, mechanism string) (*ScramCredential, bool) {
	c, ok := im.Scram[ScramKey{User: user, Mechanism: mechanism}]
	return c, ok
}

// SortedScramCredentials returns the image's SCRAM credentials ordered by
// user, then mechanism.
func (im *Image) SortedScramCredentials() []*ScramCredential {
	creds := slices.Collect(maps.Values(im.Scram))
	slices.SortFunc(creds, func(a, b *ScramCredential) int {
		return cmp.Or(strings.Compare(a.User, b.User), strings.Compare(a.Mechanism, b.Mechanism))
	})
	return creds
}

// alterScram applies a ScramCredentialsRecord, or nothing if the cluster
// would hold more than ScramCredentialsMax.
func (im *Image) alterScram(r *ScramCredentialsRecord) Result {
	next := maps.Clone(im.Scram)
	if next == nil {
		next = map[ScramKey]*ScramCredential{}
	}
	for _, k := range r.Remove {
		delete(next, k)
	}
	for i := range r.Set {
		c := r.Set[i]
		if c.User == "" || len(c.StoredKey) == 0 || len(c.ServerKey) == 0 {
			return Result{Err: fmt.Errorf("%w: a SCRAM credential has no user or keys", kerr.InvalidRequest)}
		}
		next[c.ScramKey] = &c
	}
	if len(next) > ScramCredentialsMax && len(next) > len(im.Scram) {
		return Result{Err: fmt.Errorf("%w: the cluster would hold more than %d SCRAM credentials", kerr.PolicyViolation, ScramCredentialsMax)}
	}
	im.Scram = next
	return Result{}
}

// AlterScramCredentials removes the credentials remove names and sets
// those of set, in one record.
func (s *Store) AlterScramCredentials(ctx context.Context, set []ScramCredential, remove []ScramKey) error {
	if len(set) == 0 && len(remove) == 0 {
		return nil
	}
	_, err := s.change(ctx, Record{ScramCredentials: &ScramCredentialsRecord{Set: set, Remove: remove}})
	return err
}

// UpsertScramCredential sets one credential, replacing the user's
// credential for the same mechanism.
func (s *Store) UpsertScramCredential(ctx context.Context, c ScramCredential) error {
	return s.AlterScramCredentials(ctx, []ScramCredential{c}, nil)
}

// DeleteScramCredential removes one credential; one already gone is no
// error.
func (s *Store) DeleteScramCredential(ctx context.Context, k ScramKey) error {
	return s.AlterScramCredentials(ctx, nil, []ScramKey{k})
}
