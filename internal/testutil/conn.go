package testutil

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// IOTimeout bounds every read and write of a Conn unless a call names
// its own timeout: long enough for a Fetch long poll on a loaded machine,
// short enough that a broker that never answers fails the test.
const IOTimeout = 10 * time.Second

// closedWait is how long ExpectClosed waits for the broker to hang up.
const closedWait = 5 * time.Second

// responseBytesMax bounds the size prefix ReadFrame accepts, so that a
// broker writing garbage fails the test instead of making it allocate.
const responseBytesMax = 64 << 20

// DefaultClientID is the client id Send and Request write unless the
// test sets Conn.ClientID.
const DefaultClientID = "sluice-test"

// Conn is a raw Kafka connection: it writes size-prefixed request frames
// (header by hand, body with kmsg) and reads response frames, so framing
// mistakes that a client library would hide show up in tests. Frames can
// also be written byte by byte, for malformed-input tests.
type Conn struct {
	// ClientID is the client id Send and Request write (nil is a null
	// client id); Dial sets DefaultClientID.
	ClientID *string

	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
	// nextCorrelationID is the correlation id Request uses next.
	nextCorrelationID int32
}

// Dial connects to addr; the connection is closed when the test ends.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, IOTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &Conn{ClientID: Str(DefaultClientID), t: t, nc: nc, r: bufio.NewReader(nc)}
}

// Close closes the connection (a client going away mid-request).
func (c *Conn) Close() error { return c.nc.Close() }

// Write writes b as it is, with no size prefix: for frames whose prefix
// lies, or that are sent in pieces.
func (c *Conn) Write(b []byte) error {
	return c.WriteWithin(b, IOTimeout)
}

// WriteWithin writes b as it is and gives up after timeout; a test that
// streams into a connection the broker may have closed uses it.
func (c *Conn) WriteWithin(b []byte, timeout time.Duration) error {
	c.nc.SetWriteDeadline(time.Now().Add(timeout))
	_, err := c.nc.Write(b)
	return err
}

// WriteFrame writes body behind its size prefix.
func (c *Conn) WriteFrame(body []byte) error {
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	return c.Write(append(frame, body...))
}

// Send writes req with correlationID under c.ClientID, failing the test
// if the write fails.
func (c *Conn) Send(req kmsg.Request, correlationID int32) {
	c.t.Helper()
	c.SendAs(req, correlationID, c.ClientID)
}

// SendAs writes req under clientID (nil is a null client id).
func (c *Conn) SendAs(req kmsg.Request, correlationID int32, clientID *string) {
	c.t.Helper()
	if err := c.Write(AppendRequest(nil, req, correlationID, clientID)); err != nil {
		c.t.Fatalf("write %s: %v", kmsg.NameForKey(req.Key()), err)
	}
}

// ReadFrame reads one response frame within timeout: its correlation id
// and the bytes after it.
func (c *Conn) ReadFrame(timeout time.Duration) (int32, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > responseBytesMax {
		return 0, nil, fmt.Errorf("response frame of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:], nil
}

// ReadToken reads one bare size-prefixed frame within timeout, as a
// broker answers SASL tokens after a v0 SaslHandshake; it may be empty.
func (c *Conn) ReadToken(timeout time.Duration) ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(timeout))
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > responseBytesMax {
		return nil, fmt.Errorf("token frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c.r, b)
	return b, err
}

// Recv reads and decodes the response to a request of key and version
// sent with correlationID, failing the test on any mismatch.
func (c *Conn) Recv(key, version int16, correlationID int32) kmsg.Response {
	c.t.Helper()
	resp, err := c.recv(key, version, correlationID)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

func (c *Conn) recv(key, version int16, correlationID int32) (kmsg.Response, error) {
	corr, body, err := c.ReadFrame(IOTimeout)
	if err != nil {
		return nil, fmt.Errorf("read %s v%d response: %w", kmsg.NameForKey(key), version, err)
	}
	if corr != correlationID {
		return nil, fmt.Errorf("%s response has correlation id %d, want %d", kmsg.NameForKey(key), corr, correlationID)
	}
	return DecodeResponse(key, version, body)
}

// RoundTrip sends req with correlationID and returns its response,
// failing the test on any error.
func (c *Conn) RoundTrip(req kmsg.Request, correlationID int32) kmsg.Response {
	c.t.Helper()
	c.Send(req, correlationID)
	return c.Recv(req.Key(), req.GetVersion(), correlationID)
}

// Request sends req with the next correlation id and returns its
// response. Unlike RoundTrip it returns errors, so it may be called from
// goroutines other than the test's.
func (c *Conn) Request(req kmsg.Request) (kmsg.Response, error) {
	corr := c.nextCorrelationID
	c.nextCorrelationID++
	if err := c.Write(AppendRequest(nil, req, corr, c.ClientID)); err != nil {
		return nil, fmt.Errorf("write %s: %w", kmsg.NameForKey(req.Key()), err)
	}
	return c.recv(req.Key(), req.GetVersion(), corr)
}

// ExpectClosed fails the test unless the broker closes the connection
// without another response.
func (c *Conn) ExpectClosed() {
	c.t.Helper()
	corr, _, err := c.ReadFrame(closedWait)
	if err == nil {
		c.t.Fatalf("got a response (correlation id %d); want the connection closed", corr)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %v", closedWait)
	}
}

// RequestHeader is a request header as a client writes it: key, version,
// correlation id, nullable client id (nil is null), and for header v2
// (flexible) an empty tag section.
func RequestHeader(key, version int16, correlationID int32, clientID *string, flexible bool) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(correlationID))
	if clientID == nil {
		b = binary.BigEndian.AppendUint16(b, math.MaxUint16) // -1: null
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(*clientID)))
		b = append(b, *clientID...)
	}
	if flexible {
		b = append(b, 0)
	}
	return b
}

// AppendRequest appends req as a whole frame (size prefix, header, body)
// to dst, so that tests can pipeline several in one write.
func AppendRequest(dst []byte, req kmsg.Request, correlationID int32, clientID *string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, 0)
	start := len(dst)
	dst = append(dst, RequestHeader(req.Key(), req.GetVersion(), correlationID, clientID, req.IsFlexible())...)
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start-4:], uint32(len(dst)-start))
	return dst
}

// DecodeResponse decodes a response body (what follows the correlation
// id). Flexible responses but ApiVersions start with the response
// header's tag section, which must be empty: the broker writes no tags.
func DecodeResponse(key, version int16, body []byte) (kmsg.Response, error) {
	resp := kmsg.ResponseForKey(key)
	if resp == nil {
		return nil, fmt.Errorf("no response type for key %d", key)
	}
	resp.SetVersion(version)
	if resp.IsFlexible() && key != kmsg.ApiVersions.Int16() {
		if len(body) == 0 || body[0] != 0 {
			return nil, fmt.Errorf("%s v%d response header: want an empty tag section, got %x", kmsg.NameForKey(key), version, body[:min(len(body), 8)])
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %s v%d response: %w", kmsg.NameForKey(key), version, err)
	}
	return resp, nil
}

// Str returns a pointer to s, for nullable strings in requests.
func Str(s string) *string { return &s }
