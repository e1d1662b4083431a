package handler

// UnregisterBroker, key 64, version 0: removes a broker's registration
// (kafka-cluster unregister, Admin.unregisterBroker), for a broker gone
// for good; its replicas stay in the partitions' replica lists as offline
// replicas, so move them first (sluice cluster decommission). A broker
// still running registers again at its next heartbeat. ALTER on the
// cluster is required (CLUSTER_AUTHORIZATION_FAILED); an unknown id is
// BROKER_ID_NOT_REGISTERED.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

func (h *Handler) unregisterBroker(ctx context.Context, who protocol.Principal, req *kmsg.UnregisterBrokerRequest) *kmsg.UnregisterBrokerResponse {
	resp := req.ResponseKind().(*kmsg.UnregisterBrokerResponse)
	err := errClusterDenied
	if h.allowedCluster(ctx, who, kmsg.ACLOperationAlter) {
		err = h.b.Meta.UnregisterBroker(ctx, req.BrokerID)
	}
	if err != nil {
		resp.ErrorCode, resp.ErrorMessage = errorCode(err), errorMessage(err)
	}
	return resp
}
