package handler

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestThrottleDeletes: deleting the replication throttles, as
// kafka-reassign-partitions --verify does, succeeds on a broker and a
// topic; setting one on a broker is still refused.
func TestThrottleDeletes(t *testing.T) {
	h := protoHandler(t)
	if st := protoCreate(t, h, "t", 1, 1, false); st.ErrorCode != 0 {
		t.Fatalf("create: %v", kerr.ErrorForCode(st.ErrorCode))
	}
	request := func(typ kmsg.ConfigResourceType, name string, op int8, keys ...string) int16 {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = typ, name
		for _, k := range keys {
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Op = k, kmsg.IncrementalAlterConfigOp(op)
			if op == opSet {
				c.Value = kmsg.StringPtr("100")
			}
			rr.Configs = append(rr.Configs, c)
		}
		req.Resources = append(req.Resources, rr)
		return roundTrip[*kmsg.IncrementalAlterConfigsResponse](t, h, req).Resources[0].ErrorCode
	}
	if c := request(kmsg.ConfigResourceTypeBroker, "1", opDelete, "leader.replication.throttled.rate",
		"follower.replication.throttled.rate", "replica.alter.log.dirs.io.max.bytes.per.second"); c != 0 {
		t.Errorf("broker throttle deletes: %v", kerr.ErrorForCode(c))
	}
	if c := request(kmsg.ConfigResourceTypeTopic, "t", opDelete, "leader.replication.throttled.replicas",
		"follower.replication.throttled.replicas"); c != 0 {
		t.Errorf("topic throttle deletes: %v", kerr.ErrorForCode(c))
	}
	if c := request(kmsg.ConfigResourceTypeBroker, "1", opSet, "leader.replication.throttled.rate"); c != kerr.InvalidRequest.Code {
		t.Errorf("broker throttle set: %v, want INVALID_REQUEST", kerr.ErrorForCode(c))
	}
}
