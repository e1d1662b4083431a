package log

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/sluice-dev/sluice/internal/vfs"
)

const (
	offsetEntryBytes = 8  // relativeOffset uint32 | position uint32
	timeEntryBytes   = 12 // timestamp int64 | relativeOffset uint32
)

// offsetEntry maps the last offset of a batch to the file position of the
// batch's first byte.
type offsetEntry struct {
	relOffset uint32
	position  uint32
}

// timeEntry is Kafka's time index entry: timestamp is the largest
// timestamp of all batches so far, relOffset the last offset of the batch
// that carried it. Every batch before that batch has smaller timestamps, so
// lookups use it to skip them.
type timeEntry struct {
	timestamp int64
	relOffset uint32
}

// index holds a segment's sparse offset and time indexes in memory; the
// files are written from them on flush. Entries are strictly increasing in
// offset, position and timestamp: add enforces it, load checks it.
type index struct {
	offsets []offsetEntry
	times   []timeEntry
	// flushedOffsets and flushedTimes count the entries already written to
	// the files.
	flushedOffsets int
	flushedTimes   int
}

// addOffset records that the batch starting at position ends at relOffset.
func (ix *index) addOffset(relOffset, position uint32) {
	if n := len(ix.offsets); n > 0 {
		last := ix.offsets[n-1]
		if relOffset <= last.relOffset || position <= last.position {
			panic(fmt.Sprintf("log: offset index not increasing: %d@%d after %d@%d",
				relOffset, position, last.relOffset, last.position))
		}
	}
	ix.offsets = append(ix.offsets, offsetEntry{relOffset, position})
}

// addTime records the largest timestamp so far and the batch carrying it,
// if it grew.
func (ix *index) addTime(timestamp int64, relOffset uint32) {
	if n := len(ix.times); n > 0 {
		last := ix.times[n-1]
		if timestamp <= last.timestamp {
			return
		}
		if relOffset < last.relOffset {
			panic(fmt.Sprintf("log: time index offsets not increasing: %d after %d", relOffset, last.relOffset))
		}
	}
	ix.times = append(ix.times, timeEntry{timestamp, relOffset})
}

// lookup returns the position of a batch at or before the one holding
// relOffset: scanning forward from it finds the batch.
func (ix *index) lookup(relOffset uint32) uint32 {
	i := sort.Search(len(ix.offsets), func(i int) bool { return ix.offsets[i].relOffset >= relOffset })
	// offsets[i] is the first batch ending at or after relOffset; the batch
	// holding relOffset starts after offsets[i-1]'s batch, at the earliest.
	if i == 0 {
		return 0
	}
	return ix.offsets[i-1].position
}

// lookupTime returns a position from which scanning finds the first batch
// whose max timestamp is >= timestamp: every batch before the one named by
// the last entry below timestamp is older.
func (ix *index) lookupTime(timestamp int64) uint32 {
	i := sort.Search(len(ix.times), func(i int) bool { return ix.times[i].timestamp >= timestamp })
	if i == 0 {
		return 0
	}
	return ix.lookup(ix.times[i-1].relOffset)
}

// truncate drops entries for batches at or after position.
func (ix *index) truncate(position uint32) {
	i := sort.Search(len(ix.offsets), func(i int) bool { return ix.offsets[i].position >= position })
	var lastRel uint32
	if i > 0 {
		lastRel = ix.offsets[i-1].relOffset
	}
	ix.offsets = ix.offsets[:i]
	j := sort.Search(len(ix.times), func(j int) bool { return ix.times[j].relOffset > lastRel })
	if i == 0 {
		j = 0
	}
	ix.times = ix.times[:j]
	ix.flushedOffsets = min(ix.flushedOffsets, len(ix.offsets))
	ix.flushedTimes = min(ix.flushedTimes, len(ix.times))
}

// flush appends unwritten entries to the index files. Truncation rewrites
// the files whole, so flush only ever appends.
func (ix *index) flush(offsetFile, timeFile vfs.File) error {
	if err := writeEntries(offsetFile, ix.flushedOffsets*offsetEntryBytes, ix.offsets[ix.flushedOffsets:], offsetEntryBytes,
		func(b []byte, e offsetEntry) {
			binary.BigEndian.PutUint32(b, e.relOffset)
			binary.BigEndian.PutUint32(b[4:], e.position)
		}); err != nil {
		return err
	}
	ix.flushedOffsets = len(ix.offsets)
	if err := writeEntries(timeFile, ix.flushedTimes*timeEntryBytes, ix.times[ix.flushedTimes:], timeEntryBytes,
		func(b []byte, e timeEntry) {
			binary.BigEndian.PutUint64(b, uint64(e.timestamp))
			binary.BigEndian.PutUint32(b[8:], e.relOffset)
		}); err != nil {
		return err
	}
	ix.flushedTimes = len(ix.times)
	return nil
}

func writeEntries[E any](f vfs.File, at int, entries []E, size int, put func([]byte, E)) error {
	if len(entries) == 0 {
		return nil
	}
	buf := make([]byte, len(entries)*size)
	for i, e := range entries {
		put(buf[i*size:], e)
	}
	if _, err := f.WriteAt(buf, int64(at)); err != nil {
		return fmt.Errorf("write index %s: %w", f.Name(), err)
	}
	return nil
}

// rewrite replaces both files with the in-memory entries, after a
// truncation or a rebuild.
func (ix *index) rewrite(offsetFile, timeFile vfs.File) error {
	for _, f := range []vfs.File{offsetFile, timeFile} {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("truncate index %s: %w", f.Name(), err)
		}
	}
	ix.flushedOffsets, ix.flushedTimes = 0, 0
	return ix.flush(offsetFile, timeFile)
}

// loadIndex reads both index files and checks them against the segment:
// entries must increase and point inside the log file. ok is false when the
// files are missing pieces or inconsistent; the caller then rebuilds.
func loadIndex(offsetFile, timeFile vfs.File, logSize int64) (ix index, ok bool) {
	ob, err1 := vfs.ReadAll(offsetFile)
	tb, err2 := vfs.ReadAll(timeFile)
	if err1 != nil || err2 != nil || len(ob)%offsetEntryBytes != 0 || len(tb)%timeEntryBytes != 0 {
		return index{}, false
	}
	for i := 0; i < len(ob); i += offsetEntryBytes {
		e := offsetEntry{binary.BigEndian.Uint32(ob[i:]), binary.BigEndian.Uint32(ob[i+4:])}
		if n := len(ix.offsets); n > 0 && (e.relOffset <= ix.offsets[n-1].relOffset || e.position <= ix.offsets[n-1].position) {
			return index{}, false
		}
		if int64(e.position) >= logSize {
			return index{}, false
		}
		ix.offsets = append(ix.offsets, e)
	}
	for i := 0; i < len(tb); i += timeEntryBytes {
		e := timeEntry{int64(binary.BigEndian.Uint64(tb[i:])), binary.BigEndian.Uint32(tb[i+8:])}
		if n := len(ix.times); n > 0 && (e.timestamp <= ix.times[n-1].timestamp || e.relOffset < ix.times[n-1].relOffset) {
			return index{}, false
		}
		ix.times = append(ix.times, e)
	}
	ix.flushedOffsets, ix.flushedTimes = len(ix.offsets), len(ix.times)
	return ix, true
}
