// Package admin is the operator's view of the broker, in process: what the
// HTTP admin API, the web console and the metrics scrape read (topics,
// partitions' offsets and sizes, records, groups and their lag) and the
// changes they make (create and delete topic).
//
// It reads the same state the Kafka handlers read, and its changes go
// through the broker's protocol.Handler as CreateTopics and DeleteTopics
// requests, so the rules and errors are the same whichever way a user
// comes in. It must not import handler (it is given a protocol.Handler)
// and it writes nothing itself.
package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/replica"
	"github.com/sluice-dev/sluice/internal/topics"
)

const (
	// AdminRecordsMax bounds the records one ReadRecords returns.
	AdminRecordsMax = 500
	// adminReadBytes is how much log one ReadRecords step reads.
	adminReadBytes = 1 << 20
	// adminReadSteps bounds the reads of one ReadRecords, so a log of
	// control batches or empty batches cannot keep it looping.
	adminReadSteps = 64
	// adminDecompressedBytesMax bounds what one batch may decompress to.
	adminDecompressedBytesMax = 64 << 20
	// adminGroupsMax bounds the groups one listing describes.
	adminGroupsMax = 10000
	// adminClientID is the client id of the requests Admin sends the
	// handler, as it would appear in logs.
	adminClientID = "sluice-admin"
	// changeTimeoutMillis is the TimeoutMillis of the console's topic
	// changes: the wait of a change that has no timeout of its own.
	changeTimeoutMillis = int32(topics.ChangeWaitMax / time.Millisecond)
)

// Broker is what the operator view reads and goes through.
type Broker struct {
	NodeID   int32
	Host     string // advertised
	Port     int32  // advertised
	Meta     *metadata.Store
	Replicas *replica.Manager
	Groups   *group.Coordinator
	Topics   *topics.Registry
	// Kafka answers the CreateTopics and DeleteTopics requests the
	// operator's changes become.
	Kafka protocol.Handler
}

// Admin reads and manages the broker for operators.
type Admin struct{ b Broker }

// New returns the operator view of a broker.
func New(b Broker) *Admin { return &Admin{b: b} }

// NodeID is this broker's node.id.
func (a *Admin) NodeID() int32 { return a.b.NodeID }

// ClusterID is the cluster's id.
func (a *Admin) ClusterID() string { return a.b.Meta.Image().ClusterID }

// Endpoint is the advertised Kafka host:port.
func (a *Admin) Endpoint() string { return fmt.Sprintf("%s:%d", a.b.Host, a.b.Port) }

// HasTopic reports whether a topic exists (metrics.Source).
func (a *Admin) HasTopic(name string) bool {
	_, ok := a.b.Meta.Image().Topics[name]
	return ok
}

// Partitions calls fn for every hosted partition (metrics.Source).
func (a *Admin) Partitions(fn func(metrics.PartitionState)) {
	a.b.Replicas.Each(func(p *replica.Partition) {
		fn(metrics.PartitionState{Topic: p.Topic, Partition: p.Index,
			LogStartOffset: p.LogStartOffset(), HighWatermark: p.HighWatermark(), LogEndOffset: p.LogEndOffset(), SizeBytes: p.Size()})
	})
}

// Cluster counts brokers, topics and leaderless partitions in this node's
// metadata, and the partitions this node leads (metrics.Source).
func (a *Admin) Cluster() metrics.ClusterState {
	return clusterState(a.b.Meta.Image(), a.b.NodeID, a.b.Meta.Leader() == a.b.NodeID)
}

// clusterState is Cluster over one image, for node.
func clusterState(im *metadata.Image, node int32, activeController bool) metrics.ClusterState {
	cs := metrics.ClusterState{ActiveController: activeController, Topics: len(im.Topics)}
	for _, b := range im.Brokers {
		if b.Fenced {
			cs.FencedBrokers++
		} else {
			cs.ActiveBrokers++
		}
	}
	for _, t := range im.Topics {
		cs.Partitions += int(t.Partitions)
		for _, p := range t.Assignments {
			switch {
			case p.Leader == metadata.NoLeader:
				cs.NoLeaderParts++
			case p.Leader == node:
				cs.Leaders++
				if underReplicated(p) {
					cs.UnderReplicated++
				}
			}
		}
	}
	return cs
}

// underReplicated reports whether a partition's ISR is smaller than its
// replica set, as Kafka's UnderReplicatedPartitions counts.
func underReplicated(p metadata.Partition) bool { return len(p.ISR) < len(p.Replicas) }

// ISRChanges counts the ISR changes between two images of the partitions
// node leads in both under one leader epoch: a partition whose ISR lost
// members counts one shrink, one that gained members one expansion. A
// leader change is not counted (the new leader did not change the ISR).
// The broker calls it on every image it observes; images it did not see
// (several changes between two looks) are not counted apart.
func ISRChanges(prev, next *metadata.Image, node int32) (shrinks, expands int) {
	for name, t := range next.Topics {
		pt, ok := prev.Topics[name]
		if !ok || pt == t || pt.ID != t.ID {
			continue // new, unchanged or recreated
		}
		for i := range min(len(pt.Assignments), len(t.Assignments)) {
			before, after := pt.Assignments[i], t.Assignments[i]
			if before.Leader != node || after.Leader != node || before.LeaderEpoch != after.LeaderEpoch {
				continue
			}
			if slices.ContainsFunc(before.ISR, func(r int32) bool { return !slices.Contains(after.ISR, r) }) {
				shrinks++
			}
			if slices.ContainsFunc(after.ISR, func(r int32) bool { return !slices.Contains(before.ISR, r) }) {
				expands++
			}
		}
	}
	return shrinks, expands
}

// ControllerSource is the metrics.Source of a node that is a controller
// and not a broker: the cluster as its metadata sees it (the controller
// metrics: active controller, brokers, topics, offline partitions), and
// no partitions or groups, which it does not host.
type ControllerSource struct {
	Meta   *metadata.Store
	NodeID int32
}

// HasTopic reports whether a topic exists.
func (c ControllerSource) HasTopic(name string) bool {
	_, ok := c.Meta.Image().Topics[name]
	return ok
}

// Partitions calls fn for none: a controller hosts no partition.
func (c ControllerSource) Partitions(fn func(metrics.PartitionState)) {}

// GroupOffsets returns nothing: a controller coordinates no group.
func (c ControllerSource) GroupOffsets(context.Context) []metrics.GroupOffset { return nil }

// Cluster counts brokers, topics and leaderless partitions.
func (c ControllerSource) Cluster() metrics.ClusterState {
	return clusterState(c.Meta.Image(), c.NodeID, c.Meta.Leader() == c.NodeID)
}

// GroupOffsets returns every group's committed offsets (metrics.Source).
func (a *Admin) GroupOffsets(ctx context.Context) []metrics.GroupOffset {
	groups, code := a.b.Groups.ListGroups(ctx, nil)
	if code != 0 {
		return nil
	}
	var out []metrics.GroupOffset
	for _, g := range groups[:min(len(groups), adminGroupsMax)] {
		offsets, code := a.b.Groups.FetchOffsets(ctx, g.Group, nil)
		if code != 0 {
			continue
		}
		for _, to := range offsets {
			for _, po := range to.Partitions {
				out = append(out, metrics.GroupOffset{Group: g.Group, Topic: to.Topic, Partition: po.Partition, Offset: po.Offset})
			}
		}
	}
	return out
}

// TopicInfo describes a topic.
type TopicInfo struct {
	Name       string          `json:"name"`
	ID         string          `json:"id"`
	Internal   bool            `json:"internal"`
	Partitions []PartitionInfo `json:"partitions"`
	Configs    []ConfigEntry   `json:"configs,omitempty"`
	// UnderReplicated counts the partitions whose ISR is smaller than
	// their replica set, Offline those without a leader.
	UnderReplicated int `json:"underReplicated"`
	Offline         int `json:"offline"`
}

// PartitionInfo is one partition's placement from the metadata, and its
// offsets and size on disk when this broker hosts it (-1 otherwise).
type PartitionInfo struct {
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"` // -1: none (offline)
	Replicas  []int32 `json:"replicas"`
	ISR       []int32 `json:"isr"`
	// OfflineReplicas are the replicas whose broker is fenced or not
	// registered.
	OfflineReplicas []int32 `json:"offlineReplicas"`
	UnderReplicated bool    `json:"underReplicated"`
	LogStartOffset  int64   `json:"logStartOffset"`
	HighWatermark   int64   `json:"highWatermark"`
	LogEndOffset    int64   `json:"logEndOffset"`
	SizeBytes       int64   `json:"sizeBytes"`
}

// ConfigEntry is one topic config with where its value came from.
type ConfigEntry struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// ErrUnknownTopic wraps kerr.UnknownTopicOrPartition for a topic that does
// not exist.
var ErrUnknownTopic = fmt.Errorf("%w: the topic does not exist", kerr.UnknownTopicOrPartition)

// Topics lists every topic by name, with partitions but not configs.
func (a *Admin) Topics() []TopicInfo {
	im := a.b.Meta.Image()
	out := make([]TopicInfo, 0, len(im.Topics))
	for _, t := range im.SortedTopics() {
		out = append(out, a.topicInfo(im, t))
	}
	return out
}

// Topic describes one topic with its configs.
func (a *Admin) Topic(name string) (TopicInfo, error) {
	im := a.b.Meta.Image()
	t, ok := im.Topics[name]
	if !ok {
		return TopicInfo{}, ErrUnknownTopic
	}
	info := a.topicInfo(im, t)
	info.Configs = []ConfigEntry{}
	a.b.Topics.Settings(t).Config.Each(func(d *config.Def, value string, source config.Source) {
		e := ConfigEntry{Name: d.Name, Value: value, Source: source.String(), Sensitive: d.Sensitive}
		if d.Sensitive {
			e.Value = ""
		}
		info.Configs = append(info.Configs, e)
	})
	return info, nil
}

func (a *Admin) topicInfo(im *metadata.Image, t *metadata.Topic) TopicInfo {
	info := TopicInfo{Name: t.Name, ID: t.ID.String(), Internal: group.IsInternalTopic(t.Name), Partitions: []PartitionInfo{}}
	for i, as := range t.Assignments {
		pi := partitionInfo(im, int32(i), as)
		if pi.UnderReplicated {
			info.UnderReplicated++
		}
		if pi.Leader == metadata.NoLeader {
			info.Offline++
		}
		if p, ok := a.b.Replicas.Get(t.Name, pi.Partition); ok {
			pi.LogStartOffset, pi.HighWatermark, pi.LogEndOffset = p.LogStartOffset(), p.HighWatermark(), p.LogEndOffset()
			pi.SizeBytes = p.Size()
		}
		info.Partitions = append(info.Partitions, pi)
	}
	return info
}

// partitionInfo is a partition's placement and ISR health in im, without
// offsets. A leader that is not live counts as none, as Metadata answers.
func partitionInfo(im *metadata.Image, index int32, p metadata.Partition) PartitionInfo {
	pi := PartitionInfo{Partition: index, Leader: p.Leader, Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR),
		OfflineReplicas: []int32{}, UnderReplicated: underReplicated(p), LogStartOffset: -1, HighWatermark: -1, LogEndOffset: -1}
	if pi.Replicas == nil {
		pi.Replicas = []int32{}
	}
	if pi.ISR == nil {
		pi.ISR = []int32{}
	}
	if !im.Live(p.Leader) {
		pi.Leader = metadata.NoLeader
	}
	for _, r := range p.Replicas {
		if !im.Live(r) {
			pi.OfflineReplicas = append(pi.OfflineReplicas, r)
		}
	}
	return pi
}

// CreateTopic creates a topic as a CreateTopics request would; -1
// partitions takes num.partitions. Errors wrap the Kafka error.
func (a *Admin) CreateTopic(name string, partitions int32, configs map[string]string) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, -1
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		v := configs[k]
		c.Name, c.Value = k, &v
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = changeTimeoutMillis
	st := a.roundTrip(req).(*kmsg.CreateTopicsResponse).Topics[0]
	return kafkaError(st.ErrorCode, st.ErrorMessage)
}

// DeleteTopic deletes a topic as a DeleteTopics request would.
func (a *Admin) DeleteTopic(name string) error {
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 5
	req.TopicNames = []string{name}
	req.TimeoutMillis = changeTimeoutMillis
	st := a.roundTrip(req).(*kmsg.DeleteTopicsResponse).Topics[0]
	if st.ErrorCode == kerr.UnknownTopicOrPartition.Code {
		return ErrUnknownTopic
	}
	return kafkaError(st.ErrorCode, st.ErrorMessage)
}

// roundTrip answers a request as a client's would be, waiting for the
// reply if it waits. Operator changes come from the broker itself, so
// they carry the anonymous principal until the HTTP API authenticates
// its users.
func (a *Admin) roundTrip(req kmsg.Request) kmsg.Response {
	ctx := context.Background()
	reply := a.b.Kafka.Handle(ctx, &protocol.Request{Msg: req, ClientID: adminClientID, Principal: protocol.Anonymous})
	if reply.Wait != nil {
		return reply.Wait(ctx)
	}
	return reply.Msg
}

// kafkaError turns a response's error code and message into an error that
// wraps the *kerr.Error.
func kafkaError(code int16, message *string) error {
	err := kerr.ErrorForCode(code)
	if err == nil {
		return nil
	}
	if message != nil && *message != "" {
		// Handler messages already start with the error's name.
		return fmt.Errorf("%w: %s", err, strings.TrimPrefix(*message, err.Error()+": "))
	}
	return err
}

// OffsetForTimestamp returns the first offset of a partition whose record
// timestamp is at least timestamp (unix ms), or the high watermark when
// no record is that new.
func (a *Admin) OffsetForTimestamp(topic string, partition int32, timestamp int64) (int64, error) {
	p, ok := a.b.Replicas.Get(topic, partition)
	if !ok {
		return 0, ErrUnknownTopic
	}
	off, _, found, err := p.OffsetForTimestamp(timestamp)
	if err != nil {
		return 0, err
	}
	if !found {
		return p.HighWatermark(), nil
	}
	return off, nil
}

// Record is one record as read for an operator.
type Record struct {
	Partition int32
	Offset    int64
	Timestamp int64  // unix ms
	Key       []byte // nil when null
	Value     []byte // nil when null
	Headers   []record.RecordHeader
}

// Records is a ReadRecords answer.
type Records struct {
	LogStartOffset int64
	HighWatermark  int64
	Records        []Record
	NextOffset     int64 // where to read on from
}

// ReadRecords returns up to limit committed records of a partition from
// offset on (an offset below the log start reads from the log start).
// Control records are skipped.
func (a *Admin) ReadRecords(topic string, partition int32, offset int64, limit int) (Records, error) {
	p, ok := a.b.Replicas.Get(topic, partition)
	if !ok {
		return Records{}, ErrUnknownTopic
	}
	limit = min(max(limit, 1), AdminRecordsMax)
	logStart, hw := p.LogStartOffset(), p.HighWatermark()
	out := Records{LogStartOffset: logStart, HighWatermark: hw, Records: []Record{}}
	next := max(offset, logStart)
	for range adminReadSteps {
		if next >= hw || len(out.Records) >= limit {
			break
		}
		b, err := p.Read(next, adminReadBytes, true)
		if errors.Is(err, replica.ErrOffsetOutOfRange) {
			// Retention moved the log start past next meanwhile.
			logStart, hw = p.LogStartOffset(), p.HighWatermark()
			next = max(next, logStart)
			continue
		}
		if err != nil {
			return out, err
		}
		if len(b) == 0 {
			break
		}
		if next, err = appendRecords(&out.Records, b, partition, next, hw, limit); err != nil {
			return out, err
		}
	}
	out.NextOffset = next
	return out, nil
}

// appendRecords decodes the batches of b into records at or after from,
// below hw, until limit. It returns the offset to read next.
func appendRecords(out *[]Record, b []byte, partition int32, from, hw int64, limit int) (int64, error) {
	next := from
	for len(b) > 0 && len(*out) < limit {
		batch, rest, err := record.Next(b)
		if err != nil {
			return next, err
		}
		b = rest
		h, err := record.ValidateStored(batch)
		if err != nil {
			return next, err
		}
		if h.Control() {
			next = max(next, h.NextOffset())
			continue
		}
		err = record.Records(batch, adminDecompressedBytesMax, func(r record.Record) bool {
			off := h.BaseOffset + int64(r.OffsetDelta)
			if off < from {
				return true
			}
			if off >= hw || len(*out) >= limit {
				return false
			}
			*out = append(*out, Record{Partition: partition, Offset: off, Timestamp: h.Timestamp(r),
				Key: slices.Clone(r.Key), Value: slices.Clone(r.Value), Headers: cloneHeaders(r.Headers)})
			next = off + 1
			return true
		})
		if err != nil {
			return next, err
		}
		if len(*out) < limit {
			next = max(next, min(h.NextOffset(), hw))
		}
	}
	return next, nil
}

func cloneHeaders(hs []record.RecordHeader) []record.RecordHeader {
	out := make([]record.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = record.RecordHeader{Key: h.Key, Value: slices.Clone(h.Value)}
	}
	return out
}

// GroupSummary is one group in a listing.
type GroupSummary struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocolType"`
	Members      int    `json:"members"`
	TotalLag     int64  `json:"totalLag"`
}

// GroupInfo describes a group: its members and its per-partition lag.
type GroupInfo struct {
	Group        string           `json:"group"`
	State        string           `json:"state"`
	ProtocolType string           `json:"protocolType"`
	Protocol     string           `json:"protocol"`
	Members      []MemberInfo     `json:"members"`
	Offsets      []GroupPartition `json:"offsets"`
	TotalLag     int64            `json:"totalLag"`
}

// MemberInfo is one group member and, for consumer groups, what it was
// assigned.
type MemberInfo struct {
	MemberID    string             `json:"memberId"`
	InstanceID  *string            `json:"instanceId"`
	ClientID    string             `json:"clientId"`
	ClientHost  string             `json:"clientHost"`
	Assignments map[string][]int32 `json:"assignments"`
}

// GroupPartition is a group's position on one partition, with the columns
// of kafka-consumer-groups --describe. CurrentOffset and Lag are -1 for an
// assigned partition without a commit.
type GroupPartition struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	CurrentOffset int64  `json:"currentOffset"`
	LogEndOffset  int64  `json:"logEndOffset"`
	Lag           int64  `json:"lag"`
	MemberID      string `json:"memberId,omitempty"`
	ClientID      string `json:"clientId,omitempty"`
	Host          string `json:"host,omitempty"`
}

// ErrUnknownGroup is returned for a group that does not exist.
var ErrUnknownGroup = fmt.Errorf("%w: the group does not exist", kerr.GroupIDNotFound)

// Groups lists the groups with their member counts and total lag.
func (a *Admin) Groups(ctx context.Context) ([]GroupSummary, error) {
	groups, code := a.b.Groups.ListGroups(ctx, nil)
	if err := kerr.ErrorForCode(code); err != nil {
		return nil, err
	}
	out := []GroupSummary{}
	for _, g := range groups[:min(len(groups), adminGroupsMax)] {
		info, err := a.Group(ctx, g.Group)
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, GroupSummary{Group: g.Group, State: info.State, ProtocolType: info.ProtocolType,
			Members: len(info.Members), TotalLag: info.TotalLag})
	}
	return out, nil
}

// Group describes one group.
func (a *Admin) Group(ctx context.Context, id string) (GroupInfo, error) {
	d := a.b.Groups.DescribeGroup(ctx, id)
	if err := kerr.ErrorForCode(d.ErrorCode); err != nil {
		return GroupInfo{}, err
	}
	offsets, code := a.b.Groups.FetchOffsets(ctx, id, nil)
	if err := kerr.ErrorForCode(code); err != nil {
		return GroupInfo{}, err
	}
	if d.State == group.StateDead.String() && len(offsets) == 0 {
		return GroupInfo{}, ErrUnknownGroup
	}
	info := GroupInfo{Group: id, State: d.State, ProtocolType: d.ProtocolType, Protocol: d.Protocol,
		Members: []MemberInfo{}, Offsets: []GroupPartition{}}
	owners := map[topicPartitionKey]*MemberInfo{}
	for _, m := range d.Members {
		mi := MemberInfo{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost,
			Assignments: map[string][]int32{}}
		if d.ProtocolType == "consumer" && len(m.MemberAssignment) > 0 {
			var as kmsg.ConsumerMemberAssignment
			if as.ReadFrom(m.MemberAssignment) == nil {
				for _, t := range as.Topics {
					mi.Assignments[t.Topic] = append(mi.Assignments[t.Topic], t.Partitions...)
				}
			}
		}
		info.Members = append(info.Members, mi)
	}
	for i := range info.Members {
		for topic, parts := range info.Members[i].Assignments {
			for _, p := range parts {
				owners[topicPartitionKey{topic, p}] = &info.Members[i]
			}
		}
	}
	committed := map[topicPartitionKey]bool{}
	for _, to := range offsets {
		for _, po := range to.Partitions {
			committed[topicPartitionKey{to.Topic, po.Partition}] = true
			info.Offsets = append(info.Offsets, a.groupPartition(to.Topic, po.Partition, po.Offset, owners))
		}
	}
	for tp := range owners {
		if !committed[tp] {
			info.Offsets = append(info.Offsets, a.groupPartition(tp.topic, tp.partition, -1, owners))
		}
	}
	slices.SortFunc(info.Offsets, func(x, y GroupPartition) int {
		if c := strings.Compare(x.Topic, y.Topic); c != 0 {
			return c
		}
		return int(x.Partition - y.Partition)
	})
	for _, o := range info.Offsets {
		info.TotalLag += max(o.Lag, 0)
	}
	return info, nil
}

type topicPartitionKey struct {
	topic     string
	partition int32
}

func (a *Admin) groupPartition(topic string, partition int32, offset int64, owners map[topicPartitionKey]*MemberInfo) GroupPartition {
	gp := GroupPartition{Topic: topic, Partition: partition, CurrentOffset: offset, LogEndOffset: -1, Lag: -1}
	if p, ok := a.b.Replicas.Get(topic, partition); ok {
		gp.LogEndOffset = p.HighWatermark() // the high watermark, as Kafka's tool shows
		if offset >= 0 {
			gp.Lag = metrics.Lag(gp.LogEndOffset, offset)
		}
	}
	if m := owners[topicPartitionKey{topic, partition}]; m != nil {
		gp.MemberID, gp.ClientID, gp.Host = m.MemberID, m.ClientID, m.ClientHost
	}
	return gp
}
