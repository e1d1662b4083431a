package group

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/record"
)

// The keys and values of the offsets topic are Kafka's own schemas; the
// package documentation lists the versions written and read.

// topicPartition names a committed partition.
type topicPartition struct {
	topic     string
	partition int32
}

// offset is one committed offset.
type offset struct {
	offset          int64
	leaderEpoch     int32
	metadata        string
	commitTimestamp int64
	// appendedAt is one past the commit's batch in the offsets topic (0
	// for offsets loaded at start, older than any write since): of two
	// commits of a partition that complete out of order, the later
	// append wins, as Kafka's CommitRecordMetadataAndOffset.olderThan.
	appendedAt int64
}

// keyValue is one record to append; a nil value is a tombstone.
type keyValue struct{ key, value []byte }

func offsetKey(group string, tp topicPartition) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version, k.Group, k.Topic, k.Partition = 1, group, tp.topic, tp.partition
	return k.AppendTo(nil)
}

func offsetValue(o offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version, v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = 3, o.offset, o.leaderEpoch, o.metadata, o.commitTimestamp
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version, k.Group = 2, group
	return k.AppendTo(nil)
}

// groupValue encodes a group's state as Kafka stores it after a rebalance.
// assignment, when not nil, replaces the members' current assignments.
func groupValue(g *group, assignment map[string][]byte) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version, v.ProtocolType, v.Generation = 3, g.protocolType, g.generation
	if g.protocol != "" {
		p := g.protocol
		v.Protocol = &p
	}
	if g.leader != "" {
		l := g.leader
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateSince.UnixMilli()
	for _, m := range g.sortedMembers() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.InstanceID, vm.ClientID, vm.ClientHost = m.id, m.instanceID, m.clientID, m.host
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		vm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		vm.Subscription, vm.Assignment = m.metadataFor(g.protocol), m.assignment
		if assignment != nil {
			vm.Assignment = assignment[m.id]
		}
		if vm.Subscription == nil {
			vm.Subscription = []byte{}
		}
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

// decodedKey is a parsed key of the offsets topic.
type decodedKey struct {
	group    string
	isOffset bool
	tp       topicPartition
}

// decodeKey parses a key; unknown versions are skipped by the caller, as
// Kafka skips them.
func decodeKey(b []byte) (decodedKey, bool, error) {
	if len(b) < 2 {
		return decodedKey{}, false, fmt.Errorf("key of %d bytes", len(b))
	}
	switch int16(binary.BigEndian.Uint16(b)) {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(b); err != nil {
			return decodedKey{}, false, err
		}
		return decodedKey{group: k.Group, isOffset: true, tp: topicPartition{k.Topic, k.Partition}}, true, nil
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(b); err != nil {
			return decodedKey{}, false, err
		}
		return decodedKey{group: k.Group}, true, nil
	}
	return decodedKey{}, false, nil
}

// buildBatch encodes records as an uncompressed RecordBatch v2 with no
// producer id, as Kafka's coordinator writes them: offsets 0..n-1, every
// record stamped nowMs, and no leader epoch (the leader stamps it on
// append). record frames and checksums it.
func buildBatch(records []keyValue, nowMs int64) []byte {
	batch := make([]record.Record, len(records))
	for i, r := range records {
		batch[i] = record.Record{OffsetDelta: int32(i), Key: r.key, Value: r.value}
	}
	h := record.Header{
		PartitionLeaderEpoch: record.NoPartitionLeaderEpoch,
		LastOffsetDelta:      int32(len(records) - 1),
		BaseTimestamp:        nowMs,
		ProducerID:           record.NoProducerID,
		ProducerEpoch:        record.NoProducerEpoch,
		BaseSequence:         record.NoSequence,
	}
	return record.BuildUncompressed(h, batch, nowMs)
}
