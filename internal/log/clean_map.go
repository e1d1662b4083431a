package log

import (
	"hash/maphash"
	"math/bits"
)

const (
	// offsetSlotBytes is the memory of one offset map slot: a 128-bit key
	// hash and an offset, as Kafka's SkimpyOffsetMap (MD5 and a long).
	offsetSlotBytes = 24
	// offsetMapLoadFactor is log.cleaner.io.buffer.load.factor: the map
	// counts as full at this share of its slots, which keeps linear probes
	// short.
	offsetMapLoadFactor = 0.9
)

// offsetSlot is one slot of the offset map. offsetPlusOne is zero in an
// empty slot.
type offsetSlot struct {
	hash          [2]uint64
	offsetPlusOne int64
}

// offsetMap maps keys to the largest offset seen for each, in a table of
// fixed size allocated once: its memory is the cleaner's dedupe buffer
// whatever the log holds. Keys are stored as 128-bit hashes, so two keys
// share an entry only with negligible probability (Kafka takes the same
// risk with MD5). The hash is seeded per process; the map is never stored.
type offsetMap struct {
	seeds      [2]maphash.Seed
	slots      []offsetSlot
	entriesMax int
	entries    int
	// latestOffset is the largest offset the map accounts for: every
	// record at or below it was offered to put. -1 when empty.
	latestOffset int64
}

// newOffsetMap sizes the map to memoryBytes.
func newOffsetMap(memoryBytes int64) *offsetMap {
	n := max(memoryBytes/offsetSlotBytes, 2)
	return &offsetMap{
		seeds:        [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		slots:        make([]offsetSlot, n),
		entriesMax:   max(int(float64(n)*offsetMapLoadFactor), 1),
		latestOffset: -1,
	}
}

// reset empties the map for the next clean.
func (m *offsetMap) reset() {
	if m.entries > 0 {
		clear(m.slots)
	}
	m.entries, m.latestOffset = 0, -1
}

func (m *offsetMap) hash(key []byte) [2]uint64 {
	return [2]uint64{maphash.Bytes(m.seeds[0], key), maphash.Bytes(m.seeds[1], key)}
}

// find returns the slot holding h, or the empty slot where it would go.
func (m *offsetMap) find(h [2]uint64) *offsetSlot {
	i, _ := bits.Mul64(h[0], uint64(len(m.slots))) // h[0] scaled to [0, len)
	for {
		s := &m.slots[i]
		if s.offsetPlusOne == 0 || s.hash == h {
			return s
		}
		if i++; i == uint64(len(m.slots)) {
			i = 0
		}
	}
}

// put records offset as the latest for key. It returns false, changing
// nothing, when key is new and the map is full.
func (m *offsetMap) put(key []byte, offset int64) bool {
	h := m.hash(key)
	s := m.find(h)
	if s.offsetPlusOne == 0 {
		if m.entries >= m.entriesMax {
			return false
		}
		m.entries++
		s.hash = h
	}
	s.offsetPlusOne = offset + 1
	m.latestOffset = max(m.latestOffset, offset)
	return true
}

// get returns the latest offset of key, or -1 if the map does not hold it.
func (m *offsetMap) get(key []byte) int64 {
	return m.find(m.hash(key)).offsetPlusOne - 1
}
