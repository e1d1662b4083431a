package server

import (
	"math/bits"
	"sync"
)

// Request bodies and encoded responses are the broker's largest
// allocations, one or two per request; recycling them keeps the garbage
// collector out of the produce and fetch paths. Buffers are pooled by
// power-of-two capacity between bufferBytesMin and bufferBytesMax, so a
// pool never holds a buffer larger than bufferBytesMax, and sync.Pool lets
// the garbage collector drop what stays unused.
const (
	bufferBytesMinLog2 = 12
	bufferBytesMaxLog2 = 23
	bufferBytesMin     = 1 << bufferBytesMinLog2 // 4 KiB
	bufferBytesMax     = 1 << bufferBytesMaxLog2 // 8 MiB
)

var bufferClasses [bufferBytesMaxLog2 - bufferBytesMinLog2 + 1]sync.Pool

// bufferClass returns the index of the smallest class whose buffers hold n
// bytes.
func bufferClass(n int) int {
	n = max(n, bufferBytesMin)
	return bits.Len(uint(n-1)) - bufferBytesMinLog2
}

// getBuffer returns an empty buffer with room for at least n bytes.
func getBuffer(n int) []byte {
	if n > bufferBytesMax {
		return make([]byte, 0, n)
	}
	c := bufferClass(n)
	if b, ok := bufferClasses[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, bufferBytesMin<<c)
}

// putBuffer recycles b, which nothing may use afterwards. Buffers outside
// the pooled sizes are left to the garbage collector.
func putBuffer(b []byte) {
	c := cap(b)
	if c < bufferBytesMin || c > bufferBytesMax {
		return
	}
	// The class whose size b's capacity reaches, so a buffer taken from
	// class i always holds bufferBytesMin<<i bytes.
	class := bits.Len(uint(c)) - 1 - bufferBytesMinLog2
	b = b[:0]
	bufferClasses[class].Put(&b)
}
