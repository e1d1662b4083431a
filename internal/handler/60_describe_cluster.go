package handler

// DescribeCluster, key 60, versions 0-1 (brokers endpoint type only): the
// live brokers and the controller id, as in Metadata. Like Kafka, it asks
// the hook only when the client wants the cluster's authorized operations
// (IncludeClusterAuthorizedOperations): DESCRIBE on the cluster, then each
// cluster operation (clusterAuthorizedOperations); the brokers are
// answered to any principal.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

// endpointTypeBrokers is DescribeCluster v1's EndpointType for brokers.
const endpointTypeBrokers = 1

func (h *Handler) describeCluster(ctx context.Context, who protocol.Principal, listener string, req *kmsg.DescribeClusterRequest) *kmsg.DescribeClusterResponse {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = req.EndpointType
	if req.Version >= 1 && req.EndpointType != endpointTypeBrokers {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		return resp
	}
	im := h.b.Meta.Image()
	resp.ClusterID = im.ClusterID
	resp.ControllerID = h.controllerID(im)
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = h.clusterAuthorizedOperations(ctx, who)
	}
	for _, lb := range liveBrokers(im, listener) {
		b := kmsg.NewDescribeClusterResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = lb.id, lb.Host, lb.Port, lb.rack
		resp.Brokers = append(resp.Brokers, b)
	}
	return resp
}
