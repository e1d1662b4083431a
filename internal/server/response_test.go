package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/record"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// fakeSectioned is a sectionedResponse made of hand-written pieces with a
// log section between each two, counting its releases.
type fakeSectioned struct {
	*kmsg.FetchResponse // for Key and IsFlexible
	pieces              [][]byte
	sections            []log.Section
	released            atomic.Int32
}

func (f *fakeSectioned) AppendSplit(dst []byte) ([]byte, []int) {
	var cuts []int
	for i := range f.sections {
		dst = append(dst, f.pieces[i]...)
		cuts = append(cuts, len(dst))
	}
	return append(dst, f.pieces[len(f.sections)]...), cuts
}

func (f *fakeSectioned) AppendTo(dst []byte) []byte {
	for i, sec := range f.sections {
		dst = append(dst, f.pieces[i]...)
		var err error
		if dst, err = sec.AppendTo(dst); err != nil {
			panic(err)
		}
	}
	return append(dst, f.pieces[len(f.sections)]...)
}

func (f *fakeSectioned) Sections() []log.Section { return f.sections }

func (f *fakeSectioned) SectionBytes() int {
	n := 0
	for _, sec := range f.sections {
		n += sec.Len()
	}
	return n
}

func (f *fakeSectioned) Release() {
	if f.released.Add(1) == 1 {
		for _, sec := range f.sections {
			sec.Release()
		}
	}
}

// sectionsLog returns a log with one one-record batch per value size.
func sectionsLog(t *testing.T, valueSizes ...int) *log.Log {
	t.Helper()
	cfg := log.DefaultConfig()
	cfg.FlushMessages = 1 << 40 // visible at once
	l, err := log.Open(t.TempDir(), cfg, log.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for i, n := range valueSizes {
		batch := testBatch(int64(i), strings.Repeat(string(rune('a'+i%26)), n))
		h, err := record.Validate(batch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(batch, h); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// fakeResponse returns a response with a section of each log (read from
// offset 0, up to maxBytes) between pieces of distinct bytes.
func fakeResponse(t *testing.T, maxBytes int, logs ...*log.Log) *fakeSectioned {
	t.Helper()
	resp := kmsg.NewPtrFetchResponse()
	resp.SetVersion(12) // flexible: the frame header has tags
	f := &fakeSectioned{FetchResponse: resp}
	for i, l := range logs {
		sec, err := l.ReadSection(0, maxBytes, true)
		if err != nil || sec.Len() == 0 {
			t.Fatalf("ReadSection: %d bytes, %v", sec.Len(), err)
		}
		f.sections = append(f.sections, sec)
		f.pieces = append(f.pieces, bytes.Repeat([]byte{byte(i + 1)}, 5+i))
	}
	f.pieces = append(f.pieces, []byte("end"))
	return f
}

// writerHarness runs a conn's writer over loopback TCP; the test queues
// responses and reads the frames from client.
type writerHarness struct {
	cn     *conn
	client net.Conn
	done   chan struct{} // closed when the writer returns
}

func startWriter(t *testing.T, zeroCopy bool) *writerHarness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cn := &conn{s: &Server{queued: newBudget(1 << 30)}, c: server, queue: make(chan *pending, inFlightMax), ctx: ctx, cancel: cancel}
	if zeroCopy {
		if cn.zeroCopy, err = server.(*net.TCPConn).SyscallConn(); err != nil {
			t.Fatal(err)
		}
	}
	h := &writerHarness{cn: cn, client: client, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		cn.write()
	}()
	t.Cleanup(func() {
		h.close()
		client.Close()
		server.Close()
		cancel()
	})
	return h
}

// close ends the queue, once, and waits for the writer.
func (h *writerHarness) close() {
	select {
	case <-h.done:
		return
	default:
	}
	defer func() { recover() }() // the queue may be closed already
	close(h.cn.queue)
	<-h.done
}

func (h *writerHarness) readFrame(t *testing.T) []byte {
	t.Helper()
	h.client.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(h.client, size[:]); err != nil {
		t.Fatalf("read frame size: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(h.client, b); err != nil {
		t.Fatalf("read frame of %d bytes: %v", len(b), err)
	}
	return append(size[:], b...)
}

// TestWriteSectionsFrames: pipelined responses, sectioned (with sections
// above and below sendfileBytesMin, one still waiting on its long poll)
// and plain, come out in order and byte for byte as the copying encoding
// frames them, on both paths; every sectioned response is released.
func TestWriteSectionsFrames(t *testing.T) {
	big := sectionsLog(t, 40_000, 30_000)   // sent with sendfile
	small := sectionsLog(t, 100, 200)       // copied into the buffer
	huge := sectionsLog(t, 3<<20, 2<<20, 7) // several sendfile chunks' worth of socket buffer
	for _, zeroCopy := range []bool{true, false} {
		h := startWriter(t, zeroCopy)
		sentBefore := sentFileBytes.Load()
		meta := kmsg.NewPtrMetadataResponse()
		meta.SetVersion(9)
		delayed := fakeResponse(t, 8<<20, huge, small)
		responses := []kmsg.Response{
			fakeResponse(t, 1<<20, big, small, big),
			meta,
			fakeResponse(t, 1<<20, small),
			delayed,
			fakeResponse(t, 1<<20, small, big),
			meta,
		}
		done := make(chan kmsg.Response, 1)
		for i, resp := range responses {
			p := &pending{correlationID: int32(100 + i), resp: resp}
			if resp == delayed {
				p.resp, p.done = nil, done
			}
			h.cn.queue <- p
		}
		time.AfterFunc(50*time.Millisecond, func() { done <- delayed })
		for i, resp := range responses {
			want := appendResponse(nil, int32(100+i), resp)
			if got := h.readFrame(t); !bytes.Equal(got, want) {
				t.Fatalf("zeroCopy %v: response %d: %d bytes differ from the copying encoding's %d", zeroCopy, i, len(got), len(want))
			}
		}
		h.close()
		for i, resp := range responses {
			if f, ok := resp.(*fakeSectioned); ok && f.released.Load() != 1 {
				t.Fatalf("zeroCopy %v: response %d released %d times", zeroCopy, i, f.released.Load())
			}
		}
		if sent := sentFileBytes.Load() - sentBefore; zeroCopy != (sent > 0) {
			t.Fatalf("zeroCopy %v: sendfile sent %d bytes", zeroCopy, sent)
		}
	}
}

// TestWriteSectionsFileCutShort: a section whose file was cut short after
// the response was built cannot be sent whole: the connection closes
// before the frame is complete, rather than carry a malformed frame, and
// nothing after it is sent. This holds for a section sent with sendfile
// and for one copied into the buffer.
func TestWriteSectionsFileCutShort(t *testing.T) {
	for _, valueBytes := range []int{100_000, 100} {
		h := startWriter(t, true)
		l := sectionsLog(t, valueBytes)
		cut := fakeResponse(t, 1<<20, l)
		f, pos := cut.sections[0].File()
		if err := f.Truncate(pos + int64(cut.sections[0].Len())/2); err != nil {
			t.Fatal(err)
		}
		after := fakeResponse(t, 1<<20, sectionsLog(t, 10))
		h.cn.queue <- &pending{correlationID: 1, resp: cut}
		h.cn.queue <- &pending{correlationID: 2, resp: after}
		// The frame may have been cut anywhere, before its size even
		// (a small section is copied into the buffer, unflushed).
		h.client.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(h.client)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("%d-byte section: read after a short file: %v", valueBytes, err)
		}
		if len(got) >= 4 && len(got)-4 >= int(binary.BigEndian.Uint32(got)) {
			t.Fatalf("%d-byte section: got %d bytes of a %d-byte frame: the frame (or more) was sent from a short file", valueBytes, len(got)-4, binary.BigEndian.Uint32(got))
		}
		h.close()
		if cut.released.Load() != 1 || after.released.Load() != 1 {
			t.Fatalf("%d-byte section: released %d and %d times, want once each", valueBytes, cut.released.Load(), after.released.Load())
		}
	}
}

// TestWriteSectionsClientCloses: a client that goes away while a large
// section is being sent ends the writer's sendfile with an error; the
// writer drains the rest of the queue, releasing everything.
func TestWriteSectionsClientCloses(t *testing.T) {
	h := startWriter(t, true)
	huge := sectionsLog(t, 4<<20, 4<<20, 4<<20, 4<<20)
	first := fakeResponse(t, 32<<20, huge)
	h.cn.queue <- &pending{correlationID: 1, resp: first}
	// Read a little, then let the socket buffers fill, so the writer
	// waits inside sendfile when the client closes.
	h.client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(h.client, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the writer to block in sendfile", blockedInSendFile)
	h.client.(*net.TCPConn).SetLinger(0) // reset, not a graceful close
	h.client.Close()
	var later []*fakeSectioned
	for i := range 3 {
		f := fakeResponse(t, 1<<20, huge)
		later = append(later, f)
		h.cn.queue <- &pending{correlationID: int32(2 + i), resp: f}
	}
	select {
	case <-h.cn.ctx.Done(): // the writer gave up on the connection
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not notice the client closing")
	}
	h.close()
	for i, f := range append([]*fakeSectioned{first}, later...) {
		if n := f.released.Load(); n != 1 {
			t.Fatalf("response %d released %d times", i, n)
		}
	}
}

// blockedInSendFile reports whether some goroutine waits for the socket
// to drain inside sendFile: the client's socket buffers are full.
func blockedInSendFile() bool {
	buf := make([]byte, 1<<20)
	for _, g := range bytes.Split(buf[:runtime.Stack(buf, true)], []byte("\n\n")) {
		if bytes.Contains(g, []byte("[IO wait")) && bytes.Contains(g, []byte("server.sendFile(")) {
			return true
		}
	}
	return false
}
