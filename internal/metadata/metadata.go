// Package metadata holds the cluster metadata: brokers, topics, their ids,
// partition assignments and leaders, config overrides and producer id
// blocks. It is a log of records (records.go) applied deterministically
// (apply.go) to an immutable Image that handlers read.
//
// The log is replicated by a Raft quorum of controller voters (package
// quorum); on a single node it is a quorum of one. Every node applies the
// same committed records in the same order, so every node holds the same
// Image at the same log index. A change is a proposal: the proposer waits
// until its record is applied locally and reads the outcome that apply
// decided, so an operation retried after a lost answer takes effect once
// (a second create of a name finds it taken). A proposer waits until its
// context is done, no longer.
//
// This package is the pure core: records (records.go), apply (apply.go),
// the Image, placement (place.go) and the Store that applies committed
// entries and matches proposals to their outcomes. It owns no goroutine,
// opens no file or socket and speaks no RPC: the Log it proposes to is an
// interface (package quorum's Raft node, package controller's Observer,
// or the MemoryLog of tests). It must not import a transport (net/http,
// an RPC encoding) nor any other package of the broker. What acts on the
// metadata over the network lives in package controller: the active
// controller's duties, broker registration and heartbeats, the observer
// that carries records to brokers without Raft state, and the import of
// an earlier version's metadata file.
package metadata

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// TopicID is Kafka's 16-byte topic UUID.
type TopicID [16]byte

// String is the URL-safe base64 form Kafka prints.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// MarshalText stores the id as Kafka prints it.
func (id TopicID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses Kafka's printed form.
func (id *TopicID) UnmarshalText(b []byte) error {
	// Decode panics when the text decodes to more than the id holds.
	if base64.RawURLEncoding.DecodedLen(len(b)) != len(id) {
		return fmt.Errorf("topic id %q is not 16 bytes of URL-safe base64", b)
	}
	n, err := base64.RawURLEncoding.Decode(id[:], b)
	if err != nil || n != len(id) {
		return fmt.Errorf("topic id %q is not 16 bytes of URL-safe base64", b)
	}
	return nil
}

// NoLeader is the leader of a partition whose replicas are all fenced.
const NoLeader int32 = -1

// Partition is one partition's placement. Replicas is the assignment;
// ISR holds the replicas known to have every acknowledged record, in
// replica order; Leader is NoLeader when no ISR member is live.
// LeaderEpoch grows with every leader change, PartitionEpoch with every
// change of the leader or the ISR (the version an AlterPartition names).
//
// Invariants: ISR is a non-empty subset of Replicas; a leader is a live
// ISR member; a fenced broker is in the ISR only as its sole member (it
// alone may hold the last acknowledged records), and then the partition
// has no leader.
type Partition struct {
	Replicas       []int32 `json:"replicas"`
	ISR            []int32 `json:"isr"`
	Leader         int32   `json:"leader"`
	LeaderEpoch    int32   `json:"leaderEpoch"`
	PartitionEpoch int32   `json:"partitionEpoch"`
	// AddingReplicas and RemovingReplicas describe a reassignment in
	// progress (Kafka's KRaft PartitionRecord fields): Replicas is then
	// the target followed by the replicas being removed. Both are empty
	// when no reassignment runs. See reassign.go.
	AddingReplicas   []int32 `json:"addingReplicas,omitempty"`
	RemovingReplicas []int32 `json:"removingReplicas,omitempty"`
}

// Topic is one topic in an Image. Images share Topics; never modify one.
// Invariant: len(Assignments) == Partitions.
type Topic struct {
	Name        string            `json:"name"`
	ID          TopicID           `json:"id"`
	Partitions  int32             `json:"partitions"`
	Configs     map[string]string `json:"configs,omitempty"`
	Assignments []Partition       `json:"assignments"`
}

// Leader returns partition p's leader, NoLeader if it has none or p is out
// of range.
func (t *Topic) Leader(p int32) int32 {
	if p < 0 || p >= t.Partitions {
		return NoLeader
	}
	return t.Assignments[p].Leader
}

// Hosts reports whether node is a replica of partition p.
func (t *Topic) Hosts(node, p int32) bool {
	return p >= 0 && p < t.Partitions && slices.Contains(t.Assignments[p].Replicas, node)
}

// Endpoint is one advertised listener of a broker.
type Endpoint struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int32  `json:"port"`
}

// Broker is a registered broker. Epoch is the log index of its latest
// registration: heartbeats and fencing name it, so a record about an
// earlier incarnation of the broker is ignored.
type Broker struct {
	ID          int32      `json:"id"`
	Epoch       uint64     `json:"epoch"`
	Incarnation string     `json:"incarnation,omitempty"`
	Endpoints   []Endpoint `json:"endpoints"`
	Rack        *string    `json:"rack,omitempty"`
	Fenced      bool       `json:"fenced"`
}

// Image is an immutable view of the metadata at one log index.
type Image struct {
	// Index is the last log index applied.
	Index          uint64
	ClusterID      string
	Topics         map[string]*Topic
	Brokers        map[int32]*Broker
	NextProducerID int64
	// ACLs are the ACL bindings by id; apply replaces the map, never
	// changes it, so readers of an image need no lock.
	ACLs map[string]*ACL
	// Scram are the SCRAM credentials by user and mechanism; apply
	// replaces the map, never changes it.
	Scram map[ScramKey]*ScramCredential
	// Features are the finalized feature levels by name (features.go),
	// none at level 0; apply replaces the map, never changes it.
	Features map[string]int16
	// FeaturesEpoch is the log index of the last FeatureLevel record, -1
	// before one.
	FeaturesEpoch int64

	byID map[TopicID]*Topic
	// ownTopics is set while apply builds this image and has cloned
	// Topics and byID from the previous one, so it may change them.
	ownTopics bool
}

// emptyImage is the image before the first record.
func emptyImage() *Image {
	return &Image{Topics: map[string]*Topic{}, Brokers: map[int32]*Broker{}, byID: map[TopicID]*Topic{}, FeaturesEpoch: -1}
}

// TopicByID looks a topic up by id.
func (im *Image) TopicByID(id TopicID) (*Topic, bool) {
	t, ok := im.byID[id]
	return t, ok
}

// SortedTopics returns the topics by name.
func (im *Image) SortedTopics() []*Topic {
	ts := slices.Collect(maps.Values(im.Topics))
	slices.SortFunc(ts, func(a, b *Topic) int { return strings.Compare(a.Name, b.Name) })
	return ts
}

// LiveBrokers returns the unfenced brokers by id.
func (im *Image) LiveBrokers() []*Broker {
	var bs []*Broker
	for _, id := range slices.Sorted(maps.Keys(im.Brokers)) {
		if b := im.Brokers[id]; !b.Fenced {
			bs = append(bs, b)
		}
	}
	return bs
}

// Endpoint returns broker id's advertised listener named name (the first
// one when name is empty).
func (im *Image) Endpoint(id int32, name string) (Endpoint, bool) {
	b, ok := im.Brokers[id]
	if !ok || b.Fenced {
		return Endpoint{}, false
	}
	for _, e := range b.Endpoints {
		if name == "" || e.Name == name {
			return e, true
		}
	}
	return Endpoint{}, false
}

func newID() TopicID {
	var id TopicID
	for id == (TopicID{}) {
		rand.Read(id[:])
	}
	return id
}
