package record

// Kafka's ByteUtils reads a varint in at most 5 bytes and a varlong in at
// most 10. We hold to the same limits and also reject final bytes whose
// bits do not fit the type, which Kafka silently drops: no encoder emits
// them, and accepting them would let two byte strings mean one record.
const (
	varintLenMax  = 5
	varlongLenMax = 10
)

// readVarint decodes a zigzag varint from the start of b, returning the
// value and the number of bytes read, or n == 0 if b does not hold one.
func readVarint(b []byte) (v int32, n int) {
	var u uint32
	for i := range varintLenMax {
		if i >= len(b) {
			return 0, 0
		}
		c := b[i]
		if i == varintLenMax-1 && c > 0x0f { // only 4 bits remain of 32
			return 0, 0
		}
		u |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int32(u>>1) ^ -int32(u&1), i + 1
		}
	}
	return 0, 0
}

// readVarlong decodes a zigzag varlong from the start of b, returning the
// value and the number of bytes read, or n == 0 if b does not hold one.
func readVarlong(b []byte) (v int64, n int) {
	var u uint64
	for i := range varlongLenMax {
		if i >= len(b) {
			return 0, 0
		}
		c := b[i]
		if i == varlongLenMax-1 && c > 0x01 { // only 1 bit remains of 64
			return 0, 0
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i + 1
		}
	}
	return 0, 0
}
