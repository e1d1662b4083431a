package e2e

// The differential oracle: the same kmsg requests go to Apache Kafka (the
// broker of test/java/pom.xml, one KRaft node, see kafka_peer_test.go) and
// to a sluice process, at the highest version both advertise, and the
// answers are compared field by field once what must differ is zeroed.
// Kafka is the spec: every other difference fails the test, unless it is
// one of oracleKnownGaps (Sluice is wrong there and the fix is not small),
// which are logged, and fail once they no longer differ so that the list
// stays true.
//
// protocol_diff_test.go compares Sluice with kfake and Kafka codes written
// down from Kafka's sources; this test asks Kafka itself.
//
// Intended differences (zeroed before comparing, see oracleIgnored):
//   - node ids, hosts and ports of brokers, leaders, replicas and
//     coordinators; cluster ids; topic ids; producer ids: chosen by each
//     broker.
//   - throttle times: Kafka's quota manager may answer non-zero.
//   - error messages: Kafka's text is its own; only the codes must agree.
//   - ApiVersions: the version ranges. Sluice keeps old versions that
//     Kafka 4 dropped (KIP-896) for old clients, and stops below versions
//     whose semantics it has not built (DESIGN.md, decision 1); it serves a
//     subset of Kafka's APIs. The ranges are logged, not compared; an API
//     Sluice advertises that Kafka does not know fails.
//   - ApiVersions v3's supported features: the names and minimum levels
//     are compared, not the maximum (Sluice supports metadata.version up
//     to 3.9-IV0, Kafka to its own newest); the finalized features are
//     listed under the known gaps instead: Sluice finalizes metadata.version only, at a lower
//     level, and no feature whose protocol it lacks.
//   - DescribeConfigs and CreateTopics config lists: only the sampled
//     topic keys (oracleConfigKeys) are compared; Kafka has keys Sluice
//     does not (tiered storage, message format, follower throttles); two
//     keys are left out of the sample, see oracleConfigKeys.
//   - Metadata that auto-creates a topic: Kafka's first answer is
//     UNKNOWN_TOPIC_OR_PARTITION, Sluice's the created topic (see
//     oracleMetadata).

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// oracleIgnored are the struct fields zeroed in both answers before they
// are compared: what each broker chooses for itself (see the file comment).
var oracleIgnored = map[string]bool{
	"ThrottleMillis": true,
	"NodeID":         true,
	"Host":           true,
	"Port":           true,
	"ClusterID":      true,
	"ControllerID":   true,
	"TopicID":        true,
	"ErrorMessage":   true,
	"ProducerID":     true,
	"UnknownTags":    true,
	"Leader":         true, // DescribeConfigs/Fetch: the leader node id
	"LeaderID":       true,
}

// oracleNodeLists are int32 slices of node ids: their lengths are
// compared, their ids are not.
var oracleNodeLists = map[string]bool{
	"Replicas":        true,
	"ISR":             true,
	"OfflineReplicas": true,
}

// oracleConfigKeys is the sample of topic configs whose values, sources,
// flags and synonyms are compared. Left out on purpose (intended
// differences): flush.messages, 1 in Sluice (fsync before every
// acknowledgement, DESIGN.md decision 3), Long.MAX_VALUE in Kafka; and
// min.insync.replicas, whose value agrees (1) but whose source in Kafka 4.4
// is DYNAMIC_DEFAULT_BROKER_CONFIG, because formatting with
// eligible.leader.replicas.version 1 records a cluster-wide
// min.insync.replicas (KIP-966), where Sluice, without dynamic broker
// configs, answers DEFAULT_CONFIG.
var oracleConfigKeys = []string{
	"cleanup.policy", "compression.type", "retention.ms", "retention.bytes",
	"segment.bytes", "segment.ms", "segment.index.bytes", "max.message.bytes",
	"message.timestamp.type", "unclean.leader.election.enable", "delete.retention.ms",
	"flush.ms", "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "file.delete.delay.ms",
}

// oracleKnownGaps are differences where Kafka is right and Sluice is not
// yet, each "case: field path" as oracleCompare reports it. They are logged
// rather than failed; one that no longer occurs fails, so the list stays
// true.
var oracleKnownGaps = map[string]string{
	"ApiVersions finalized features: ":                      "Sluice finalizes only metadata.version, at 3.9-IV0 (21): it has none of the protocols behind the others, and clients use what is finalized (internal/metadata/features.go); Kafka 4.4 finalizes eligible.leader.replicas.version 1, group.version 1, metadata.version 33, share.version 2, streams.version 1, transaction.version 2",
	"FindCoordinator key type 1: Coordinators[0].ErrorCode": "Sluice has no transactions: it refuses a transaction coordinator lookup with INVALID_REQUEST; Kafka finds one",
	// KIP-511: Kafka's UNSUPPORTED_VERSION answer to ApiVersions lists
	// only ApiVersions' own range; Sluice's (internal/protocol
	// UnsupportedApiVersions, which many tests use as the whole table)
	// lists every API. Clients read only the ApiVersions entry.
	"ApiVersions v99 keys listed: ": "Sluice lists its whole table in the UNSUPPORTED_VERSION answer, Kafka only ApiVersions",
}

// oracleState carries both sides and which known gaps were seen.
type oracleState struct {
	kafka, sluice diffSide
	gapsSeen      map[string]bool
}

// TestKafkaOracle starts Apache Kafka and sluice once and runs every
// oracle case against both as subtests.
func TestKafkaOracle(t *testing.T) {
	start := time.Now()
	k := StartKafka(t)
	t.Logf("Kafka started in %v", time.Since(start).Round(time.Millisecond))
	b := StartBroker(t, javaBrokerEnv...)
	o := &oracleState{gapsSeen: map[string]bool{}}
	o.kafka, o.sluice = oracleClients(t, k.Addr, b.Addr)

	t.Run("Peer", func(t *testing.T) { oraclePeer(t, o, k) })
	t.Run("ApiVersions", func(t *testing.T) { oracleApiVersions(t, o) })
	t.Run("Metadata", func(t *testing.T) { oracleMetadata(t, o) })
	t.Run("CreateTopics", func(t *testing.T) { oracleCreateTopics(t, o) })
	t.Run("DeleteTopics", func(t *testing.T) { oracleDeleteTopics(t, o) })
	t.Run("ListOffsets", func(t *testing.T) { oracleListOffsets(t, o) })
	t.Run("Fetch", func(t *testing.T) { oracleFetch(t, o) })
	t.Run("Produce", func(t *testing.T) { oracleProduce(t, o) })
	t.Run("Groups", func(t *testing.T) { oracleGroups(t, o) })
	t.Run("Configs", func(t *testing.T) { oracleConfigs(t, o) })
	t.Run("InitProducerID", func(t *testing.T) { oracleInitProducerID(t, o) })
	t.Run("BadVersions", func(t *testing.T) { oracleBadVersions(t, o, k.Addr, b.Addr) })
	t.Run("GroupMembers", func(t *testing.T) { oracleGroupMembers(t, o) })
	t.Run("Offsets", func(t *testing.T) { oracleOffsets(t, o) })
	t.Run("Partitions", func(t *testing.T) { oraclePartitions(t, o) })
	t.Run("Cluster", func(t *testing.T) { oracleCluster(t, o) })
	t.Run("DescribeTopicPartitions", func(t *testing.T) { oracleDescribeTopicPartitions(t, o) })
	t.Run("UpdateFeatures", func(t *testing.T) { oracleUpdateFeatures(t, o) })

	if !t.Failed() {
		for key := range oracleKnownGaps {
			if !o.gapsSeen[key] {
				t.Errorf("known gap %q no longer differs: remove it from oracleKnownGaps", key)
			}
		}
	}
}

// oracleClients returns a client for each side, both capped at the
// highest version of each API that both advertise, so one version of each
// request goes to both.
func oracleClients(t *testing.T, kafkaAddr, sluiceAddr string) (kafka, sluice diffSide) {
	t.Helper()
	kv, sv := oracleVersions(t, kafkaAddr), oracleVersions(t, sluiceAddr)
	both := kversion.FromApiVersionsResponse(&kmsg.ApiVersionsResponse{})
	for _, key := range sv.ApiKeys {
		i := slices.IndexFunc(kv.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return k.ApiKey == key.ApiKey })
		if i < 0 {
			continue
		}
		both.SetMaxKeyVersion(key.ApiKey, min(key.MaxVersion, kv.ApiKeys[i].MaxVersion))
	}
	client := func(addr string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(both), kgo.RequestRetries(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	return diffSide{"kafka", client(kafkaAddr)}, diffSide{"sluice", client(sluiceAddr)}
}

// oracleVersions asks addr for its ApiVersions (v3).
func oracleVersions(t testing.TB, addr string) *kmsg.ApiVersionsResponse {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), diffRequestTimeout)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(ctx, protoApiVersions(3))
	if err != nil {
		t.Fatalf("ApiVersions from %s: %v", addr, err)
	}
	return resp.(*kmsg.ApiVersionsResponse)
}

// oracleAsk sends req (a fresh copy to each side, built by mk) to both.
func oracleAsk[R kmsg.Response](t testing.TB, o *oracleState, mk func(side diffSide) kmsg.Request) (kafka, sluice R) {
	t.Helper()
	return o.kafka.request(t, mk(o.kafka)).(R), o.sluice.request(t, mk(o.sluice)).(R)
}

// oracleCompare zeroes the intended differences in both answers and
// reports every field that still differs as "what: path: kafka X, sluice
// Y", failing unless it is a known gap.
func oracleCompare(t testing.TB, o *oracleState, what string, kafka, sluice any) {
	t.Helper()
	kv, sv := oracleNormalized(kafka), oracleNormalized(sluice)
	var diffs []string
	oracleWalk("", kv, sv, &diffs)
	for _, d := range diffs {
		path, rest, _ := strings.Cut(d, ": ")
		key := what + ": " + path
		if why, ok := oracleKnownGaps[key]; ok {
			o.gapsSeen[key] = true
			t.Logf("known gap %s: %s (%s)", key, rest, why)
			continue
		}
		t.Errorf("%s: %s: %s", what, path, rest)
	}
}

// oracleNormalized returns a deep copy of v (a response or part of one)
// with oracleIgnored fields zeroed and node-id lists blanked.
func oracleNormalized(v any) reflect.Value {
	src := reflect.ValueOf(v)
	dst := reflect.New(src.Type()).Elem()
	oracleCopy(dst, src, "")
	return dst
}

// oracleCopy copies src into dst, zeroing ignored fields; field is the
// name of the struct field that holds src, if any.
func oracleCopy(dst, src reflect.Value, field string) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		dst.Set(reflect.New(src.Type().Elem()))
		oracleCopy(dst.Elem(), src.Elem(), field)
	case reflect.Struct:
		for i := range src.NumField() {
			f := src.Type().Field(i)
			if !f.IsExported() || oracleIgnored[f.Name] {
				continue
			}
			oracleCopy(dst.Field(i), src.Field(i), f.Name)
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
		for i := range src.Len() {
			if oracleNodeLists[field] {
				continue // keep the length, drop the id
			}
			oracleCopy(dst.Index(i), src.Index(i), field)
		}
	default:
		dst.Set(src)
	}
}

// oracleWalk appends "path: kafka X, sluice Y" for each leaf that differs.
func oracleWalk(path string, k, s reflect.Value, diffs *[]string) {
	switch k.Kind() {
	case reflect.Pointer:
		if k.IsNil() || s.IsNil() {
			if k.IsNil() != s.IsNil() {
				*diffs = append(*diffs, fmt.Sprintf("%s: kafka %s, sluice %s", path, oracleShow(k), oracleShow(s)))
			}
			return
		}
		oracleWalk(path, k.Elem(), s.Elem(), diffs)
	case reflect.Struct:
		for i := range k.NumField() {
			f := k.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			oracleWalk(strings.TrimPrefix(path+"."+f.Name, "."), k.Field(i), s.Field(i), diffs)
		}
	case reflect.Slice:
		if k.Type().Elem().Kind() == reflect.Uint8 {
			if !reflect.DeepEqual(k.Interface(), s.Interface()) {
				*diffs = append(*diffs, fmt.Sprintf("%s: kafka %d bytes, sluice %d bytes", path, k.Len(), s.Len()))
			}
			return
		}
		if k.Len() != s.Len() {
			*diffs = append(*diffs, fmt.Sprintf("%s: kafka %d entries%s, sluice %d%s", path, k.Len(), oracleNames(k), s.Len(), oracleNames(s)))
			return
		}
		for i := range k.Len() {
			oracleWalk(fmt.Sprintf("%s[%d]", path, i), k.Index(i), s.Index(i), diffs)
		}
	default:
		if !reflect.DeepEqual(k.Interface(), s.Interface()) {
			*diffs = append(*diffs, fmt.Sprintf("%s: kafka %s, sluice %s", path, oracleShow(k), oracleShow(s)))
		}
	}
}

// oracleNames lists the names of a slice's entries when they have one
// (a Name, Topic or Group field), for a length difference.
func oracleNames(v reflect.Value) string {
	var names []string
	for i := range v.Len() {
		e := v.Index(i)
		if e.Kind() == reflect.String {
			names = append(names, e.String())
			continue
		}
		if e.Kind() != reflect.Struct {
			return ""
		}
		for _, field := range []string{"Name", "Topic", "Group"} {
			if f := e.FieldByName(field); f.IsValid() {
				names = append(names, oracleShow(f))
				break
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " " + fmt.Sprint(names)
}

// oracleShow prints a leaf for a difference report.
func oracleShow(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "null"
		}
		return oracleShow(v.Elem())
	}
	return fmt.Sprintf("%v", v.Interface())
}

func oraclePeer(t *testing.T, o *oracleState, k *KafkaPeer) {
	resp := o.kafka.request(t, protoMetadata(12, []string{})).(*kmsg.MetadataResponse)
	if resp.ClusterID == nil || *resp.ClusterID != k.ClusterID {
		t.Errorf("Kafka's cluster id %v, formatted with %s", resp.ClusterID, k.ClusterID)
	}
	if len(resp.Brokers) != 1 || fmt.Sprintf("%s:%d", resp.Brokers[0].Host, resp.Brokers[0].Port) != k.Addr {
		t.Errorf("Kafka's brokers %+v, want one at %s", resp.Brokers, k.Addr)
	}
}

func oracleApiVersions(t *testing.T, o *oracleState) {
	kr, sr := oracleAsk[*kmsg.ApiVersionsResponse](t, o, func(diffSide) kmsg.Request { return protoApiVersions(3) })
	if kr.ErrorCode != 0 || sr.ErrorCode != 0 {
		t.Errorf("ApiVersions v3 error codes: kafka %d, sluice %d", kr.ErrorCode, sr.ErrorCode)
	}
	kafkaKeys := map[int16]kmsg.ApiVersionsResponseApiKey{}
	for _, key := range kr.ApiKeys {
		kafkaKeys[key.ApiKey] = key
	}
	var differ []string
	for _, key := range sr.ApiKeys {
		kk, ok := kafkaKeys[key.ApiKey]
		name := kmsg.NameForKey(key.ApiKey)
		if !ok {
			t.Errorf("sluice advertises %s (key %d), which Kafka 4.4 does not serve", name, key.ApiKey)
			continue
		}
		if kk.MinVersion != key.MinVersion || kk.MaxVersion != key.MaxVersion {
			differ = append(differ, fmt.Sprintf("%s %d-%d (Kafka %d-%d)", name, key.MinVersion, key.MaxVersion, kk.MinVersion, kk.MaxVersion))
		}
	}
	t.Logf("intended: sluice serves %d of Kafka's %d APIs; ranges that differ: %s", len(sr.ApiKeys), len(kr.ApiKeys), strings.Join(differ, ", "))
	// KIP-714 client telemetry: Kafka lists GetTelemetrySubscriptions and
	// PushTelemetry only when a metrics reporter plugin receives client
	// metrics; without one (this oracle, and Sluice) neither is listed, and
	// Java clients turn their telemetry off quietly.
	for _, key := range []int16{kmsg.GetTelemetrySubscriptions.Int16(), kmsg.PushTelemetry.Int16()} {
		_, inKafka := kafkaKeys[key]
		inSluice := slices.ContainsFunc(sr.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return k.ApiKey == key })
		if inKafka || inSluice {
			t.Errorf("%s listed by Kafka %v, by Sluice %v; want neither (no metrics reporter)", kmsg.NameForKey(key), inKafka, inSluice)
		}
	}
	// Features (KIP-584): compared as a known gap.
	names := func(r *kmsg.ApiVersionsResponse) []string {
		var out []string
		for _, f := range r.FinalizedFeatures {
			out = append(out, fmt.Sprintf("%s=%d", f.Name, f.MaxVersionLevel))
		}
		return out
	}
	oracleCompare(t, o, "ApiVersions finalized features", names(kr), names(sr))
	// Supported features at v3: Kafka leaves out those whose minimum is 0
	// (KAFKA-17011), so both list metadata.version alone, from 3.3-IV3;
	// the maximum differs on purpose (Sluice stops at 3.9-IV0).
	supported := func(r *kmsg.ApiVersionsResponse) []string {
		var out []string
		for _, f := range r.SupportedFeatures {
			out = append(out, fmt.Sprintf("%s from %d", f.Name, f.MinVersion))
		}
		return out
	}
	oracleCompare(t, o, "ApiVersions supported features", supported(kr), supported(sr))
}

func oracleMetadata(t *testing.T, o *oracleState) {
	meta := func(topic string, auto bool) func(diffSide) kmsg.Request {
		return func(diffSide) kmsg.Request {
			req := protoMetadata(12, []string{topic})
			req.AllowAutoTopicCreation = auto
			return req
		}
	}
	for _, topic := range []string{"oracle-unknown", "a/b", strings.Repeat("x", 250)} {
		kr, sr := oracleAsk[*kmsg.MetadataResponse](t, o, meta(topic, false))
		oracleCompare(t, o, "Metadata "+clipName(topic)+" no auto-create", kr, sr)
	}
	// Auto-creation: the first answer names the new topic (Kafka:
	// LEADER_NOT_AVAILABLE or UNKNOWN_TOPIC_OR_PARTITION while the
	// controller creates it); a later one lists its partition.
	// Intended difference: Kafka answers the request that creates a topic
	// with UNKNOWN_TOPIC_OR_PARTITION and no partitions (the controller
	// creates it after the answer; clients ask again), Sluice with the
	// created topic (one node creates it before answering). Only the
	// names are compared.
	kr, sr := oracleAsk[*kmsg.MetadataResponse](t, o, meta("oracle-auto", true))
	topicNames := func(r *kmsg.MetadataResponse) []string {
		var out []string
		for _, mt := range r.Topics {
			out = append(out, oracleShow(reflect.ValueOf(mt.Topic)))
		}
		return out
	}
	oracleCompare(t, o, "Metadata auto-create first answer", topicNames(kr), topicNames(sr))
	var k2, s2 *kmsg.MetadataResponse
	deadline := time.Now().Add(10 * time.Second)
	for {
		k2, s2 = oracleAsk[*kmsg.MetadataResponse](t, o, meta("oracle-auto", false))
		ok := func(r *kmsg.MetadataResponse) bool {
			return len(r.Topics) == 1 && r.Topics[0].ErrorCode == 0 && len(r.Topics[0].Partitions) > 0 && r.Topics[0].Partitions[0].ErrorCode == 0
		}
		if (ok(k2) && ok(s2)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	oracleCompare(t, o, "Metadata auto-created topic", k2, s2)
	// Auto-creation of an invalid name is refused.
	kr, sr = oracleAsk[*kmsg.MetadataResponse](t, o, meta("a/b", true))
	oracleCompare(t, o, "Metadata a/b auto-create", kr, sr)
}

// clipName shortens a long topic name for a case name.
func clipName(s string) string {
	if len(s) > 20 {
		return fmt.Sprintf("%s… (%d chars)", s[:8], len(s))
	}
	return s
}

// oracleConfigSample keeps the sampled keys of a config list, sorted by name.
func oracleConfigSample[C any](configs []C, name func(C) string) []C {
	var out []C
	for _, c := range configs {
		if slices.Contains(oracleConfigKeys, name(c)) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b C) int { return strings.Compare(name(a), name(b)) })
	return out
}

// oracleConfigsBoth compares which sampled keys each side lists (as "what
// sampled keys") and then keeps in both lists only the keys both list, so
// that the values, sources and flags of those are compared entry by entry.
func oracleConfigsBoth[C any](t testing.TB, o *oracleState, what string, kafka, sluice *[]C, name func(C) string) {
	t.Helper()
	*kafka, *sluice = oracleConfigSample(*kafka, name), oracleConfigSample(*sluice, name)
	names := func(cs []C) []string {
		var out []string
		for _, c := range cs {
			out = append(out, name(c))
		}
		return out
	}
	kn, sn := names(*kafka), names(*sluice)
	if !slices.Equal(kn, sn) {
		var missing, extra []string
		for _, n := range kn {
			if !slices.Contains(sn, n) {
				missing = append(missing, n)
			}
		}
		for _, n := range sn {
			if !slices.Contains(kn, n) {
				extra = append(extra, n)
			}
		}
		oracleCompare(t, o, what+" sampled keys", missing, extra)
	}
	keep := func(cs []C, other []string) []C {
		return slices.DeleteFunc(cs, func(c C) bool { return !slices.Contains(other, name(c)) })
	}
	*kafka, *sluice = keep(*kafka, sn), keep(*sluice, kn)
}

func oracleCreateTopics(t *testing.T, o *oracleState) {
	create := func(validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) func(diffSide) kmsg.Request {
		return func(diffSide) kmsg.Request {
			req := kmsg.NewPtrCreateTopicsRequest()
			req.TimeoutMillis, req.ValidateOnly, req.Topics = 10000, validateOnly, topics
			return req
		}
	}
	cases := []struct {
		name         string
		topic        kmsg.CreateTopicsRequestTopic
		validateOnly bool
	}{
		{"valid", diffTopic("oracle-ct", 3, 1, "retention.ms", "123456"), false},
		{"existing name", diffTopic("oracle-ct", 3, 1), false},
		{"invalid name", diffTopic("a/b", 1, 1), false},
		{"partitions 0", diffTopic("oracle-ct-p0", 0, 1), false},
		{"partitions -2", diffTopic("oracle-ct-pm2", -2, 1), false},
		{"replication factor 3", diffTopic("oracle-ct-rf3", 1, 3), false},
		{"replication factor 0", diffTopic("oracle-ct-rf0", 1, 0), false},
		{"unknown config key", diffTopic("oracle-ct-cfg", 1, 1, "no.such.config", "1"), false},
		{"invalid config value", diffTopic("oracle-ct-cfgv", 1, 1, "retention.ms", "soon"), false},
		{"invalid cleanup.policy", diffTopic("oracle-ct-cp", 1, 1, "cleanup.policy", "sometimes"), false},
		{"broker defaults -1 -1", diffTopic("oracle-ct-defaults", -1, -1), false},
		{"validate only", diffTopic("oracle-ct-validate", 2, 1), true},
		{"validate only, existing", diffTopic("oracle-ct", 2, 1), true},
		{"validate only, invalid value", diffTopic("oracle-ct-validate2", 1, 1, "segment.bytes", "-5"), true},
	}
	for _, tc := range cases {
		kr, sr := oracleAsk[*kmsg.CreateTopicsResponse](t, o, create(tc.validateOnly, tc.topic))
		if len(kr.Topics) == 1 && len(sr.Topics) == 1 {
			oracleConfigsBoth(t, o, "CreateTopics configs", &kr.Topics[0].Configs, &sr.Topics[0].Configs,
				func(c kmsg.CreateTopicsResponseTopicConfig) string { return c.Name })
		}
		oracleCompare(t, o, "CreateTopics "+tc.name, kr, sr)
	}
	kr, sr := oracleAsk[*kmsg.CreateTopicsResponse](t, o, create(false,
		diffTopic("oracle-ct-dup", 1, 1), diffTopic("oracle-ct-dup", 1, 1), diffTopic("oracle-ct-other", 1, 1)))
	for _, r := range []*kmsg.CreateTopicsResponse{kr, sr} {
		for i := range r.Topics {
			r.Topics[i].Configs = nil // the created topic's full list: compared above
		}
		slices.SortStableFunc(r.Topics, func(a, b kmsg.CreateTopicsResponseTopic) int { return strings.Compare(a.Topic, b.Topic) })
	}
	oracleCompare(t, o, "CreateTopics duplicate name in one request", kr, sr)
}

func oracleDeleteTopics(t *testing.T, o *oracleState) {
	del := func(name string, id [16]byte) func(diffSide) kmsg.Request {
		return func(diffSide) kmsg.Request {
			req := kmsg.NewPtrDeleteTopicsRequest()
			req.TimeoutMillis = 10000
			rt := kmsg.NewDeleteTopicsRequestTopic()
			if name != "" {
				req.TopicNames = []string{name}
				rt.Topic = testutil.Str(name)
			}
			rt.TopicID = id
			req.Topics = append(req.Topics, rt)
			return req
		}
	}
	kr, sr := oracleAsk[*kmsg.DeleteTopicsResponse](t, o, del("oracle-no-such-topic", [16]byte{}))
	oracleCompare(t, o, "DeleteTopics unknown name", kr, sr)
	kr, sr = oracleAsk[*kmsg.DeleteTopicsResponse](t, o, del("", [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}))
	oracleCompare(t, o, "DeleteTopics unknown id", kr, sr)
}

// oracleListOffsetsReq asks one partition for one timestamp.
func oracleListOffsetsReq(topic string, partition int32, timestamp int64) func(diffSide) kmsg.Request {
	return func(diffSide) kmsg.Request {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = partition, timestamp
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	}
}

// oracleCreate creates a topic on both sides and waits until Kafka's
// broker knows it: Kafka's CreateTopics answers once the controller has
// committed the topic, before the broker has applied it, so a request
// right after may find UNKNOWN_TOPIC_OR_PARTITION (Sluice applies it
// before answering).
func oracleCreate(t *testing.T, o *oracleState, rt kmsg.CreateTopicsRequestTopic) {
	t.Helper()
	diffMustCreate(t, o.kafka, o.sluice, rt)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := diffMetadata(o.kafka, t, rt.Topic)
		if len(resp.Topics) == 1 && resp.Topics[0].ErrorCode == 0 && len(resp.Topics[0].Partitions) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Kafka's broker does not know %s 10 s after creating it: %+v", rt.Topic, resp.Topics)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// oracleSeed creates topic on both sides and produces the same batches.
func oracleSeed(t *testing.T, o *oracleState, topic string, batches ...[]byte) {
	t.Helper()
	oracleCreate(t, o, diffTopic(topic, 1, 1))
	for i, batch := range batches {
		k, s := diffProduce(o.kafka, t, topic, 0, batch), diffProduce(o.sluice, t, topic, 0, batch)
		oracleCompare(t, o, fmt.Sprintf("Produce %s batch %d", topic, i), k, s)
	}
}

func oracleListOffsets(t *testing.T, o *oracleState) {
	base := time.Now().Add(-time.Hour).UnixMilli()
	oracleSeed(t, o, "oracle-lo",
		testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: base, Value: "a0"}, testutil.Record{Timestamp: base + 4000, Value: "a1"}, testutil.Record{Timestamp: base + 2000, Value: "a2"}),
		testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: base + 1000, Value: "b0"}, testutil.Record{Timestamp: base + 3000, Value: "b1"}))
	cases := []struct {
		name      string
		topic     string
		partition int32
		timestamp int64
	}{
		{"earliest", "oracle-lo", 0, -2},
		{"latest", "oracle-lo", 0, -1},
		{"max timestamp", "oracle-lo", 0, -3},
		{"earliest local", "oracle-lo", 0, -4},
		{"by timestamp base+1000", "oracle-lo", 0, base + 1000},
		{"by timestamp after the last", "oracle-lo", 0, base + 4001},
		{"unknown partition", "oracle-lo", 9, -1},
		{"unknown topic", "oracle-lo-missing", 0, -1},
		{"empty topic latest", "oracle-auto", 0, -1},
		{"empty topic max timestamp", "oracle-auto", 0, -3},
	}
	for _, tc := range cases {
		kr, sr := oracleAsk[*kmsg.ListOffsetsResponse](t, o, oracleListOffsetsReq(tc.topic, tc.partition, tc.timestamp))
		oracleCompare(t, o, "ListOffsets "+tc.name, kr, sr)
	}
}

func oracleFetch(t *testing.T, o *oracleState) {
	now := time.Now().UnixMilli()
	oracleSeed(t, o, "oracle-fetch",
		testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: now, Value: "f0"}),
		testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: now, Value: "f1"}))
	for _, offset := range []int64{100, 3, -1, 2, 0} {
		kr, sr := oracleAsk[*kmsg.FetchResponse](t, o, func(side diffSide) kmsg.Request {
			req := protoFetch(16, "oracle-fetch", 0, offset, 50, 0)
			req.Topics[0].TopicID = diffTopicID(side, t, "oracle-fetch")
			return req
		})
		oracleCompare(t, o, fmt.Sprintf("Fetch offset %d", offset), kr, sr)
	}
	kr, sr := oracleAsk[*kmsg.FetchResponse](t, o, func(side diffSide) kmsg.Request {
		req := protoFetch(16, "", 0, 0, 50, 0)
		req.Topics[0].TopicID = [16]byte{9, 9, 9}
		return req
	})
	oracleCompare(t, o, "Fetch unknown topic id", kr, sr)
}

func oracleProduce(t *testing.T, o *oracleState) {
	oracleCreate(t, o, diffTopic("oracle-produce", 1, 1))
	good := testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: time.Now().UnixMilli(), Value: "x"})
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 0xff
	cases := []struct {
		name      string
		topic     string
		partition int32
		records   []byte
	}{
		{"bad crc", "oracle-produce", 0, badCRC},
		{"unknown partition", "oracle-produce", 7, good},
		{"unknown topic", "oracle-produce-missing-" + fmt.Sprint(time.Now().UnixNano()), 0, good},
		{"good", "oracle-produce", 0, good},
	}
	for _, tc := range cases {
		k, s := diffProduce(o.kafka, t, tc.topic, tc.partition, tc.records), diffProduce(o.sluice, t, tc.topic, tc.partition, tc.records)
		oracleCompare(t, o, "Produce "+tc.name, k, s)
	}
}

func oracleGroups(t *testing.T, o *oracleState) {
	// OffsetFetch of a group that never committed, for a named partition
	// and for all (Topics null).
	for _, all := range []bool{false, true} {
		kr, sr := oracleAsk[*kmsg.OffsetFetchResponse](t, o, func(diffSide) kmsg.Request {
			req := kmsg.NewPtrOffsetFetchRequest()
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = "oracle-no-such-group"
			if !all {
				rt := kmsg.NewOffsetFetchRequestGroupTopic()
				rt.Topic, rt.Partitions = "oracle-lo", []int32{0}
				rg.Topics = append(rg.Topics, rt)
			}
			req.Groups = append(req.Groups, rg)
			// v0-v7 fields, for a client capped below v8.
			req.Group = rg.Group
			return req
		})
		oracleCompare(t, o, fmt.Sprintf("OffsetFetch unknown group (all topics %v)", all), kr, sr)
	}
	kd, sd := oracleAsk[*kmsg.DescribeGroupsResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{"oracle-no-such-group", ""}
		return req
	})
	for _, r := range []*kmsg.DescribeGroupsResponse{kd, sd} {
		slices.SortFunc(r.Groups, func(a, b kmsg.DescribeGroupsResponseGroup) int { return strings.Compare(a.Group, b.Group) })
	}
	oracleCompare(t, o, "DescribeGroups unknown group", kd, sd)
	for _, keyType := range []int8{0, 1} {
		kf, sf := oracleAsk[*kmsg.FindCoordinatorResponse](t, o, func(diffSide) kmsg.Request {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorType = keyType
			req.CoordinatorKeys = []string{"oracle-group"}
			req.CoordinatorKey = "oracle-group"
			return req
		})
		oracleCompare(t, o, fmt.Sprintf("FindCoordinator key type %d", keyType), kf, sf)
	}
	kl, sl := oracleAsk[*kmsg.ListGroupsResponse](t, o, func(diffSide) kmsg.Request { return kmsg.NewPtrListGroupsRequest() })
	oracleCompare(t, o, "ListGroups with no groups", kl, sl)
}

func oracleConfigs(t *testing.T, o *oracleState) {
	oracleCreate(t, o, diffTopic("oracle-cfg", 1, 1, "retention.ms", "123456", "cleanup.policy", "compact"))
	describe := func(name string, synonyms bool) func(diffSide) kmsg.Request {
		return func(diffSide) kmsg.Request {
			req := kmsg.NewPtrDescribeConfigsRequest()
			req.IncludeSynonyms = synonyms
			rr := kmsg.NewDescribeConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, name
			req.Resources = append(req.Resources, rr)
			return req
		}
	}
	for _, synonyms := range []bool{false, true} {
		kr, sr := oracleAsk[*kmsg.DescribeConfigsResponse](t, o, describe("oracle-cfg", synonyms))
		if len(kr.Resources) == 1 && len(sr.Resources) == 1 {
			oracleConfigsBoth(t, o, "DescribeConfigs", &kr.Resources[0].Configs, &sr.Resources[0].Configs,
				func(c kmsg.DescribeConfigsResponseResourceConfig) string { return c.Name })
		}
		oracleCompare(t, o, fmt.Sprintf("DescribeConfigs topic (synonyms %v)", synonyms), kr, sr)
	}
	kr, sr := oracleAsk[*kmsg.DescribeConfigsResponse](t, o, describe("oracle-cfg-missing", false))
	oracleCompare(t, o, "DescribeConfigs unknown topic", kr, sr)

	alter := func(topic, key string, op kmsg.IncrementalAlterConfigOp, value string) func(diffSide) kmsg.Request {
		return func(diffSide) kmsg.Request {
			req := kmsg.NewPtrIncrementalAlterConfigsRequest()
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
			rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			rc.Name, rc.Op, rc.Value = key, op, testutil.Str(value)
			rr.Configs = append(rr.Configs, rc)
			req.Resources = append(req.Resources, rr)
			return req
		}
	}
	cases := []struct {
		name, topic, key string
		op               kmsg.IncrementalAlterConfigOp
		value            string
	}{
		{"invalid value", "oracle-cfg", "retention.ms", kmsg.IncrementalAlterConfigOpSet, "soon"},
		{"negative segment.bytes", "oracle-cfg", "segment.bytes", kmsg.IncrementalAlterConfigOpSet, "-1"},
		{"unknown key", "oracle-cfg", "no.such.config", kmsg.IncrementalAlterConfigOpSet, "1"},
		{"unknown topic", "oracle-cfg-missing", "retention.ms", kmsg.IncrementalAlterConfigOpSet, "1000"},
		{"append to a non-list", "oracle-cfg", "retention.ms", kmsg.IncrementalAlterConfigOpAppend, "1000"},
		{"valid set", "oracle-cfg", "retention.ms", kmsg.IncrementalAlterConfigOpSet, "1000"},
		{"delete a key never set", "oracle-cfg", "segment.ms", kmsg.IncrementalAlterConfigOpDelete, ""},
	}
	for _, tc := range cases {
		kr, sr := oracleAsk[*kmsg.IncrementalAlterConfigsResponse](t, o, alter(tc.topic, tc.key, tc.op, tc.value))
		oracleCompare(t, o, "IncrementalAlterConfigs "+tc.name, kr, sr)
	}
}

func oracleInitProducerID(t *testing.T, o *oracleState) {
	kr, sr := oracleAsk[*kmsg.InitProducerIDResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionTimeoutMillis = 60000
		return req
	})
	oracleCompare(t, o, "InitProducerId", kr, sr)
}

// oracleBadVersions sends requests at versions no broker serves on raw
// connections. ApiVersions at an unknown version is answered at v0 with
// UNSUPPORTED_VERSION (KIP-511: the client learns the range and retries);
// any other API at an unknown version closes the connection.
func oracleBadVersions(t *testing.T, o *oracleState, kafkaAddr, sluiceAddr string) {
	answers := map[string]*kmsg.ApiVersionsResponse{}
	for name, addr := range map[string]string{"kafka": kafkaAddr, "sluice": sluiceAddr} {
		c := protoDial(t, addr)
		c.Send(protoApiVersions(99), 1)
		answers[name] = c.Recv(kmsg.ApiVersions.Int16(), 0, 1).(*kmsg.ApiVersionsResponse)
		c.Close()

		c = protoDial(t, addr)
		req := protoMetadata(12, []string{"x"})
		req.SetVersion(99)
		c.Send(req, 2)
		c.ExpectClosed()
		c.Close()
	}
	k, s := answers["kafka"], answers["sluice"]
	if k.ErrorCode != s.ErrorCode {
		t.Errorf("ApiVersions v99: error code kafka %d, sluice %d", k.ErrorCode, s.ErrorCode)
	}
	// Kafka lists only ApiVersions' own range in this answer; the client
	// needs no more to retry.
	kr := -1
	for i, key := range k.ApiKeys {
		if key.ApiKey == kmsg.ApiVersions.Int16() {
			kr = i
		}
	}
	sr := slices.IndexFunc(s.ApiKeys, func(key kmsg.ApiVersionsResponseApiKey) bool { return key.ApiKey == kmsg.ApiVersions.Int16() })
	if kr < 0 || sr < 0 {
		t.Errorf("ApiVersions v99: ApiVersions range listed by kafka %v, sluice %v", kr >= 0, sr >= 0)
	}
	oracleCompare(t, o, "ApiVersions v99 keys listed", len(k.ApiKeys), len(s.ApiKeys))
}

// oracleGroupMembers asks group-member APIs about members and groups
// that do not exist, and joins once.
func oracleGroupMembers(t *testing.T, o *oracleState) {
	const group = "oracle-members"
	kh, sh := oracleAsk[*kmsg.HeartbeatResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.Generation, req.MemberID = group, 1, "nobody"
		return req
	})
	oracleCompare(t, o, "Heartbeat unknown member", kh, sh)
	ks, ss := oracleAsk[*kmsg.SyncGroupResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrSyncGroupRequest()
		req.Group, req.Generation, req.MemberID = group, 1, "nobody"
		req.ProtocolType, req.Protocol = testutil.Str("consumer"), testutil.Str("range")
		return req
	})
	oracleCompare(t, o, "SyncGroup unknown member", ks, ss)
	kl, sl := oracleAsk[*kmsg.LeaveGroupResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group, req.MemberID = group, "nobody"
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = "nobody"
		req.Members = append(req.Members, m)
		return req
	})
	oracleCompare(t, o, "LeaveGroup unknown member", kl, sl)
	// A first JoinGroup without a member id (v4+): MEMBER_ID_REQUIRED
	// with the id to join with, generated by each broker.
	kj, sj := oracleAsk[*kmsg.JoinGroupResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = group, 10000, 10000
		req.ProtocolType = "consumer"
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0}
		req.Protocols = append(req.Protocols, p)
		return req
	})
	for _, r := range []*kmsg.JoinGroupResponse{kj, sj} {
		if r.MemberID == "" {
			t.Errorf("JoinGroup without a member id: no member id generated")
		}
		r.MemberID = ""
	}
	oracleCompare(t, o, "JoinGroup without a member id", kj, sj)
	kd, sd := oracleAsk[*kmsg.DeleteGroupsResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = []string{"oracle-no-such-group"}
		return req
	})
	oracleCompare(t, o, "DeleteGroups unknown group", kd, sd)
}

// oracleOffsets commits offsets outside any generation, as admin tools
// do, and reads, deletes and deletes them again.
func oracleOffsets(t *testing.T, o *oracleState) {
	const group = "oracle-offsets"
	commit := func(topic string, partition int32, offset int64) func(diffSide) kmsg.Request {
		return func(diffSide) kmsg.Request {
			req := kmsg.NewPtrOffsetCommitRequest()
			req.Group, req.Generation = group, -1
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.Metadata = partition, offset, testutil.Str("meta")
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return req
		}
	}
	kc, sc := oracleAsk[*kmsg.OffsetCommitResponse](t, o, commit("oracle-lo", 0, 3))
	oracleCompare(t, o, "OffsetCommit simple", kc, sc)
	kc, sc = oracleAsk[*kmsg.OffsetCommitResponse](t, o, commit("oracle-offsets-missing", 0, 3))
	oracleCompare(t, o, "OffsetCommit unknown topic", kc, sc)
	kc, sc = oracleAsk[*kmsg.OffsetCommitResponse](t, o, commit("oracle-lo", 5, 3))
	oracleCompare(t, o, "OffsetCommit unknown partition", kc, sc)
	kf, sf := oracleAsk[*kmsg.OffsetFetchResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrOffsetFetchRequest()
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = group
		rt := kmsg.NewOffsetFetchRequestGroupTopic()
		rt.Topic, rt.Partitions = "oracle-lo", []int32{0, 7}
		rg.Topics = append(rg.Topics, rt)
		req.Groups, req.Group = append(req.Groups, rg), group
		return req
	})
	oracleCompare(t, o, "OffsetFetch after a commit", kf, sf)
	offsetDelete := func(group string) func(diffSide) kmsg.Request {
		return func(diffSide) kmsg.Request {
			req := kmsg.NewPtrOffsetDeleteRequest()
			req.Group = group
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = "oracle-lo"
			rp := kmsg.NewOffsetDeleteRequestTopicPartition()
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return req
		}
	}
	kd, sd := oracleAsk[*kmsg.OffsetDeleteResponse](t, o, offsetDelete(group))
	oracleCompare(t, o, "OffsetDelete", kd, sd)
	kd, sd = oracleAsk[*kmsg.OffsetDeleteResponse](t, o, offsetDelete("oracle-no-such-group"))
	oracleCompare(t, o, "OffsetDelete unknown group", kd, sd)
	kg, sg := oracleAsk[*kmsg.DeleteGroupsResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = []string{group}
		return req
	})
	oracleCompare(t, o, "DeleteGroups of an empty group", kg, sg)
}

// oraclePartitions grows topics and deletes records.
func oraclePartitions(t *testing.T, o *oracleState) {
	oracleCreate(t, o, diffTopic("oracle-parts", 2, 1))
	grow := func(topic string, count int32, validateOnly bool) func(diffSide) kmsg.Request {
		return func(diffSide) kmsg.Request {
			req := kmsg.NewPtrCreatePartitionsRequest()
			req.TimeoutMillis, req.ValidateOnly = 10000, validateOnly
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = topic, count
			req.Topics = append(req.Topics, rt)
			return req
		}
	}
	for _, tc := range []struct {
		name         string
		topic        string
		count        int32
		validateOnly bool
	}{
		{"shrink", "oracle-parts", 1, false},
		{"same count", "oracle-parts", 2, false},
		{"unknown topic", "oracle-parts-missing", 3, false},
		{"validate only", "oracle-parts", 3, true},
		{"grow", "oracle-parts", 3, false},
	} {
		kr, sr := oracleAsk[*kmsg.CreatePartitionsResponse](t, o, grow(tc.topic, tc.count, tc.validateOnly))
		oracleCompare(t, o, "CreatePartitions "+tc.name, kr, sr)
	}

	now := time.Now().UnixMilli()
	oracleSeed(t, o, "oracle-dr",
		testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: now, Value: "d0"}, testutil.Record{Timestamp: now, Value: "d1"}),
		testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: now, Value: "d2"}))
	del := func(topic string, partition int32, offset int64) func(diffSide) kmsg.Request {
		return func(diffSide) kmsg.Request {
			req := kmsg.NewPtrDeleteRecordsRequest()
			req.TimeoutMillis = 10000
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition, rp.Offset = partition, offset
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return req
		}
	}
	for _, tc := range []struct {
		name      string
		topic     string
		partition int32
		offset    int64
	}{
		{"beyond the high watermark", "oracle-dr", 0, 10},
		{"unknown partition", "oracle-dr", 4, 1},
		{"unknown topic", "oracle-dr-missing", 0, 1},
		{"to offset 1", "oracle-dr", 0, 1},
		{"below the log start", "oracle-dr", 0, 0},
		{"to the high watermark (-1)", "oracle-dr", 0, -1},
	} {
		kr, sr := oracleAsk[*kmsg.DeleteRecordsResponse](t, o, del(tc.topic, tc.partition, tc.offset))
		oracleCompare(t, o, "DeleteRecords "+tc.name, kr, sr)
	}
	kr, sr := oracleAsk[*kmsg.ListOffsetsResponse](t, o, oracleListOffsetsReq("oracle-dr", 0, -2))
	oracleCompare(t, o, "ListOffsets earliest after DeleteRecords", kr, sr)
	kf, sf := oracleAsk[*kmsg.FetchResponse](t, o, func(side diffSide) kmsg.Request {
		req := protoFetch(16, "oracle-dr", 0, 0, 50, 0)
		req.Topics[0].TopicID = diffTopicID(side, t, "oracle-dr")
		return req
	})
	oracleCompare(t, o, "Fetch below the log start", kf, sf)

	kl, sl := oracleAsk[*kmsg.OffsetForLeaderEpochResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		for _, topic := range []string{"oracle-dr", "oracle-dr-missing"} {
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.CurrentLeaderEpoch, rp.LeaderEpoch = -1, 0
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		return req
	})
	oracleCompare(t, o, "OffsetForLeaderEpoch", kl, sl)
}

// oracleCluster compares DescribeCluster, DescribeLogDirs and the legacy
// AlterConfigs.
func oracleCluster(t *testing.T, o *oracleState) {
	kc, sc := oracleAsk[*kmsg.DescribeClusterResponse](t, o, func(diffSide) kmsg.Request { return kmsg.NewPtrDescribeClusterRequest() })
	oracleCompare(t, o, "DescribeCluster", kc, sc)

	kd, sd := oracleAsk[*kmsg.DescribeLogDirsResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrDescribeLogDirsRequest()
		rt := kmsg.NewDescribeLogDirsRequestTopic()
		rt.Topic, rt.Partitions = "oracle-fetch", []int32{0, 5}
		req.Topics = append(req.Topics, rt)
		return req
	})
	for _, r := range []*kmsg.DescribeLogDirsResponse{kd, sd} {
		for i := range r.Dirs {
			// Where each broker keeps its data, and its disk's size.
			r.Dirs[i].Dir, r.Dirs[i].TotalBytes, r.Dirs[i].UsableBytes = "", 0, 0
		}
	}
	oracleCompare(t, o, "DescribeLogDirs", kd, sd)

	ka, sa := oracleAsk[*kmsg.AlterConfigsResponse](t, o, func(diffSide) kmsg.Request {
		req := kmsg.NewPtrAlterConfigsRequest()
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "oracle-cfg"
		rc := kmsg.NewAlterConfigsRequestResourceConfig()
		rc.Name, rc.Value = "retention.ms", testutil.Str("never")
		rr.Configs = append(rr.Configs, rc)
		req.Resources = append(req.Resources, rr)
		return req
	})
	oracleCompare(t, o, "AlterConfigs invalid value", ka, sa)
}

// oracleDescribeTopicPartitions pages a topic of three partitions two at a
// time, names unknown and invalid topics, and sends the cursors Kafka
// refuses.
func oracleDescribeTopicPartitions(t *testing.T, o *oracleState) {
	oracleCreate(t, o, diffTopic("oracle-dtp", 3, 1))
	describe := func(limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, names ...string) func(diffSide) kmsg.Request {
		return func(diffSide) kmsg.Request {
			req := kmsg.NewPtrDescribeTopicPartitionsRequest()
			req.ResponsePartitionLimit, req.Cursor = limit, cursor
			for _, n := range names {
				rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
				rt.Topic = n
				req.Topics = append(req.Topics, rt)
			}
			return req
		}
	}
	cursor := func(topic string, partition int32) *kmsg.DescribeTopicPartitionsRequestCursor {
		return &kmsg.DescribeTopicPartitionsRequestCursor{Topic: topic, Partition: partition}
	}
	for _, tc := range []struct {
		name string
		req  func(diffSide) kmsg.Request
	}{
		{"first page", describe(2, nil, "oracle-dtp", "oracle-dtp-missing", "bad/name")},
		{"second page", describe(2, cursor("oracle-dtp", 2), "oracle-dtp", "oracle-dtp-missing")},
		{"limit 0", describe(0, nil, "oracle-dtp")},
		{"cursor not named", describe(10, cursor("oracle-dtp-other", 0), "oracle-dtp")},
		{"negative cursor", describe(10, cursor("oracle-dtp", -1), "oracle-dtp")},
	} {
		kr, sr := oracleAsk[*kmsg.DescribeTopicPartitionsResponse](t, o, tc.req)
		oracleCompare(t, o, "DescribeTopicPartitions "+tc.name, kr, sr)
	}
}

// oracleUpdateFeatures asks both for upgrades neither supports (both
// refuse: Kafka 4.4 finalizes metadata.version 4.4-IV0, Sluice 3.9-IV0,
// so an update to a level between would differ) and one to a feature
// unknown to both.
func oracleUpdateFeatures(t *testing.T, o *oracleState) {
	update := func(feature string, level int16, validateOnly bool) func(diffSide) kmsg.Request {
		return func(diffSide) kmsg.Request {
			req := kmsg.NewPtrUpdateFeaturesRequest()
			req.TimeoutMillis, req.ValidateOnly = 10000, validateOnly
			fu := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
			fu.Feature, fu.MaxVersionLevel, fu.UpgradeType = feature, level, 1
			req.FeatureUpdates = append(req.FeatureUpdates, fu)
			return req
		}
	}
	for _, tc := range []struct {
		name string
		req  func(diffSide) kmsg.Request
	}{
		{"metadata.version 99", update("metadata.version", 99, false)},
		{"metadata.version 99 validate only", update("metadata.version", 99, true)},
		{"unknown feature", update("oracle.version", 1, false)},
	} {
		kr, sr := oracleAsk[*kmsg.UpdateFeaturesResponse](t, o, tc.req)
		oracleCompare(t, o, "UpdateFeatures "+tc.name, kr, sr)
	}
}
