package record

import (
	"encoding/binary"
	"fmt"
)

// ControlType is the type of a control record, the int16 in its key
// (Kafka's ControlRecordType). Types other than ABORT and COMMIT belong to
// Kafka's Raft metadata log and never appear in a partition's log; readers
// skip types they do not know, as Kafka's consumers do.
type ControlType int16

// The control types of transaction markers.
const (
	ControlAbort  ControlType = 0
	ControlCommit ControlType = 1
)

// String is the type's name as Kafka spells it.
func (t ControlType) String() string {
	switch t {
	case ControlAbort:
		return "ABORT"
	case ControlCommit:
		return "COMMIT"
	default:
		return fmt.Sprintf("CONTROL(%d)", int16(t))
	}
}

// The control record key and the end transaction marker value, both
// version 0; see the package documentation for their bytes. Later versions
// may only append fields, so a reader takes a longer or newer key or value
// as version 0, as Kafka does.
const (
	controlKeyVersion     = 0
	controlKeySize        = 4 // version int16, type int16
	endTxnMarkerVersion   = 0
	endTxnMarkerValueSize = 6 // version int16, coordinatorEpoch int32
)

// controlBatchDecompressedMax bounds what ReadEndTxnMarker decompresses:
// a marker's one record is 17 bytes, so anything near this is not one.
const controlBatchDecompressedMax = 1 << 10

// EndTxnMarker is the control record a transaction coordinator writes to
// every partition of a transaction when the transaction ends: COMMIT makes
// the producer's transactional records visible to read_committed
// consumers, ABORT hides them. CoordinatorEpoch fences the markers of a
// coordinator that has since been replaced.
type EndTxnMarker struct {
	Type             ControlType
	CoordinatorEpoch int32
}

// BuildEndTxnMarker encodes m as the control batch Kafka's
// MemoryRecords.withEndTransactionMarker writes: attributes transactional
// and control, CreateTime, no compression; the producer's id and epoch;
// baseSequence NoSequence; one record at offset delta 0 whose timestamp,
// and the batch's, is timestamp. baseOffset is 0 and the leader epoch
// NoPartitionLeaderEpoch: the leader stamps both when it appends. A type
// other than ABORT or COMMIT is a bug of the caller and panics.
func BuildEndTxnMarker(producerID int64, producerEpoch int16, m EndTxnMarker, timestamp int64) []byte {
	if m.Type != ControlAbort && m.Type != ControlCommit {
		panic(fmt.Sprintf("record: end transaction marker of type %v", m.Type))
	}
	key := make([]byte, controlKeySize)
	binary.BigEndian.PutUint16(key, controlKeyVersion)
	binary.BigEndian.PutUint16(key[2:], uint16(m.Type))
	value := make([]byte, endTxnMarkerValueSize)
	binary.BigEndian.PutUint16(value, endTxnMarkerVersion)
	binary.BigEndian.PutUint32(value[2:], uint32(m.CoordinatorEpoch))
	h := Header{
		PartitionLeaderEpoch: NoPartitionLeaderEpoch,
		Attributes:           transactionalFlag | controlFlag,
		LastOffsetDelta:      0,
		BaseTimestamp:        timestamp,
		ProducerID:           producerID,
		ProducerEpoch:        producerEpoch,
		BaseSequence:         NoSequence,
	}
	return BuildUncompressed(h, []Record{{Key: key, Value: value}}, timestamp)
}

// ParseControlType decodes the key of a control record. It fails with
// ErrInvalidRecord when the key is too short or its version negative, as
// Kafka's ControlRecordType.parseTypeId does; a type it does not know is
// returned as it is, for the caller to skip.
func ParseControlType(key []byte) (ControlType, error) {
	if len(key) < controlKeySize {
		return 0, fmt.Errorf("%w: control record key of %d bytes, needs %d", ErrInvalidRecord, len(key), controlKeySize)
	}
	if version := int16(binary.BigEndian.Uint16(key)); version < 0 {
		return 0, fmt.Errorf("%w: control record key version %d", ErrInvalidRecord, version)
	}
	return ControlType(binary.BigEndian.Uint16(key[2:])), nil
}

// ParseEndTxnMarker decodes the key and value of a transaction marker's
// control record. It fails with ErrInvalidRecord when the key is not an
// ABORT or COMMIT key or the value is too short or of a negative version.
func ParseEndTxnMarker(key, value []byte) (EndTxnMarker, error) {
	t, err := ParseControlType(key)
	if err != nil {
		return EndTxnMarker{}, err
	}
	if t != ControlAbort && t != ControlCommit {
		return EndTxnMarker{}, fmt.Errorf("%w: control type %v is not a transaction marker", ErrInvalidRecord, t)
	}
	if len(value) < endTxnMarkerValueSize {
		return EndTxnMarker{}, fmt.Errorf("%w: end transaction marker value of %d bytes, needs %d", ErrInvalidRecord, len(value), endTxnMarkerValueSize)
	}
	if version := int16(binary.BigEndian.Uint16(value)); version < 0 {
		return EndTxnMarker{}, fmt.Errorf("%w: end transaction marker version %d", ErrInvalidRecord, version)
	}
	return EndTxnMarker{Type: t, CoordinatorEpoch: int32(binary.BigEndian.Uint32(value[2:]))}, nil
}

// ReadEndTxnMarker checks a stored control batch and decodes the marker
// in its first record, as Kafka reads a control batch's one record. It
// fails with ErrInvalidRecord when the batch is not a control batch or
// holds no record, and with the errors of Records and ParseEndTxnMarker.
func ReadEndTxnMarker(batch []byte) (EndTxnMarker, error) {
	h, err := ParseHeader(batch)
	if err != nil {
		return EndTxnMarker{}, err
	}
	if !h.Control() {
		return EndTxnMarker{}, fmt.Errorf("%w: not a control batch", ErrInvalidRecord)
	}
	var (
		m        EndTxnMarker
		parseErr error
		found    bool
	)
	err = Records(batch, controlBatchDecompressedMax, func(r Record) bool {
		m, parseErr = ParseEndTxnMarker(r.Key, r.Value)
		found = true
		return false
	})
	switch {
	case err != nil:
		return EndTxnMarker{}, err
	case !found:
		return EndTxnMarker{}, fmt.Errorf("%w: control batch without records", ErrInvalidRecord)
	}
	return m, parseErr
}
