package server

import (
	"bufio"
	"io"
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

// Connections take their bufio read and write buffers from these pools
// while requests or responses are in flight and give them back when idle,
// so thousands of idle connections hold no buffers (the issue measured
// about 21 KiB of resident memory per idle connection with a 64 KiB
// reader and writer each).
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferBytes) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufferBytes) }}
)

// getReader returns a pooled reader reading from src.
func getReader(src io.Reader) *bufio.Reader {
	r := readerPool.Get().(*bufio.Reader)
	r.Reset(src)
	return r
}

// putReader recycles r, dropping whatever it still buffers; nil is a no-op.
func putReader(r *bufio.Reader) {
	if r != nil {
		r.Reset(nil)
		readerPool.Put(r)
	}
}

// getWriter returns a pooled, empty writer writing to dst.
func getWriter(dst io.Writer) *bufio.Writer {
	w := writerPool.Get().(*bufio.Writer)
	w.Reset(dst)
	return w
}

// putWriter recycles w, which must have been flushed.
func putWriter(w *bufio.Writer) {
	w.Reset(nil)
	writerPool.Put(w)
}
