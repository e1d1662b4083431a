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
// the next fsync covers all of them. Readers see the offsets below the
// read limit, which the owner (the partition) sets to its high watermark:
// OnAdvance's callback answers it at every durable move, SetReadLimit moves
// it when followers catch up. It never passes the durable offset in the
// default mode (the log end with relaxed flushing), so a consumer never
// reads a record that a power loss could take back; with a single replica
// the owner answers the durable offset itself. A log reopens with every
// recovered record readable, or, when the owner gives one
// (OpenOptions.LimitReads), with its read limit at the owner's
// checkpointed high watermark, from where the owner moves it up.
//
// Replication: a follower's log takes the leader's batches as they are
// (AppendReplicated keeps their offsets and leader epochs), reads for
// followers go to the log end (ReadSectionToEnd), and a diverged follower
// cuts its tail (TruncateTo) or starts over (TruncateFullyAndStartAt).
//
// Indexes are written lazily (on sync, roll and close) because they are
// derived data: after an unclean shutdown every segment from the recovery
// point on is scanned batch by batch, the log is cut at the first torn or
// CRC-invalid batch, and indexes are rebuilt.
//
// Disk errors: a failed fsync, write, roll or compaction swap fails the log
// (failLocked). A failed fsync may have dropped dirty pages, so nothing
// after the last good fsync can be trusted: every waiter gets an error
// that IsStorageError recognises (Kafka's KAFKA_STORAGE_ERROR), the high
// watermark stays where the last good fsync put it, and appends are
// refused until the broker restarts and recovers the directory from disk.
// Reads below the high watermark, all fsynced, are still served (Kafka
// takes the whole log directory offline instead). Retention whose rename
// to .deleted fails only warns: the segment is gone from the log, and if
// its file comes back on restart it lies below the checkpointed log start
// offset.
//
// Open files: every segment file is opened through a FileCache
// (filecache.go) that one broker shares among all its logs
// (OpenOptions.Files, log.open.files.max). The active segment's three
// files are pinned open; an inactive segment's files are opened on first
// use and closed, least recently used first, once more than the limit are
// open and idle. A read holds the file for the call, a Section until its
// Release, so eviction never closes a file in use; the open count may
// pass the limit by what is in use. Renames to .deleted are told to the
// cache (noteMoved), so a read within the delete delay reopens the file
// under its new name.
//
// Running out is different (refuse.go): a write(2) the file system
// refuses for want of space or files (ENOSPC, EDQUOT, EMFILE, ENFILE), at
// the append, the index flush of a roll or the creation of a segment,
// accepted none of the batch. The partial write is cut back, half-created
// segment files are removed, and the append fails with ErrWriteRefused
// (KAFKA_STORAGE_ERROR, which clients retry) while the log stays
// writable: the first refusal of a run logs one ERROR line with the file
// and the errno, and the next append that succeeds ends the run. A failed
// fsync, or a write that cannot be cut back, still fails the log.
//
// File system seam: every file the log opens, renames, removes or lists
// goes through the vfs.FS in OpenOptions.FS (internal/vfs; the operating
// system's when unset). Fetch's sendfile path needs an *os.File:
// Section.File returns the one beneath (vfs.File.OSFile), or nil on a file
// system without one, and the caller copies with AppendTo. The tests in
// fault_test.go put internal/vfs/errorfs under the log and fail fsync,
// write (also partway), create and rename at chosen points, then reopen
// the directory with the operating system's file system, as a restart
// would: every acknowledged batch must be there, and recovery may cut only
// what no caller was told was durable.
package log
