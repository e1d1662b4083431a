// Package txn holds producer state: producer id allocation and the
// per-partition sequence checks that make idempotent produce exactly-once.
package txn

import (
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/record"
)

// batchesRemembered is how many recent batches per producer are kept for
// duplicate detection: Kafka's producers keep at most five requests in
// flight per partition, so a retry is always one of the last five.
const batchesRemembered = 5

// batchMeta is what is remembered of an appended batch.
type batchMeta struct {
	firstSeq, lastSeq int32
	baseOffset        int64
	lastOffsetDelta   int32
	timestamp         int64
}

// producerEntry is one producer's state in one partition.
type producerEntry struct {
	epoch   int16
	batches []batchMeta // oldest first, at most batchesRemembered
	lastMs  int64       // wall clock of the last append, for expiry
}

func (e *producerEntry) lastSeq() int32 { return e.batches[len(e.batches)-1].lastSeq }

// Partition is the producer state of one partition. It is not safe for
// concurrent use: the partition's append lock guards it, because a check
// and its append must be atomic.
type Partition struct {
	producers map[int64]*producerEntry
}

// NewPartition returns empty producer state.
func NewPartition() *Partition {
	return &Partition{producers: map[int64]*producerEntry{}}
}

// Duplicate says a batch was already appended, at baseOffset.
type Duplicate struct {
	BaseOffset int64
	Timestamp  int64
}

// Check validates an incoming batch against the producer's state with
// Kafka's rules. It returns a non-nil Duplicate for a retry of one of the
// last five batches (answered with the original offsets), or an error
// carrying the Kafka error code: INVALID_PRODUCER_EPOCH for an epoch older
// than the one seen, OUT_OF_ORDER_SEQUENCE_NUMBER for a gap or a new epoch
// that does not start at sequence 0.
func (p *Partition) Check(h record.Header) (*Duplicate, error) {
	if h.ProducerID < 0 {
		return nil, nil
	}
	e, ok := p.producers[h.ProducerID]
	if !ok {
		// An unknown producer (new, or expired from this partition) may
		// start at any sequence, as in Kafka since KIP-360.
		return nil, nil
	}
	if h.ProducerEpoch < e.epoch {
		return nil, fmt.Errorf("%w: producer %d epoch %d is older than %d", kerr.InvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	}
	if h.ProducerEpoch > e.epoch {
		if h.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, not %d", kerr.OutOfOrderSequenceNumber, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
		return nil, nil
	}
	for _, b := range e.batches {
		if b.firstSeq == h.BaseSequence && b.lastSeq == h.LastSequence() {
			return &Duplicate{BaseOffset: b.baseOffset, Timestamp: b.timestamp}, nil
		}
	}
	if !inSequence(e.lastSeq(), h.BaseSequence) {
		return nil, fmt.Errorf("%w: producer %d epoch %d expected sequence %d, got %d", kerr.OutOfOrderSequenceNumber, h.ProducerID, h.ProducerEpoch, nextSeq(e.lastSeq()), h.BaseSequence)
	}
	return nil, nil
}

func nextSeq(last int32) int32 {
	if last == math.MaxInt32 {
		return 0
	}
	return last + 1
}

func inSequence(last, first int32) bool { return first == nextSeq(last) }

// Update records an appended batch (or one found while rebuilding from the
// log). nowMs stamps the producer for expiry.
func (p *Partition) Update(h record.Header, nowMs int64) {
	if h.ProducerID < 0 {
		return
	}
	e, ok := p.producers[h.ProducerID]
	if !ok || h.ProducerEpoch > e.epoch {
		e = &producerEntry{epoch: h.ProducerEpoch}
		p.producers[h.ProducerID] = e
	}
	if len(e.batches) == batchesRemembered {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:batchesRemembered-1]
	}
	e.batches = append(e.batches, batchMeta{
		firstSeq: h.BaseSequence, lastSeq: h.LastSequence(),
		baseOffset: h.BaseOffset, lastOffsetDelta: h.LastOffsetDelta, timestamp: h.MaxTimestamp,
	})
	e.lastMs = nowMs
}

// Expire forgets producers idle since before cutoffMs (Kafka's
// producer.id.expiration.ms), which bounds the state's memory.
func (p *Partition) Expire(cutoffMs int64) {
	for id, e := range p.producers {
		if e.lastMs < cutoffMs {
			delete(p.producers, id)
		}
	}
}

// Len returns the number of producers tracked.
func (p *Partition) Len() int { return len(p.producers) }
