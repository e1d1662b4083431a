package handler

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// replicationThrottleKeys are Kafka's replication throttle configs
// (broker rates, topic replica lists). Sluice does not throttle
// replication yet, so none is ever set; kafka-reassign-partitions
// --verify deletes them all when a reassignment completes, and deleting a
// config that is not set changes nothing, so those deletes succeed.
var replicationThrottleKeys = []string{
	"leader.replication.throttled.rate",
	"follower.replication.throttled.rate",
	"replica.alter.log.dirs.io.max.bytes.per.second",
	"leader.replication.throttled.replicas",
	"follower.replication.throttled.replicas",
}

// isThrottleDelete reports whether c deletes a replication throttle.
func isThrottleDelete(c kmsg.IncrementalAlterConfigsRequestResourceConfig) bool {
	return c.Op == opDelete && slices.Contains(replicationThrottleKeys, c.Name)
}

// onlyThrottleDeletes reports whether every operation of a resource
// deletes a replication throttle (and there is at least one).
func onlyThrottleDeletes(cs []kmsg.IncrementalAlterConfigsRequestResourceConfig) bool {
	return len(cs) > 0 && !slices.ContainsFunc(cs, func(c kmsg.IncrementalAlterConfigsRequestResourceConfig) bool { return !isThrottleDelete(c) })
}
