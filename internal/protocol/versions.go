package protocol

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// versionRange is an inclusive range of API versions.
type versionRange struct{ min, max int16 }

// advertised is the one version table of the broker: every version listed
// is fully implemented. The low ends keep old clients working (Debian's
// kafka-python 2.0.2 sends ApiVersions v0 and Metadata v0/v1;
// segmentio/kafka-go sends ApiVersions v0); Produce starts at v3 and Fetch
// at v4 because older versions carry message formats v0/v1, which Sluice
// does not store. The high ends stop before versions whose new semantics
// are not built yet (Produce v10+ KIP-951/890, InitProducerId v5+ KIP-890,
// ListOffsets v9 tiered storage, OffsetCommit/OffsetFetch v9+ KIP-848
// member epochs, DescribeGroups v6 KIP-1043), because clients pick
// features from this table.
var advertised = map[int16]versionRange{
	kmsg.Produce.Int16():                      {3, 9},
	kmsg.Fetch.Int16():                        {4, 16},
	kmsg.ListOffsets.Int16():                  {1, 8},
	kmsg.Metadata.Int16():                     {0, 12},
	kmsg.OffsetCommit.Int16():                 {0, 8},
	kmsg.OffsetFetch.Int16():                  {0, 8},
	kmsg.FindCoordinator.Int16():              {0, 4},
	kmsg.JoinGroup.Int16():                    {0, 9},
	kmsg.Heartbeat.Int16():                    {0, 4},
	kmsg.LeaveGroup.Int16():                   {0, 5},
	kmsg.SyncGroup.Int16():                    {0, 5},
	kmsg.DescribeGroups.Int16():               {0, 5},
	kmsg.ListGroups.Int16():                   {0, 5},
	kmsg.SASLHandshake.Int16():                {0, 1},
	kmsg.ApiVersions.Int16():                  {0, 3},
	kmsg.CreateTopics.Int16():                 {2, 7},
	kmsg.DeleteTopics.Int16():                 {1, 6},
	kmsg.DeleteRecords.Int16():                {0, 2},
	kmsg.InitProducerID.Int16():               {0, 4},
	kmsg.OffsetForLeaderEpoch.Int16():         {0, 4},
	kmsg.DescribeACLs.Int16():                 {1, 3},
	kmsg.CreateACLs.Int16():                   {1, 3},
	kmsg.DeleteACLs.Int16():                   {1, 3},
	kmsg.DescribeConfigs.Int16():              {1, 4},
	kmsg.AlterConfigs.Int16():                 {0, 2},
	kmsg.DescribeLogDirs.Int16():              {1, 4},
	kmsg.DeleteGroups.Int16():                 {0, 2},
	kmsg.OffsetDelete.Int16():                 {0, 0},
	kmsg.CreatePartitions.Int16():             {0, 3},
	kmsg.ElectLeaders.Int16():                 {0, 2},
	kmsg.AlterPartitionAssignments.Int16():    {0, 1},
	kmsg.ListPartitionReassignments.Int16():   {0, 0},
	kmsg.IncrementalAlterConfigs.Int16():      {0, 1},
	kmsg.SASLAuthenticate.Int16():             {0, 2},
	kmsg.DescribeCluster.Int16():              {0, 1},
	kmsg.DescribeUserSCRAMCredentials.Int16(): {0, 0},
	kmsg.AlterUserSCRAMCredentials.Int16():    {0, 0},
	kmsg.UpdateFeatures.Int16():               {0, 2},
	kmsg.UnregisterBroker.Int16():             {0, 0},
	kmsg.DescribeTopicPartitions.Int16():      {0, 0},
}

// advertisedMin lowers the minimum listed in ApiVersions below what is
// served. librdkafka before 2.10 compresses with gzip, snappy or lz4 only if
// the broker lists Produce v0, so Kafka 4.0 lists Produce from v0 while
// refusing v0-v2 requests (KAFKA-18659, apache/kafka#18727); so do we. A
// v0-v2 Produce closes the connection, as any unserved version does.
var advertisedMin = map[int16]int16{kmsg.Produce.Int16(): 0}

// Supported reports whether the broker serves version v of API key.
func Supported(key, v int16) bool {
	r, ok := advertised[key]
	return ok && v >= r.min && v <= r.max
}

// UnsupportedApiVersions is the v0 response to an ApiVersions request at a
// version the broker does not serve.
func UnsupportedApiVersions() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = ApiKeys()
	return resp
}

// ApiKeys is the advertised table as ApiVersions lists it, by key.
func ApiKeys() []kmsg.ApiVersionsResponseApiKey {
	keys := slices.Sorted(maps.Keys(advertised))
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(keys))
	for _, k := range keys {
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, advertised[k].min, advertised[k].max
		if m, ok := advertisedMin[k]; ok {
			ak.MinVersion = m
		}
		out = append(out, ak)
	}
	return out
}
