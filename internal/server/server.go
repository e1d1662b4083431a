// Package server accepts Kafka connections, frames requests and responses,
// enforces the per-connection and broker-wide limits, and hands each
// request, with the connection's principal, to a protocol.Handler.
//
// A listener may be secured (ServeListener with an auth.Listener): TLS
// first, whose client certificate names the principal on SSL listeners,
// then on SASL listeners an authentication before any other request
// (sasl.go): only ApiVersions, SaslHandshake and SaslAuthenticate (or a v0
// handshake's bare token frames) are read, in frames of at most
// sasl.server.max.receive.size, and a failure is answered after
// connection.failed.authentication.delay.ms and closes the connection. It
// knows the wire framing and the advertised versions (protocol), not what
// any API does: it must not import handler or the parts below it.
//
// A connection has two goroutines. The reader decodes requests one after
// another and calls the handler, which does the order-sensitive part (a
// Produce's append) at once. Work that may wait (fsync, a Fetch long poll)
// runs in its own goroutine, and the writer sends responses strictly in
// request order, as Kafka clients require. On plaintext TCP a Fetch
// response's records go from the segment files to the socket with
// sendfile, never through the broker's memory (response.go); on TLS they
// are copied into the response and encrypted.
package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/protocol"
)

const (
	// requestBytesMaxNonProduce bounds frames of every API but Produce.
	// Decoding allocates up to ~40x a frame's size in arrays and tagged
	// fields, so only Produce, whose records stay one byte slice, may use
	// socket.request.max.bytes.
	requestBytesMaxNonProduce = 1 << 20
	// inFlightMax is how many requests one connection may have awaiting
	// their responses (pipelining) before the reader stops reading.
	inFlightMax = 64
	// decodeAmplification is how much memory decoding a non-Produce frame
	// may take per frame byte (measured: up to ~40x for arrays of small
	// structs), charged against the broker-wide budget.
	decodeAmplification = 40
	// frameBodyTimeout bounds how long a frame's body may take to arrive
	// once its size was read.
	frameBodyTimeout = 30 * time.Second
	// bodyChunkBytes is how much of a frame body is read, and charged to
	// the budget, at a time.
	bodyChunkBytes = 256 << 10
	// idleTimeout is Kafka's connections.max.idle.ms default.
	idleTimeout = 10 * time.Minute
	// drainTimeout bounds how long the responses still queued when the
	// reader stops may take to send.
	drainTimeout = 30 * time.Second
	// writeBufferBytes sizes the writer's buffer; responses are flushed
	// when no other is ready.
	writeBufferBytes = 64 << 10
	// readBufferBytes sizes the reader's buffer: one read from the socket
	// takes in many small pipelined requests at once, and a frame's size
	// and API key are peeked from it before its body is read. Body chunks
	// this large or larger are read straight into the body, past it.
	readBufferBytes = 64 << 10
	// saslReceiveBytesMaxDefault is Kafka's sasl.server.max.receive.size.
	saslReceiveBytesMaxDefault = 512 << 10
	// tlsHandshakeTimeout bounds a TLS handshake, so a client that
	// connects and says nothing holds no goroutine for long.
	tlsHandshakeTimeout = 10 * time.Second
)

// Config holds the server's limits.
type Config struct {
	// RequestBytesMax is socket.request.max.bytes: the largest frame.
	RequestBytesMax int
	// QueuedBytesMax bounds the bytes of requests read but not yet
	// answered across all connections (Kafka's queued.max.request.bytes).
	QueuedBytesMax int64
	// Metrics counts requests and their latency per API; nil for none.
	Metrics *metrics.Metrics
	// SASLReceiveBytesMax is sasl.server.max.receive.size: the largest
	// frame of a connection that has not authenticated on a SASL
	// listener. Decoding costs up to ~40x a frame, so an unauthenticated
	// client gets far less than socket.request.max.bytes
	// (CVE-2022-34917).
	SASLReceiveBytesMax int
	// FailedAuthenticationDelay is
	// connection.failed.authentication.delay.ms: how long a failed
	// authentication's answer waits.
	FailedAuthenticationDelay time.Duration
	// ConnectionsMax is max.connections: the most connections kept open
	// on every listener the server serves; ConnectionsPerIPMax is
	// max.connections.per.ip, and ConnectionsPerIPOverrides replaces it
	// for the IP addresses it names. A connection past a limit is closed
	// as it is accepted, as Kafka closes it. Zero or less is no limit,
	// except in the overrides, where 0 refuses every connection.
	ConnectionsMax            int
	ConnectionsPerIPMax       int
	ConnectionsPerIPOverrides map[string]int
}

// Server serves the Kafka protocol on one listener.
type Server struct {
	cfg     Config
	handler protocol.Handler
	logger  *slog.Logger
	queued  *budget
	// closing is closed by Close, to end the waits of connections.
	closing chan struct{}

	mu     sync.Mutex // guards conns, perIP and closed
	conns  map[net.Conn]struct{}
	perIP  map[string]int // open connections by remote IP, for the limits
	closed bool
	// refusedLogged rate-limits the line about refused connections.
	refusedLogged time.Time
	wg            sync.WaitGroup
}

// New returns a server dispatching to h.
func New(cfg Config, h protocol.Handler, logger *slog.Logger) *Server {
	if cfg.SASLReceiveBytesMax <= 0 {
		cfg.SASLReceiveBytesMax = saslReceiveBytesMaxDefault
	}
	cfg.ConnectionsPerIPOverrides = overridesByIP(cfg.ConnectionsPerIPOverrides, logger)
	return &Server{cfg: cfg, handler: h, logger: logger, queued: newBudget(cfg.QueuedBytesMax),
		conns: map[net.Conn]struct{}{}, perIP: map[string]int{}, closing: make(chan struct{})}
}

// Serve accepts PLAINTEXT connections until ln is closed.
func (s *Server) Serve(ln net.Listener) error { return s.ServeListener(ln, nil) }

// ServeListener accepts connections until ln is closed, secured as sec
// says: TLS first when sec.TLS is set, then SASL authentication before
// any other request when sec.SASL is set. A nil sec is PLAINTEXT.
func (s *Server) ServeListener(ln net.Listener, sec *auth.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		ip := remoteIP(c)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		if limit := s.refuseLocked(ip); limit != "" {
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.perIP[ip]++
		s.wg.Add(1)
		s.mu.Unlock()
		s.cfg.Metrics.ConnectionOpened()
		go func() {
			defer s.wg.Done()
			s.serveConn(c, sec)
			s.mu.Lock()
			delete(s.conns, c)
			if s.perIP[ip]--; s.perIP[ip] <= 0 {
				delete(s.perIP, ip)
			}
			s.mu.Unlock()
			s.cfg.Metrics.ConnectionClosed()
		}()
	}
}

// Close closes every connection and waits for their goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed {
		close(s.closing)
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// pending is a request awaiting its response, in the writer's queue.
type pending struct {
	correlationID int32
	resp          kmsg.Response // ready response, or nil
	done          chan kmsg.Response
	raw           []byte // a v0 SASL token to send bare, without a header
	none          bool   // no response (acks=0)
	closeAfter    bool   // close the connection once earlier responses are sent
	queued        int64  // bytes to release from the broker-wide budget
	key           int16  // API key, for metrics
	received      time.Time
}

// conn is one client connection.
type conn struct {
	s    *Server
	c    net.Conn
	host string
	// principal is who the connection authenticated as: from SASL, from
	// a client certificate on SSL, else Anonymous.
	principal protocol.Principal
	// listener is the listener's name, "" for a bare Serve.
	listener string
	// sasl is the SASL exchange on a SASL listener, nil elsewhere.
	sasl   *saslConn
	queue  chan *pending
	ctx    context.Context
	cancel context.CancelFunc
	// zeroCopy is set on plaintext TCP connections, whose fetched records
	// are sent from the segment files with sendfile; nil elsewhere (a TLS
	// connection must encrypt them), where they are copied.
	zeroCopy syscall.RawConn
}

func (s *Server) serveConn(c net.Conn, sec *auth.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	cn := &conn{s: s, c: c, host: host, principal: protocol.Anonymous, queue: make(chan *pending, inFlightMax), ctx: ctx, cancel: cancel}
	if err := cn.secure(sec); err != nil {
		cancel()
		c.Close()
		level := slog.LevelInfo
		if errors.Is(err, io.EOF) {
			level = slog.LevelDebug // a client that connected and left
		}
		s.logger.Log(ctx, level, "TLS authentication failed", "remote", c.RemoteAddr().String(), "listener", sec.Name, "err", err)
		return
	}
	if tc, ok := cn.c.(*net.TCPConn); ok {
		if raw, err := tc.SyscallConn(); err == nil {
			cn.zeroCopy = raw
		}
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		cn.write()
	}()
	err := cn.read()
	// Pending long polls end now rather than at their MaxWait; fsync waits
	// finish regardless, so acknowledged data stays acknowledged. A client
	// that does not read what is still queued cannot keep the writer, and
	// the segment files its fetches hold, forever.
	cancel()
	cn.c.SetWriteDeadline(time.Now().Add(drainTimeout))
	close(cn.queue)
	<-writerDone
	cn.c.Close()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, errAuthenticationFailed) {
		s.logger.Info("closing connection", "remote", c.RemoteAddr().String(), "err", err)
	}
}

// secure applies the listener's security to a new connection: the TLS
// handshake, bounded by tlsHandshakeTimeout, whose client certificate
// names the principal on an SSL listener (on SASL_SSL the SASL user
// does), and the SASL exchange to come. A nil sec is PLAINTEXT.
func (cn *conn) secure(sec *auth.Listener) error {
	if sec == nil {
		return nil
	}
	cn.listener = sec.Name
	if sec.SASL != nil {
		cn.sasl = &saslConn{listener: sec.SASL}
	}
	if sec.TLS == nil {
		return nil
	}
	tc := tls.Server(cn.c, sec.TLS)
	ctx, cancel := context.WithTimeout(cn.ctx, tlsHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	cn.c = tc
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 && sec.SASL == nil {
		name, err := sec.CertificatePrincipal(certs[0])
		if err != nil {
			return err
		}
		cn.principal = protocol.Principal{Type: "User", Name: name}
	}
	return nil
}

// read decodes requests until the connection ends or misbehaves. Its
// read buffer is taken from a pool when a frame starts and given back
// when it holds nothing more, so an idle connection holds none: it waits
// for the next frame's size reading the socket directly.
func (cn *conn) read() error {
	var r *bufio.Reader // nil while idle
	defer func() { putReader(r) }()
	var sizeBuf [4]byte
	for {
		cn.c.SetReadDeadline(time.Now().Add(idleTimeout))
		var src io.Reader = cn.c
		if r != nil {
			src = r
		}
		size, err := readFrameSize(src, sizeBuf[:])
		if err != nil {
			return err
		}
		if r == nil {
			r = getReader(cn.c)
		}
		preAuth := cn.sasl != nil && !cn.sasl.authenticated()
		key, err := cn.checkFrame(r, size, preAuth)
		if err != nil {
			return err
		}
		body, weight, err := cn.readBody(r, size, key)
		if err != nil {
			return err
		}
		var p *pending
		if key == rawTokenKey {
			p = cn.rawToken(body)
		} else {
			p, err = cn.dispatch(body)
		}
		if key == kmsg.Produce.Int16() && !preAuth {
			// Produce appends its records to the log before the handler
			// returns and keeps no reference to the request's bytes (a
			// decoded request's byte fields alias the body), so its body
			// is reused; other requests' bodies may live on in what their
			// handlers keep.
			putBuffer(body)
		}
		if err != nil {
			cn.s.queued.release(weight)
			return err
		}
		p.queued = weight
		var authErr error
		if preAuth {
			authErr = cn.afterAuthentication()
		}
		select {
		case cn.queue <- p:
		case <-cn.ctx.Done():
			cn.s.queued.release(weight)
			p.discard()
			return cn.ctx.Err()
		}
		if authErr != nil {
			return authErr
		}
		if p.closeAfter {
			return errAcksZeroFailed
		}
		if r.Buffered() == 0 {
			putReader(r)
			r = nil
		}
	}
}

// rawTokenKey stands for the API key of a frame that has none: a SASL
// token after a v0 handshake.
const rawTokenKey = -1

// checkFrame checks a frame's size against the limits that apply to it,
// before its body is read, and returns its API key, peeked from the
// buffer (rawTokenKey for a bare SASL token).
func (cn *conn) checkFrame(r *bufio.Reader, size int, preAuth bool) (int16, error) {
	if preAuth && cn.sasl.step == saslRawToken {
		if size < 0 || size > cn.s.cfg.SASLReceiveBytesMax {
			return 0, fmt.Errorf("%w: SASL token of %d bytes (sasl.server.max.receive.size %d)", errMalformed, size, cn.s.cfg.SASLReceiveBytesMax)
		}
		return rawTokenKey, nil
	}
	if size < headerBytesMin || size > cn.s.cfg.RequestBytesMax {
		return 0, fmt.Errorf("%w: frame of %d bytes (limit %d)", errMalformed, size, cn.s.cfg.RequestBytesMax)
	}
	keyBytes, err := r.Peek(2)
	if err != nil {
		return 0, err
	}
	key := int16(keyBytes[0])<<8 | int16(keyBytes[1])
	if preAuth {
		if err := cn.checkPreAuth(size, key); err != nil {
			return 0, err
		}
	}
	if key != kmsg.Produce.Int16() && size > requestBytesMaxNonProduce {
		return 0, fmt.Errorf("%w: %s frame of %d bytes (limit %d)", errMalformed, kmsg.NameForKey(key), size, requestBytesMaxNonProduce)
	}
	return key, nil
}

// readBody reads a frame body of size bytes, charging the broker-wide
// budget as the bytes arrive, so a client that announces a large frame and
// sends it slowly holds only what it sent. Decoding any API but Produce
// allocates up to ~40x the frame, so those bytes are charged for that.
// It returns the body and the weight to release once answered.
func (cn *conn) readBody(r io.Reader, size int, key int16) ([]byte, int64, error) {
	factor := int64(1)
	if key != kmsg.Produce.Int16() {
		factor = decodeAmplification
	}
	// Waiting for budget counts against the same deadline as reading, so
	// two large frames that each hold part of the budget cannot wait on
	// each other forever.
	deadline := time.Now().Add(frameBodyTimeout)
	cn.c.SetReadDeadline(deadline)
	ctx, cancel := context.WithDeadline(cn.ctx, deadline)
	defer cancel()
	body := getBuffer(min(size, bodyChunkBytes))
	var weight int64
	for len(body) < size {
		n := min(size-len(body), bodyChunkBytes)
		w := min(int64(n)*factor, cn.s.cfg.QueuedBytesMax-weight)
		if err := cn.s.queued.acquire(ctx, w); err != nil {
			cn.s.queued.release(weight)
			return nil, 0, fmt.Errorf("waiting for request memory: %w", err)
		}
		weight += w
		if cap(body)-len(body) < n {
			// Double, so a frame costs at most one extra copy of itself
			// however many chunks it arrives in.
			grown := getBuffer(min(size, max(2*cap(body), len(body)+n)))[:len(body)]
			copy(grown, body)
			putBuffer(body)
			body = grown
		}
		if _, err := io.ReadFull(r, body[len(body):len(body)+n]); err != nil {
			cn.s.queued.release(weight)
			return nil, 0, err
		}
		body = body[:len(body)+n]
	}
	return body, weight, nil
}

// dispatch decodes one request and starts answering it.
func (cn *conn) dispatch(body []byte) (*pending, error) {
	h, rest, err := parseHeader(body, isFlexible)
	if err != nil {
		return nil, err
	}
	p := &pending{correlationID: h.correlationID, key: h.key, received: time.Now()}
	if !protocol.Supported(h.key, h.version) {
		if h.key == kmsg.ApiVersions.Int16() {
			// Kafka answers an ApiVersions it cannot parse at v0 with
			// UNSUPPORTED_VERSION and its table; the client retries.
			p.resp = protocol.UnsupportedApiVersions()
			return p, nil
		}
		return nil, fmt.Errorf("%w: %s v%d is not supported", errMalformed, kmsg.NameForKey(h.key), h.version)
	}
	req := kmsg.RequestForKey(h.key)
	req.SetVersion(h.version)
	if err := req.ReadFrom(rest); err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %v", errMalformed, kmsg.NameForKey(h.key), h.version, err)
	}
	r := &protocol.Request{Msg: req, ClientID: h.clientID, Host: cn.host, Principal: cn.principal, Listener: cn.listener}
	if cn.sasl != nil {
		r.SASL = cn.sasl
	}
	reply := cn.s.handler.Handle(cn.ctx, r)
	switch {
	case reply.None:
		p.none, p.closeAfter = true, reply.Close
	case reply.Wait != nil:
		p.done = make(chan kmsg.Response, 1)
		go func() { p.done <- reply.Wait(cn.ctx) }()
	default:
		p.resp = reply.Msg
	}
	return p, nil
}
