package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Each Raft entry carries one Entry: a request id, so the proposer can find
// the outcome of its own record, and exactly one record. Records are JSON:
// metadata changes are rare and small, and a readable log helps operators.
//
//	{"req":"2-1b7c…-17","record":{"createTopic":{"name":"orders","id":"…","replicas":[[1],[2],[3]]}}}
//
// Records say what was asked, not what follows from it: apply derives
// partition leaders from broker fencing, so two nodes cannot disagree.

// EntryBytesMax bounds one encoded entry, as the quorum bounds a proposal
// (a CreateTopics of the largest allowed partition count with replica
// lists fits well below).
const EntryBytesMax = 1 << 20

// Entry is one proposal.
type Entry struct {
	Req    string `json:"req"`
	Record Record `json:"record"`
}

// Record is one metadata change; exactly one field is set.
type Record struct {
	Cluster          *ClusterRecord          `json:"cluster,omitempty"`
	RegisterBroker   *RegisterBrokerRecord   `json:"registerBroker,omitempty"`
	FenceBroker      *FenceBrokerRecord      `json:"fenceBroker,omitempty"`
	CreateTopic      *CreateTopicRecord      `json:"createTopic,omitempty"`
	DeleteTopic      *DeleteTopicRecord      `json:"deleteTopic,omitempty"`
	CreatePartitions *CreatePartitionsRecord `json:"createPartitions,omitempty"`
	SetConfigs       *SetConfigsRecord       `json:"setConfigs,omitempty"`
	ProducerIDs      *ProducerIDsRecord      `json:"producerIds,omitempty"`
	AlterPartition   *AlterPartitionRecord   `json:"alterPartition,omitempty"`
	ElectLeader      *ElectLeaderRecord      `json:"electLeader,omitempty"`
	CreateACLs       *CreateACLsRecord       `json:"createAcls,omitempty"`
	DeleteACLs       *DeleteACLsRecord       `json:"deleteAcls,omitempty"`
	ScramCredentials *ScramCredentialsRecord `json:"scramCredentials,omitempty"`
	Reassign         *ReassignRecord         `json:"reassign,omitempty"`
	UnregisterBroker *UnregisterBrokerRecord `json:"unregisterBroker,omitempty"`
	FeatureLevel     *FeatureLevelRecord     `json:"featureLevel,omitempty"`
}

// ClusterRecord names the cluster; the first one wins. Features are the
// feature levels a new cluster starts with (features.go); they are
// applied only while no feature is finalized, so a cluster created before
// feature levels existed gets them from its next ClusterRecord.
type ClusterRecord struct {
	ID       string           `json:"id"`
	Features map[string]int16 `json:"features,omitempty"`
}

// RegisterBrokerRecord registers (or re-registers) a live broker.
type RegisterBrokerRecord struct {
	ID int32 `json:"id"`
	// Incarnation is random per broker process: a second process with the
	// same node.id has another one.
	Incarnation string     `json:"incarnation,omitempty"`
	Endpoints   []Endpoint `json:"endpoints"`
	Rack        *string    `json:"rack,omitempty"`
}

// FenceBrokerRecord fences a broker that stopped heartbeating, or unfences
// it when it heartbeats again. Epoch must match the broker's registration.
type FenceBrokerRecord struct {
	ID     int32  `json:"id"`
	Epoch  uint64 `json:"epoch"`
	Fenced bool   `json:"fenced"`
}

// CreateTopicRecord creates a topic; Replicas[i] is partition i's
// assignment, chosen by the proposer.
type CreateTopicRecord struct {
	Name     string            `json:"name"`
	ID       TopicID           `json:"id"`
	Configs  map[string]string `json:"configs,omitempty"`
	Replicas [][]int32         `json:"replicas"`
}

// DeleteTopicRecord deletes a topic.
type DeleteTopicRecord struct {
	ID   TopicID `json:"id"`
	Name string  `json:"name"`
}

// CreatePartitionsRecord grows a topic from From partitions by
// len(Replicas). From makes a retried request fail instead of growing the
// topic twice.
type CreatePartitionsRecord struct {
	ID       TopicID   `json:"id"`
	From     int32     `json:"from"`
	Replicas [][]int32 `json:"replicas"`
}

// SetConfigsRecord replaces a topic's config overrides.
type SetConfigsRecord struct {
	ID      TopicID           `json:"id"`
	Configs map[string]string `json:"configs"`
}

// ProducerIDsRecord hands a block of Count producer ids to a broker.
type ProducerIDsRecord struct {
	Broker int32 `json:"broker"`
	Count  int64 `json:"count"`
}

// AlterPartitionRecord is a partition leader's request to replace the
// partition's ISR (Kafka's AlterPartition). It names the leader's view
// (broker epoch, leader epoch, partition epoch) so that apply refuses a
// request from a leader that was replaced or that saw an older ISR.
type AlterPartitionRecord struct {
	TopicID        TopicID `json:"topicId"`
	Partition      int32   `json:"partition"`
	Leader         int32   `json:"leader"`         // the proposing leader
	BrokerEpoch    uint64  `json:"brokerEpoch"`    // its registration epoch
	LeaderEpoch    int32   `json:"leaderEpoch"`    // the leader epoch it leads in
	PartitionEpoch int32   `json:"partitionEpoch"` // the partition epoch it last saw
	ISR            []int32 `json:"isr"`            // proposed ISR, leader included
}

// ElectLeaderRecord asks for a leader election in one partition, as
// Kafka's ElectLeaders does: the preferred election makes the first
// replica lead if it is a live ISR member; the unclean election gives a
// leaderless partition a leader, from the ISR if one is live, else any
// live replica (which becomes the whole ISR: records acknowledged only by
// the old ISR may be lost).
type ElectLeaderRecord struct {
	TopicID   TopicID `json:"topicId"`
	Partition int32   `json:"partition"`
	Unclean   bool    `json:"unclean,omitempty"`
}

// encodeEntry encodes a proposal.
func encodeEntry(e *Entry) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	if len(b) > EntryBytesMax {
		return nil, fmt.Errorf("metadata record of %d bytes exceeds %d", len(b), EntryBytesMax)
	}
	return b, nil
}

// decodeEntry decodes a committed entry. A record with no field set, or
// with two, is rejected: apply would not know what it means.
func decodeEntry(b []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode metadata record: %w", err)
	}
	r := &e.Record
	set := 0
	for _, present := range []bool{r.Cluster != nil, r.RegisterBroker != nil, r.FenceBroker != nil,
		r.CreateTopic != nil, r.DeleteTopic != nil, r.CreatePartitions != nil, r.SetConfigs != nil, r.ProducerIDs != nil,
		r.AlterPartition != nil, r.ElectLeader != nil, r.CreateACLs != nil, r.DeleteACLs != nil, r.ScramCredentials != nil,
		r.Reassign != nil, r.UnregisterBroker != nil, r.FeatureLevel != nil} {
		if present {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New("metadata record must set exactly one kind")
	}
	return &e, nil
}
