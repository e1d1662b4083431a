// Package log is a partition's append-only log: a directory of segments in
// Kafka's on-disk format, so that Kafka's own tools can read it and its
// habits (file names, index layout) carry over.
//
// A partition directory (named "<topic>-<partition>") holds, for each
// segment, three files named by the segment's base offset padded to 20
// digits:
//
//	00000000000000000000.log        RecordBatch v2 bytes exactly as produced,
//	                                only baseOffset (and, for LogAppendTime,
//	                                maxTimestamp and the CRC) rewritten
//	00000000000000000000.index      sparse offset index, 8-byte entries:
//	                                relativeOffset uint32 | position uint32
//	00000000000000000000.timeindex  sparse time index, 12-byte entries:
//	                                timestamp int64 | relativeOffset uint32
//
// All integers are big-endian. An index entry is written every
// index.interval.bytes of log data; the offset is that of the batch's last
// record (Kafka writes the same), the position that of the batch's first
// byte. A time index entry is written at the same points when the largest
// timestamp seen so far grew.
//
// Durability: Append writes to the page cache; WaitDurable returns once a
// single fsync covers the caller's offset. Callers that wait concurrently
// share fsyncs (group commit): while one fsync runs, later callers queue, and
// the next fsync covers all of them. The high watermark a reader may see is
// the durable offset in the default mode, so a consumer never reads a record
// that a power loss could take back.
//
// Indexes are written lazily (on sync, roll and close) because they are
// derived data: after an unclean shutdown every segment from the recovery
// point on is scanned batch by batch, the log is cut at the first torn or
// CRC-invalid batch, and indexes are rebuilt.
package log
