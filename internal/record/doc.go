// Package record parses, validates and builds Kafka RecordBatch v2 (magic
// 2), the unit that producers send, the log stores and fetches serve
// unchanged. It owns the batch bytes: every other package frames, checks
// and checksums batches through it (Validate and its variants, Build,
// BuildUncompressed, BuildEndTxnMarker, the Set* stampers), and no other
// package computes a batch CRC. It does no I/O and holds no state.
//
// The broker never re-encodes a batch on the produce path: it checks the
// framing and CRC here, rewrites the fields it owns in place (baseOffset,
// partitionLeaderEpoch, and for LogAppendTime topics the timestamp type and
// maxTimestamp) and appends the bytes as they are. Validate therefore does
// not allocate, and compressed batches are not decompressed to be checked;
// Records decompresses, within a caller's bound, when a reader needs the
// records themselves (timestamp lookups, compaction, tools).
//
// # Batch header (61 bytes, big endian)
//
//	offset  size  field                 covered by crc
//	     0     8  baseOffset            no   (assigned by the leader)
//	     8     4  batchLength           no   (bytes after this field)
//	    12     4  partitionLeaderEpoch  no   (assigned by the leader)
//	    16     1  magic = 2             no
//	    17     4  crc                   -    (CRC-32C of bytes [21:end])
//	    21     2  attributes            yes
//	    23     4  lastOffsetDelta       yes
//	    27     8  baseTimestamp         yes
//	    35     8  maxTimestamp          yes
//	    43     8  producerId            yes
//	    51     2  producerEpoch         yes
//	    53     4  baseSequence          yes
//	    57     4  recordCount           yes
//	    61     -  records               yes  (compressed as one block if codec != none)
//
// Because attributes and maxTimestamp are covered, stamping LogAppendTime
// recomputes the CRC (SetLogAppendTime), as Kafka's
// DefaultRecordBatch.setMaxTimestamp does; baseOffset and the leader epoch
// are not covered, so the leader rewrites them without touching the CRC.
//
// # Attributes (int16)
//
//	bits 0-2  compression: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
//	bit  3    timestamp type: 0 CreateTime, 1 LogAppendTime
//	bit  4    transactional
//	bit  5    control (transaction markers; written only by the broker)
//	bit  6    has delete horizon (compaction; ignored here)
//
// # Record (inside the records area, after decompression)
//
//	length          varint   (zigzag; bytes of the record after this field)
//	attributes      int8     (unused, 0)
//	timestampDelta  varlong  (from baseTimestamp)
//	offsetDelta     varint   (from baseOffset; 0..recordCount-1 in order)
//	keyLength       varint   (-1 = null key)
//	key             bytes
//	valueLength     varint   (-1 = null value)
//	value           bytes
//	headerCount     varint
//	headers         headerCount times:
//	                  keyLength varint (never null), key,
//	                  valueLength varint (-1 = null), value
//
// A varint is at most 5 bytes and a varlong at most 10, as in Kafka's
// ByteUtils; longer encodings are rejected as corrupt.
//
// # Control batches (transaction markers)
//
// A transaction coordinator ends a transaction by writing one control
// batch to each of its partitions (BuildEndTxnMarker, as Kafka's
// MemoryRecords.withEndTransactionMarker): attributes transactional|control
// (0x0030), CreateTime, no compression, the producer's id and epoch,
// baseSequence -1, baseTimestamp = maxTimestamp = the marker's time, and
// one record at offsetDelta 0 with timestampDelta 0 and no headers, whose
// key and value are fixed-width big-endian structs:
//
//	key    offset  size  field
//	            0     2  version = 0
//	            2     2  type: 0 ABORT, 1 COMMIT (2-4 are Kafka's Raft
//	                     metadata records, never in a partition log)
//	value       0     2  version = 0
//	            2     4  coordinatorEpoch
//
// The record is 17 bytes (length varint 16) and the batch 78. Readers take
// newer key and value versions as version 0, since later versions may only
// append fields (ParseControlType, ParseEndTxnMarker, ReadEndTxnMarker).
//
// # Errors
//
// Every error wraps one sentinel, so a handler answers with KafkaError:
// ErrCorrupt (CORRUPT_MESSAGE), ErrInvalidRecord (INVALID_RECORD),
// ErrUnsupportedMagic (UNSUPPORTED_FOR_MESSAGE_FORMAT), ErrTruncated
// (CORRUPT_MESSAGE on the wire; in recovery, the torn tail of a segment) and
// ErrDecompressedTooLarge (MESSAGE_TOO_LARGE).
package record
