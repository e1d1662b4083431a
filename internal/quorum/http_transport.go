package quorum

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The HTTP transport POSTs batches of messages to
// http://<voter address>/raft/messages. The body is a sequence of
// [u32 big-endian length][marshalled raftpb.Message]; a 204 answer means
// every message was handed to the receiving node.
const (
	messagesPath       = "/raft/messages"
	messagesMediaType  = "application/x-sluice-raft-messages"
	messageLengthBytes = 4

	// requestBytesMax bounds a request body, on both sides. A snapshot must
	// fit in one request.
	requestBytesMax = 64 << 20
	// requestMessagesMax bounds the messages in one request, so a body of
	// tiny garbage messages cannot make the receiver allocate per message
	// without bound.
	requestMessagesMax = 4096
	// peerQueueMessagesMax bounds messages waiting for one voter; beyond
	// it they are dropped and raft retransmits.
	peerQueueMessagesMax = 4096
	// batchMessagesMax and batchBytesMax bound one request's batch.
	batchMessagesMax = 512
	batchBytesMax    = 4 << 20

	dialTimeout = time.Second
	// requestTimeout bounds one POST; snapshotRequestTimeout one carrying
	// a snapshot, which may be tens of megabytes.
	requestTimeout         = 5 * time.Second
	snapshotRequestTimeout = time.Minute
	// errorBodyBytesMax bounds how much of an error answer is read.
	errorBodyBytesMax = 512
)

var errPeerQueueFull = errors.New("send queue full (voter slow or unreachable)")

// HTTPTransport sends raft messages to the other voters over HTTP/1.1
// with keep-alive, one goroutine and one bounded queue per voter.
// Receiving is Node.Handler's job.
type HTTPTransport struct {
	self   int32
	peers  map[int32]*httpPeer // read-only after NewHTTPTransport
	client *http.Client
	logger *slog.Logger

	inbox     Inbox // set by Start
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// httpPeer is one voter messages are sent to.
type httpPeer struct {
	id    int32
	url   string
	queue chan *raftpb.Message // bounded by peerQueueMessagesMax
	// held is a message taken from queue that did not fit the last batch.
	// Owned by the peer's goroutine.
	held *raftpb.Message
}

// NewHTTPTransport returns a transport for node self of the given voters
// (node id -> "host:port").
func NewHTTPTransport(self int32, voters map[int32]string, logger *slog.Logger) (*HTTPTransport, error) {
	if logger == nil {
		logger = slog.Default()
	}
	t := &HTTPTransport{
		self:   self,
		peers:  make(map[int32]*httpPeer, len(voters)),
		logger: logger,
		client: &http.Client{Transport: &http.Transport{
			// No proxy from the environment: voters talk to each other directly.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
		}},
	}
	for id, addr := range voters {
		if id == self {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("quorum: voter %d address %q: %w", id, addr, err)
		}
		t.peers[id] = &httpPeer{
			id:    id,
			url:   "http://" + addr + messagesPath,
			queue: make(chan *raftpb.Message, peerQueueMessagesMax),
		}
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t, nil
}

// Start starts one sending goroutine per voter.
func (t *HTTPTransport) Start(in Inbox) error {
	t.inbox = in
	for _, p := range t.peers {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.sendLoop(p)
		}()
	}
	return nil
}

// Send queues each message for its voter, dropping it when the queue is
// full.
func (t *HTTPTransport) Send(msgs []*raftpb.Message) {
	for _, m := range msgs {
		to := nodeID(m.GetTo())
		p := t.peers[to]
		if p == nil {
			t.logger.Error("quorum: message for a node that is not a voter", "to", to, "type", m.GetType())
			continue
		}
		select {
		case p.queue <- m:
		default:
			t.report(to, []*raftpb.Message{m}, errPeerQueueFull)
		}
	}
}

// Close stops the sending goroutines, abandoning queued messages.
func (t *HTTPTransport) Close() error {
	t.closeOnce.Do(func() {
		t.cancel()
		t.wg.Wait()
		t.client.CloseIdleConnections()
	})
	return nil
}

func (t *HTTPTransport) sendLoop(p *httpPeer) {
	for {
		first := p.held
		p.held = nil
		if first == nil {
			select {
			case <-t.ctx.Done():
				return
			case first = <-p.queue:
			}
		}
		batch := p.collect(first)
		err := t.post(p, batch)
		if t.ctx.Err() != nil {
			return // closing: the node is gone, nobody to report to
		}
		t.report(p.id, batch, err)
	}
}

// collect adds queued messages to first, up to the batch limits.
func (p *httpPeer) collect(first *raftpb.Message) []*raftpb.Message {
	batch := []*raftpb.Message{first}
	size := proto.Size(first)
	for len(batch) < batchMessagesMax {
		select {
		case m := <-p.queue:
			if size+proto.Size(m) > batchBytesMax {
				p.held = m
				return batch
			}
			batch = append(batch, m)
			size += proto.Size(m)
		default:
			return batch
		}
	}
	return batch
}

func (t *HTTPTransport) post(p *httpPeer, batch []*raftpb.Message) error {
	body, err := encodeMessages(batch)
	if err != nil {
		return err
	}
	timeout := requestTimeout
	if hasSnapshot(batch) {
		timeout = snapshotRequestTimeout
	}
	ctx, cancel := context.WithTimeout(t.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request for %s: %w", p.url, err)
	}
	req.Header.Set("Content-Type", messagesMediaType)
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyBytesMax))
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%s answered %s: %s", p.url, resp.Status, bytes.TrimSpace(text))
	}
	return nil
}

// report tells the node how a batch went: raft needs every MsgSnap
// reported, and a failure makes it back off from that voter.
func (t *HTTPTransport) report(to int32, batch []*raftpb.Message, err error) {
	t.inbox.SendResult(to, err)
	for _, m := range batch {
		if m.GetType() == raftpb.MsgSnap {
			t.inbox.SnapshotResult(to, err)
		}
	}
}

func hasSnapshot(batch []*raftpb.Message) bool {
	for _, m := range batch {
		if m.GetType() == raftpb.MsgSnap {
			return true
		}
	}
	return false
}

func encodeMessages(batch []*raftpb.Message) ([]byte, error) {
	var body []byte
	for _, m := range batch {
		data, err := proto.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("marshal %v: %w", m.GetType(), err)
		}
		body = binary.BigEndian.AppendUint32(body, uint32(len(data)))
		body = append(body, data...)
	}
	if len(body) > requestBytesMax {
		return nil, fmt.Errorf("%d-byte request is over the %d-byte limit (a snapshot too large to send?)", len(body), requestBytesMax)
	}
	return body, nil
}

// httpHandler receives message batches for one node.
type httpHandler struct {
	inbox  Inbox
	self   uint64          // raft id
	voters map[uint64]bool // raft ids
}

func newHTTPHandler(in Inbox, self int32, voters map[int32]string) *httpHandler {
	h := &httpHandler{inbox: in, self: raftID(self), voters: make(map[uint64]bool, len(voters))}
	for id := range voters {
		h.voters[raftID(id)] = true
	}
	return h
}

// ServeHTTP accepts the path with or without the "/raft" prefix, so the
// handler works whether or not the caller strips it.
func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != messagesPath && r.URL.Path != "/messages" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body := http.MaxBytesReader(w, r.Body, requestBytesMax)
	if err := h.receive(bufio.NewReader(body)); err != nil {
		http.Error(w, err.Error(), statusFor(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// receive decodes, checks and delivers messages one by one, so memory is
// bounded by one message rather than by the batch.
func (h *httpHandler) receive(r *bufio.Reader) error {
	for count := 0; ; count++ {
		var lengthBytes [messageLengthBytes]byte
		if _, err := io.ReadFull(r, lengthBytes[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("message %d: length: %w", count, err)
		}
		if count == requestMessagesMax {
			return fmt.Errorf("more than %d messages in one request", requestMessagesMax)
		}
		length := binary.BigEndian.Uint32(lengthBytes[:])
		if length > requestBytesMax {
			return fmt.Errorf("message %d: length %d over the %d-byte limit", count, length, requestBytesMax)
		}
		data := make([]byte, length)
		if _, err := io.ReadFull(r, data); err != nil {
			return fmt.Errorf("message %d: %w", count, err)
		}
		m := &raftpb.Message{}
		if err := proto.Unmarshal(data, m); err != nil {
			return fmt.Errorf("message %d: %w", count, err)
		}
		if err := h.check(m); err != nil {
			return fmt.Errorf("message %d: %w", count, err)
		}
		if err := h.inbox.Deliver(m); err != nil {
			return err
		}
	}
}

// check rejects messages that raft must never see: for another node (two
// voters configured with swapped addresses), from a non-voter, or of a type
// only a node sends itself.
func (h *httpHandler) check(m *raftpb.Message) error {
	if m.GetTo() != h.self {
		return fmt.Errorf("message for node %d reached node %d: check controller.quorum.voters", nodeID(m.GetTo()), nodeID(h.self))
	}
	if !h.voters[m.GetFrom()] || m.GetFrom() == h.self {
		return fmt.Errorf("message from node %d, which is not another voter", nodeID(m.GetFrom()))
	}
	if raft.IsLocalMsg(m.GetType()) {
		return fmt.Errorf("message type %v is local to a node", m.GetType())
	}
	return nil
}

func statusFor(err error) int {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, ErrBusy), errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
