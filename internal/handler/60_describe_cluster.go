package handler

// DescribeCluster, key 60, versions 0-1 (brokers endpoint type only).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// endpointTypeBrokers is DescribeCluster v1's EndpointType for brokers.
const endpointTypeBrokers = 1

func (h *Handler) describeCluster(req *kmsg.DescribeClusterRequest) *kmsg.DescribeClusterResponse {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = req.EndpointType
	if req.Version >= 1 && req.EndpointType != endpointTypeBrokers {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		return resp
	}
	resp.ClusterID = h.b.Meta.Image().ClusterID
	resp.ControllerID = h.b.NodeID
	b := kmsg.NewDescribeClusterResponseBroker()
	b.NodeID, b.Host, b.Port = h.b.NodeID, h.b.Host, h.b.Port
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{b}
	return resp
}
