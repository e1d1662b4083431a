package server

import (
	"bufio"
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/log"
)

// sendfileBytesMin is the smallest record section sent with sendfile.
// Sending one costs a flush of the bytes before it and a sendfile call;
// copying a small section into the write buffer costs one pread and less.
const sendfileBytesMin = 16 << 10

// sectionedResponse is a response whose record bytes stay in log files
// until it is written: the handler's FetchResponse. It is a whole kmsg.Response
// too, whose AppendTo copies the sections in.
type sectionedResponse interface {
	kmsg.Response
	// AppendSplit appends the encoding without the sections' bytes and
	// returns where in it each section goes.
	AppendSplit(dst []byte) ([]byte, []int)
	Sections() []log.Section
	SectionBytes() int
	// Release lets go of the sections' files once written or dropped.
	Release()
}

// write sends responses in request order. Its write buffer is taken from
// a pool for a run of responses and given back once they are flushed, so
// an idle connection holds none.
func (cn *conn) write() {
	var w *bufio.Writer // nil while idle
	broken := false
	for p := range cn.queue {
		resp := p.resp
		if p.done != nil {
			resp = <-p.done
		}
		cn.s.queued.release(p.queued)
		cn.s.cfg.Metrics.Request(p.key, time.Since(p.received))
		if !p.none && !broken {
			if w == nil {
				w = getWriter(cn.c)
			}
			var err error
			if p.raw != nil {
				err = writeRaw(w, p.raw)
			} else {
				err = cn.writeResponse(w, p.correlationID, resp)
			}
			if err == nil && len(cn.queue) == 0 {
				if err = w.Flush(); err == nil {
					putWriter(w)
					w = nil
				}
			}
			if err != nil {
				// Keep draining so waiting goroutines finish and budgets
				// are released; the reader sees the closed socket.
				broken = true
				cn.cancel()
				cn.c.Close()
			}
		}
		release(resp)
	}
	if !broken && w != nil {
		if w.Flush() == nil {
			putWriter(w)
		}
	}
}

// discard drops a response the writer will never see, releasing what it
// holds once it is ready (the connection is closing, so a long poll ends
// at once).
func (p *pending) discard() {
	if p.done == nil {
		release(p.resp)
		return
	}
	go func() { release(<-p.done) }()
}

// release lets go of the files a sectioned response holds.
func release(resp kmsg.Response) {
	if sr, ok := resp.(sectionedResponse); ok {
		sr.Release()
	}
}

// writeRaw writes a bare size-prefixed frame: a SASL token after a v0
// handshake.
func writeRaw(w *bufio.Writer, b []byte) error {
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(b)))
	if _, err := w.Write(size[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// writeResponse writes one response frame into w. The choice of path is
// made here: on plaintext TCP (zeroCopy set) a response with record
// sections is written in pieces around them, each large section sent from
// its file with sendfile; anywhere else it is encoded whole, the records
// copied in, as every other response is.
func (cn *conn) writeResponse(w *bufio.Writer, correlationID int32, resp kmsg.Response) error {
	size := bufferBytesMin
	if sr, ok := resp.(sectionedResponse); ok {
		if cn.zeroCopy != nil && sr.SectionBytes() > 0 {
			return cn.writeSections(w, correlationID, sr)
		}
		size += sr.SectionBytes()
	}
	buf := appendResponse(getBuffer(size), correlationID, resp)
	_, err := w.Write(buf)
	putBuffer(buf)
	return err
}

// writeSections writes a response frame whose size prefix counts the
// sections, then its encoded pieces with each section between them. A
// section that cannot be sent whole (its file was cut short) leaves a
// malformed frame behind: the error closes the connection.
func (cn *conn) writeSections(w *bufio.Writer, correlationID int32, resp sectionedResponse) error {
	buf, cuts := appendResponseSplit(getBuffer(bufferBytesMin), correlationID, resp)
	defer putBuffer(buf)
	at := 0
	for i, sec := range resp.Sections() {
		if _, err := w.Write(buf[at:cuts[i]]); err != nil {
			return err
		}
		at = cuts[i]
		// A log on a file system without an *os.File beneath (a test's
		// error-injecting one) has no descriptor to send from: copy.
		f, pos := sec.File()
		if sec.Len() < sendfileBytesMin || f == nil {
			if err := copySection(w, sec); err != nil {
				return err
			}
			continue
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := sendFile(cn.zeroCopy, f, pos, int64(sec.Len())); err != nil {
			return err
		}
	}
	_, err := w.Write(buf[at:])
	return err
}

// copySection reads a small section straight into w's buffer.
func copySection(w *bufio.Writer, sec log.Section) error {
	if w.Available() < sec.Len() {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	b, err := sec.AppendTo(w.AvailableBuffer())
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// appendResponseHeader appends a frame's size placeholder, the correlation
// id and, when flexible, the response header's tags (never for
// ApiVersions, whose response header stays v0 so any client can read it).
func appendResponseHeader(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != kmsg.ApiVersions.Int16() {
		dst = append(dst, 0)
	}
	return dst
}

// appendResponse frames a response: size, header and body.
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = resp.AppendTo(appendResponseHeader(dst, correlationID, resp))
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// appendResponseSplit frames a sectioned response without its sections'
// bytes, computing the size prefix up front with them, and returns where
// in dst each section goes.
func appendResponseSplit(dst []byte, correlationID int32, resp sectionedResponse) ([]byte, []int) {
	start := len(dst)
	dst, cuts := resp.AppendSplit(appendResponseHeader(dst, correlationID, resp))
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4+resp.SectionBytes()))
	return dst, cuts
}
