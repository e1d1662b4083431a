package handler

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/acl"
	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// upsertion is a SCRAM upsertion of user's password, salted as a client
// salts it.
func upsertion(t *testing.T, user string, mech int8, iterations int32, password string) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
	t.Helper()
	u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	u.Name, u.Mechanism, u.Iterations, u.Salt = user, mech, iterations, []byte("salt of "+user)
	h := sha256.New
	if mech == 2 {
		h = sha512.New
	}
	var err error
	if u.SaltedPassword, err = pbkdf2.Key(h, password, u.Salt, max(int(iterations), 1), h().Size()); err != nil {
		t.Fatal(err)
	}
	return u
}

// alterScram sends one AlterUserScramCredentials and returns the
// error of each user.
func alterScram(t *testing.T, h *Handler, who protocol.Principal, dels []kmsg.AlterUserSCRAMCredentialsRequestDeletion, ups ...kmsg.AlterUserSCRAMCredentialsRequestUpsertion) map[string]error {
	t.Helper()
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	req.Deletions, req.Upsertions = dels, ups
	resp := answerFrom(h, who, req).(*kmsg.AlterUserSCRAMCredentialsResponse)
	out := map[string]error{}
	for _, r := range resp.Results {
		out[r.User] = kerr.ErrorForCode(r.ErrorCode)
	}
	return out
}

// deletion names one credential to delete.
func deletion(user string, mech int8) kmsg.AlterUserSCRAMCredentialsRequestDeletion {
	d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
	d.Name, d.Mechanism = user, mech
	return d
}

// TestScramCredentialAPIs: AlterUserScramCredentials validates as Kafka
// does and stores derived keys that authenticate; DescribeUserScram
// Credentials lists mechanisms and iterations; both need the cluster
// permission.
func TestScramCredentialAPIs(t *testing.T) {
	h := protoHandler(t)
	admin := protocol.Principal{Type: "User", Name: "admin"}
	got := alterScram(t, h, admin, []kmsg.AlterUserSCRAMCredentialsRequestDeletion{deletion("carol", 1)},
		upsertion(t, "alice", 1, 4096, "pw"), upsertion(t, "alice", 2, 8192, "pw"),
		upsertion(t, "bob", 1, 4095, "pw"), upsertion(t, "dave", 1, 16385, "pw"),
		upsertion(t, "erin", 3, 4096, "pw"), upsertion(t, "", 1, 4096, "pw"),
		upsertion(t, "frank", 1, 4096, "pw"), upsertion(t, "frank", 1, 4096, "pw2"))
	want := map[string]error{"alice": nil, "bob": kerr.UnacceptableCredential, "carol": kerr.ResourceNotFound,
		"dave": kerr.UnacceptableCredential, "erin": kerr.UnsupportedSaslMechanism, "": kerr.UnacceptableCredential,
		"frank": kerr.DuplicateResource}
	for user, w := range want {
		if got[user] != w {
			t.Errorf("user %q: %v, want %v", user, got[user], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("results for %v", got)
	}
	if _, ok := h.b.Meta.Image().ScramCredential("frank", auth.MechanismScramSHA256); ok {
		t.Error("a refused user's credential was stored")
	}

	// The stored keys authenticate alice with her password only.
	c, ok := h.b.Meta.Image().ScramCredential("alice", auth.MechanismScramSHA512)
	if !ok || c.Iterations != 8192 {
		t.Fatalf("alice's SCRAM-SHA-512: %+v %v", c, ok)
	}
	salted, _ := pbkdf2.Key(sha512.New, "pw", c.Salt, 8192, 64)
	if stored, _, _ := auth.ScramKeys(auth.MechanismScramSHA512, salted); string(stored) != string(c.StoredKey) {
		t.Fatal("the stored key is not derived from the salted password")
	}

	describe := func(who protocol.Principal, users ...string) *kmsg.DescribeUserSCRAMCredentialsResponse {
		req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
		for _, u := range users {
			ru := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
			ru.Name = u
			req.Users = append(req.Users, ru)
		}
		return answerFrom(h, who, req).(*kmsg.DescribeUserSCRAMCredentialsResponse)
	}
	all := describe(admin)
	if len(all.Results) != 1 || all.Results[0].User != "alice" || len(all.Results[0].CredentialInfos) != 2 ||
		all.Results[0].CredentialInfos[1].Mechanism != 2 || all.Results[0].CredentialInfos[1].Iterations != 8192 {
		t.Fatalf("describe all: %+v", all.Results)
	}
	some := describe(admin, "alice", "nobody", "alice")
	if len(some.Results) != 2 || some.Results[0].ErrorCode != kerr.DuplicateResource.Code || some.Results[1].ErrorCode != kerr.ResourceNotFound.Code {
		t.Fatalf("describe alice twice and nobody: %+v", some.Results)
	}

	// Delete one mechanism; then with an authorizer alice may do nothing.
	if got := alterScram(t, h, admin, []kmsg.AlterUserSCRAMCredentialsRequestDeletion{deletion("alice", 1)}); got["alice"] != nil {
		t.Fatalf("delete: %v", got["alice"])
	}
	if _, ok := h.b.Meta.Image().ScramCredential("alice", auth.MechanismScramSHA256); ok {
		t.Fatal("deleted credential remains")
	}
	h.b.Authorize = acl.New(acl.Config{SuperUsers: []string{"User:admin"}}, h.b.Meta.Image).Authorize
	if resp := describe(alice); resp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("alice describing: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if got := alterScram(t, h, alice, nil, upsertion(t, "alice", 1, 4096, "x")); got["alice"] != kerr.ClusterAuthorizationFailed {
		t.Errorf("alice altering: %v", got["alice"])
	}
	if resp := describe(admin, "alice"); resp.ErrorCode != 0 || len(resp.Results[0].CredentialInfos) != 1 {
		t.Errorf("admin describing: %+v", resp)
	}
}
