package handler

// DescribeUserScramCredentials, key 50, version 0: DESCRIBE on the
// cluster lists, per user, the SCRAM mechanisms and iteration counts the
// metadata log holds (never salts or keys). No users named lists every
// user with a credential; a user named twice gets DUPLICATE_RESOURCE and
// one without credentials RESOURCE_NOT_FOUND, as Kafka answers.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/protocol"
)

// Kafka's per-user errors of DescribeUserScramCredentials.
var (
	errScramDescribeTwice   = fmt.Errorf("%w: Cannot describe SCRAM credentials for the same user twice in a single request", kerr.DuplicateResource)
	errScramDescribeMissing = fmt.Errorf("%w: Attempt to describe a user credential that does not exist", kerr.ResourceNotFound)
)

func (h *Handler) describeUserScramCredentials(ctx context.Context, who protocol.Principal, req *kmsg.DescribeUserSCRAMCredentialsRequest) *kmsg.DescribeUserSCRAMCredentialsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !h.allowedCluster(ctx, who, kmsg.ACLOperationDescribe) {
		resp.ErrorCode, resp.ErrorMessage = errorCode(errClusterDenied), errorMessage(errClusterDenied)
		return resp
	}
	creds := h.b.Meta.Image().SortedScramCredentials() // by user, then mechanism
	byUser := map[string][]*metadata.ScramCredential{}
	var users []string
	for _, c := range creds {
		if _, ok := byUser[c.User]; !ok {
			users = append(users, c.User)
		}
		byUser[c.User] = append(byUser[c.User], c)
	}
	count := map[string]int{} // how often the request names each user
	if len(req.Users) > 0 {
		users = nil
		for _, u := range req.Users {
			if count[u.Name]++; count[u.Name] == 1 {
				users = append(users, u.Name)
			}
		}
	}
	for _, user := range users {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = user
		switch {
		case count[user] > 1:
			r.ErrorCode, r.ErrorMessage = errorCode(errScramDescribeTwice), errorMessage(errScramDescribeTwice)
		case len(byUser[user]) == 0:
			r.ErrorCode, r.ErrorMessage = errorCode(errScramDescribeMissing), errorMessage(errScramDescribeMissing)
		}
		for _, c := range byUser[user] {
			if r.ErrorCode != 0 {
				break
			}
			info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
			info.Mechanism, info.Iterations = auth.ScramMechanismCode(c.Mechanism), c.Iterations
			r.CredentialInfos = append(r.CredentialInfos, info)
		}
		resp.Results = append(resp.Results, r)
	}
	return resp
}
