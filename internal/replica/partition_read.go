package replica

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/log"
)

// Section is a stretch of a partition's log holding whole batches, sent
// to a consumer without copying; see log.Section.
type Section = log.Section

// ErrOffsetOutOfRange is wrapped by reads below the log start offset or
// past the log end offset, together with kerr.OffsetOutOfRange.
var ErrOffsetOutOfRange = log.ErrOffsetOutOfRange

// Fetched is what a fetch read of one partition found.
type Fetched struct {
	LogStartOffset int64
	// HighWatermark is also the last stable offset: without transactions
	// every record below it is committed.
	HighWatermark int64
	Records       Section // empty when nothing was read
}

// Fetch reads whole batches from the one holding offset up to the high
// watermark, at most maxBytes of them; minOne returns the first batch
// whole even when it is larger (KIP-74), so an oversized batch cannot
// stall a consumer. With maxBytes <= 0 and not minOne it only reports the
// offsets. An offset below the log start or past the log end is
// OFFSET_OUT_OF_RANGE; the offsets are reported then too. The caller
// releases the Section.
func (p *Partition) Fetch(offset int64, maxBytes int, minOne bool) (Fetched, error) {
	p.stateMu.Lock()
	f := Fetched{LogStartOffset: p.logStartOffset, HighWatermark: p.highWatermark}
	p.stateMu.Unlock()
	if maxBytes <= 0 && !minOne {
		return f, nil
	}
	var err error
	f.Records, err = p.log.ReadSection(offset, max(maxBytes, 0), minOne)
	return f, readError(err)
}

// Read is Fetch's read with the bytes copied out, for readers inside the
// broker (the group coordinator's replay, the admin API).
func (p *Partition) Read(offset int64, maxBytes int, minOne bool) ([]byte, error) {
	b, err := p.log.Read(offset, maxBytes, minOne)
	return b, readError(err)
}

// ReadToEnd is Read bounded by the log end instead of the high
// watermark: a new leader's high watermark may still lag records its
// predecessor acknowledged, and the group coordinator that takes over
// the partition must replay them (Kafka loads groups to the log end).
func (p *Partition) ReadToEnd(offset int64, maxBytes int, minOne bool) ([]byte, error) {
	sec, err := p.log.ReadSectionToEnd(offset, maxBytes, minOne)
	if err != nil {
		return nil, readError(err)
	}
	defer sec.Release()
	b, err := sec.AppendTo(nil)
	return b, readError(err)
}

// OffsetForTimestamp returns the first offset below the high watermark
// whose record timestamp is >= timestamp, with that record's timestamp
// (ListOffsets by timestamp). found is false when no record is that new.
func (p *Partition) OffsetForTimestamp(timestamp int64) (offset, recordTimestamp int64, found bool, err error) {
	offset, recordTimestamp, found, err = p.log.OffsetForTimestamp(timestamp)
	return offset, recordTimestamp, found, readError(err)
}

// MaxTimestamp returns the offset and timestamp of the record with the
// largest timestamp below the high watermark (ListOffsets MAX_TIMESTAMP,
// KIP-734). found is false for an empty partition.
func (p *Partition) MaxTimestamp() (offset, timestamp int64, found bool, err error) {
	offset, timestamp, found, err = p.log.MaxTimestamp()
	return offset, timestamp, found, readError(err)
}

// DeleteRecordsBefore moves the log start offset up to offset (Kafka's
// DeleteRecords; -1 is the high watermark) and deletes the segments wholly
// below it. An offset past the high watermark is OFFSET_OUT_OF_RANGE. It
// returns the new log start offset; the Manager's Checkpoint makes it
// survive a crash.
func (p *Partition) DeleteRecordsBefore(offset int64) (int64, error) {
	low, err := p.log.DeleteRecordsBefore(offset)
	if errors.Is(err, log.ErrBeyondHighWatermark) {
		return 0, fmt.Errorf("%w: %w", kerr.OffsetOutOfRange, err)
	}
	if err != nil {
		return 0, readError(err)
	}
	p.refreshLogStart()
	return low, nil
}

// applyRetention runs retention and takes the log start it leaves.
func (p *Partition) applyRetention(now time.Time) error {
	_, err := p.log.ApplyRetention(now)
	p.refreshLogStart()
	return err
}

// readError gives a log error the Kafka error a client gets for it.
func readError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, log.ErrOffsetOutOfRange):
		return fmt.Errorf("%w: %w", kerr.OffsetOutOfRange, err)
	case log.IsStorageError(err):
		return fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
	}
	return err
}
