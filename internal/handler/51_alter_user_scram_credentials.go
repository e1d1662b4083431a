package handler

// AlterUserScramCredentials, key 51, version 0: ALTER on the cluster
// deletes and upserts SCRAM credentials. The client sends a salt and the
// salted password; the broker derives StoredKey and ServerKey (auth) and
// only those reach the metadata log. Each user is answered once and
// validated as Kafka does: a user's mechanism named twice in one request
// is DUPLICATE_RESOURCE, an unknown mechanism UNSUPPORTED_SASL_MECHANISM,
// iterations outside 4096..16384 or an empty name UNACCEPTABLE_CREDENTIAL,
// deleting a credential that does not exist RESOURCE_NOT_FOUND. A user
// with any error changes nothing; the others' changes are one record.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// Kafka's per-user errors of AlterUserScramCredentials.
var (
	errScramAlterTwice     = fmt.Errorf("%w: A user credential cannot be altered twice in the same request", kerr.DuplicateResource)
	errScramUnknownMech    = fmt.Errorf("%w: Unknown SCRAM mechanism", kerr.UnsupportedSaslMechanism)
	errScramNoName         = fmt.Errorf("%w: Username must not be empty", kerr.UnacceptableCredential)
	errScramFewIterations  = fmt.Errorf("%w: Too few iterations", kerr.UnacceptableCredential)
	errScramManyIterations = fmt.Errorf("%w: Too many iterations", kerr.UnacceptableCredential)
	errScramNoSalt         = fmt.Errorf("%w: Salt must not be empty", kerr.UnacceptableCredential)
	errScramDeleteMissing  = fmt.Errorf("%w: Attempt to delete a user credential that does not exist", kerr.ResourceNotFound)
)

// scramChange is what one request asks of one user.
type scramChange struct {
	set    []metadata.ScramCredential
	remove []metadata.ScramKey
	err    error
}

func (h *Handler) alterUserScramCredentials(ctx context.Context, who protocol.Principal, req *kmsg.AlterUserSCRAMCredentialsRequest) *kmsg.AlterUserSCRAMCredentialsResponse {
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	var users []string
	changes := map[string]*scramChange{}
	seen := map[metadata.ScramKey]bool{}
	change := func(user string, mech int8) (*scramChange, metadata.ScramKey) {
		c, ok := changes[user]
		if !ok {
			c = &scramChange{}
			changes[user] = c
			users = append(users, user)
		}
		name, _ := auth.ScramMechanismName(mech)
		k := metadata.ScramKey{User: user, Mechanism: name}
		switch {
		case user == "":
			c.err = cmpErr(c.err, errScramNoName)
		case name == "":
			c.err = cmpErr(c.err, errScramUnknownMech)
		case seen[k]:
			c.err = cmpErr(c.err, errScramAlterTwice)
		}
		seen[k] = true
		return c, k
	}
	im := h.b.Meta.Image()
	for _, d := range req.Deletions {
		c, k := change(d.Name, d.Mechanism)
		if _, ok := im.ScramCredential(k.User, k.Mechanism); !ok && k.Mechanism != "" {
			c.err = cmpErr(c.err, errScramDeleteMissing)
		}
		c.remove = append(c.remove, k)
	}
	for _, u := range req.Upsertions {
		c, k := change(u.Name, u.Mechanism)
		cred, err := scramCredential(k, &u)
		c.err = cmpErr(c.err, err)
		c.set = append(c.set, cred)
	}
	denied := !h.allowedCluster(ctx, who, kmsg.ACLOperationAlter)
	var set []metadata.ScramCredential
	var remove []metadata.ScramKey
	for _, user := range users {
		c := changes[user]
		if denied {
			c.err = errClusterDenied
		}
		if c.err == nil {
			set, remove = append(set, c.set...), append(remove, c.remove...)
		}
	}
	err := h.b.Meta.AlterScramCredentials(ctx, set, remove)
	for _, user := range users {
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User = user
		if e := cmpErr(changes[user].err, err); e != nil {
			r.ErrorCode, r.ErrorMessage = errorCode(e), errorMessage(e)
		}
		resp.Results = append(resp.Results, r)
	}
	return resp
}

// cmpErr keeps the first error of a user.
func cmpErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

// scramCredential checks one upsertion and derives its keys.
func scramCredential(k metadata.ScramKey, u *kmsg.AlterUserSCRAMCredentialsRequestUpsertion) (metadata.ScramCredential, error) {
	c := metadata.ScramCredential{ScramKey: k, Salt: u.Salt, Iterations: u.Iterations}
	switch {
	case k.Mechanism == "":
		return c, errScramUnknownMech
	case u.Iterations < auth.ScramIterationsMin:
		return c, errScramFewIterations
	case u.Iterations > auth.ScramIterationsMax:
		return c, errScramManyIterations
	case len(u.Salt) == 0:
		return c, errScramNoSalt
	}
	var err error
	c.StoredKey, c.ServerKey, err = auth.ScramKeys(k.Mechanism, u.SaltedPassword)
	return c, err
}
