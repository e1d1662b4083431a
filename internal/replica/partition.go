package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/txn"
	"github.com/sluice-dev/sluice/internal/vfs"
)

// producerExpiration is Kafka's producer.id.expiration.ms default: a
// producer idle this long is forgotten by a partition, which bounds the
// producer state's memory.
const producerExpiration = 24 * time.Hour

// Partition is one partition of a topic hosted here, and the only door to
// its log.
type Partition struct {
	Topic   string
	TopicID metadata.TopicID
	Index   int32
	log     *log.Log

	mu        sync.Mutex // serialises producer checks with appends
	producers *txn.Partition
	expiredAt time.Time // last producer expiry sweep
	// epochs is the leader epoch cache (epoch_cache.go). Entries are
	// added under mu, so they follow the appends' order.
	epochs *epochCache

	stateMu sync.Mutex // guards the fields below; never held while calling the log
	// localDurable is how far the leader's own log is on disk (or
	// written, with relaxed flushing), as the log reports it.
	localDurable int64
	// highWatermark is the first offset consumers may not read: the
	// minimum over the ISR of each member's durable offset. It only moves
	// forward.
	highWatermark int64
	// logStartOffset is the first offset that may be read; DeleteRecords
	// and retention move it forward.
	logStartOffset int64
	leader         int32 // from the metadata image
	leaderEpoch    int32 // from the metadata image; stamped on every appended batch
	// watchers hear of high watermark moves (fetch long polls, Waiter).
	watchers map[chan<- struct{}]struct{}
	// endWatchers hear of appends (replica fetch long polls,
	// Waiter.WatchLogEnd); endWatching counts them, so appends skip
	// stateMu when there are none.
	endWatchers map[chan<- struct{}]struct{}
	endWatching atomic.Int32
	// lead is the replication state: assignment, ISR, followers, the
	// waits of acks=all produces (partition_leader.go).
	lead leaderState
}

// newPartition wraps an opened log. The partition's log start starts
// from what the log recovered, its high watermark from the log's read
// limit (the checkpointed high watermark the Manager opened it with, or
// the log end) and its own durable offset from the log's; they follow
// the log's from then on. Its leader epoch checkpoint lives beside the
// log, on fs.
func newPartition(tp TP, id metadata.TopicID, l *log.Log, fs vfs.FS, logger *slog.Logger) *Partition {
	p := &Partition{Topic: tp.Topic, TopicID: id, Index: tp.Partition, log: l, leader: metadata.NoLeader,
		epochs: newEpochCache(fs, l.Dir(), logger)}
	logStart, hw, _ := l.Offsets()
	p.stateMu.Lock()
	p.logStartOffset = logStart
	p.localDurable, p.highWatermark = l.Durable(), hw
	p.stateMu.Unlock()
	l.OnAdvance(p.onLogAdvance)
	return p
}

// AppendOptions carry the topic configs that apply to one append.
type AppendOptions struct {
	LogAppendTime   bool  // message.timestamp.type=LogAppendTime
	MaxMessageBytes int   // max.message.bytes
	Now             int64 // wall clock, unix ms
	// TimestampWindow bounds CreateTime records; nil (the zero value,
	// what internal writers pass) means unbounded.
	TimestampWindow *TimestampWindow
	// Recompress is the topic's compression.type when it is not
	// "producer": batches in another codec are re-encoded to it.
	Recompress *record.Codec
	// RequireKeys is set for compacted topics, where a record without a
	// key could never be compacted: Kafka refuses it (INVALID_RECORD).
	RequireKeys bool
}

// TimestampWindow is message.timestamp.before.max.ms and .after.max.ms:
// how far a CreateTime record may lie in the past or the future (KIP-937).
type TimestampWindow struct {
	BeforeMs, AfterMs int64
}

// decompressedBytesMax bounds what one batch may decompress to when the
// broker must read its records (timestamp bounds, recompression).
const decompressedBytesMax = 64 << 20

// AppendResult says where a batch landed.
type AppendResult struct {
	BaseOffset    int64
	NextOffset    int64 // one past the batch: wait for this to be durable
	LogAppendTime int64 // -1 unless the topic uses LogAppendTime
	Duplicate     bool  // a retry of an appended batch: nothing was written
}

// Append validates the single batch of a Produce request's partition
// (Kafka requires exactly one for produce v3+), checks it against the
// producer's sequence state and writes it. Errors wrap a *kerr.Error or a
// record error for the client.
func (p *Partition) Append(records []byte, opts AppendOptions) (AppendResult, error) {
	if len(records) == 0 {
		return AppendResult{}, fmt.Errorf("%w: produce must carry a record batch", record.ErrInvalidRecord)
	}
	batch, rest, err := record.Next(records)
	if err != nil {
		// Kafka answers records cut short in a Produce with INVALID_RECORD
		// (ProduceRequest.validateRecords), which clients do not retry;
		// a batch length too small to be a batch stays CORRUPT_MESSAGE.
		if errors.Is(err, record.ErrTruncated) {
			return AppendResult{}, fmt.Errorf("%w: %v", record.ErrInvalidRecord, err)
		}
		return AppendResult{}, err
	}
	if len(rest) != 0 {
		return AppendResult{}, fmt.Errorf("%w: produce must carry exactly one record batch per partition", record.ErrInvalidRecord)
	}
	if len(batch) > opts.MaxMessageBytes {
		return AppendResult{}, fmt.Errorf("%w: batch of %d bytes exceeds max.message.bytes %d", kerr.MessageTooLarge, len(batch), opts.MaxMessageBytes)
	}
	h, err := record.ValidateProduce(batch)
	if errors.Is(err, record.ErrUnsupportedMagic) {
		return AppendResult{}, fmt.Errorf("%w: %v", record.ErrInvalidRecord, err)
	}
	if err != nil {
		return AppendResult{}, err
	}
	rebuilt, err := checkRecordsFor(batch, h, opts)
	if err != nil {
		return AppendResult{}, err
	}
	if rebuilt != nil {
		batch = rebuilt
		if h, err = record.ValidateProduce(batch); err != nil {
			return AppendResult{}, err
		}
	}
	res := AppendResult{LogAppendTime: -1}
	if opts.LogAppendTime {
		h = record.SetLogAppendTime(batch, opts.Now)
		res.LogAppendTime = opts.Now
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	dup, err := p.producers.Check(h)
	if err != nil {
		return AppendResult{}, err
	}
	if dup != nil {
		res.BaseOffset, res.Duplicate = dup.BaseOffset, true
		res.NextOffset = dup.BaseOffset + int64(h.LastOffsetDelta) + 1
		if opts.LogAppendTime {
			res.LogAppendTime = dup.Timestamp
		}
		return res, nil
	}
	// The epoch lies outside the CRC: stamping it needs no checksum. A
	// new epoch enters the cache before its first batch, at the offset
	// the batch gets (appends are serialised by mu), as Kafka assigns
	// before appending; the common path costs one compare.
	epoch := p.LeaderEpoch()
	if epoch > p.epochs.latestEpoch() {
		p.epochs.assign(epoch, p.LogEndOffset())
	}
	record.SetPartitionLeaderEpoch(batch, epoch)
	base, err := p.log.Append(batch, h)
	if err != nil {
		if log.IsStorageError(err) {
			return AppendResult{}, fmt.Errorf("%w: %w", kerr.KafkaStorageError, err)
		}
		return AppendResult{}, err
	}
	p.wakeLogEnd()
	h.BaseOffset = base
	p.producers.Update(h, opts.Now)
	p.maybeExpireLocked(opts.Now)
	res.BaseOffset, res.NextOffset = base, h.NextOffset()
	return res, nil
}

// checkRecordsFor applies the topic rules that need the batch's records:
// CreateTime bounds, the topic's codec, and keys on compacted topics. None
// applies by default, so the common path never decompresses. It returns
// a re-encoded batch, or nil when the batch is appended as sent.
func checkRecordsFor(batch []byte, h record.Header, opts AppendOptions) ([]byte, error) {
	w := opts.TimestampWindow
	bounded := !opts.LogAppendTime && w != nil
	recompress := opts.Recompress != nil && *opts.Recompress != h.Compression()
	if !bounded && !recompress && !opts.RequireKeys {
		return nil, nil
	}
	var recs []record.Record
	var bad error
	err := record.Records(batch, decompressedBytesMax, func(r record.Record) bool {
		if opts.RequireKeys && r.Key == nil {
			bad = fmt.Errorf("%w: compacted topic cannot accept a record without a key", record.ErrInvalidRecord)
			return false
		}
		if ts := h.BaseTimestamp + r.TimestampDelta; bounded &&
			(opts.Now-ts > w.BeforeMs || ts-opts.Now > w.AfterMs) {
			bad = fmt.Errorf("%w: record timestamp %d is outside [now-%d ms, now+%d ms] (message.timestamp.before.max.ms, message.timestamp.after.max.ms)",
				kerr.InvalidTimestamp, ts, w.BeforeMs, w.AfterMs)
			return false
		}
		recs = append(recs, r)
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil || !recompress {
		return nil, err
	}
	return record.Build(h, recs, *opts.Recompress, h.MaxTimestamp)
}

// maybeExpireLocked sweeps idle producers at most once a minute.
func (p *Partition) maybeExpireLocked(nowMs int64) {
	now := time.UnixMilli(nowMs)
	if now.Sub(p.expiredAt) < time.Minute {
		return
	}
	p.expiredAt = now
	p.producers.Expire(now.Add(-producerExpiration).UnixMilli())
}

// recoverState replays the batch headers once, as the partition opens:
// it restores the producer state and fits the leader epoch cache to the
// log (epochCache.load).
func (p *Partition) recoverState() error {
	p.producers = txn.NewPartition()
	now := time.Now().UnixMilli()
	logStart, _, logEnd := p.log.Offsets()
	scan := &epochScan{logStart: logStart}
	err := p.log.ScanHeaders(0, func(h record.Header) {
		if h.ProducerID >= 0 && !h.Control() {
			p.producers.Update(h, now)
		}
		scan.observe(h)
	})
	if err != nil {
		return fmt.Errorf("rebuild producer state of %s-%d: %w", p.Topic, p.Index, err)
	}
	p.epochs.load(scan, logEnd)
	return nil
}
