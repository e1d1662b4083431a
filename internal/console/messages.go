package console

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/admin"
)

// shownBytesMax bounds how much of one key, value or header value a
// browse returns; the rest is cut and the field marked truncated.
const shownBytesMax = 64 << 10

// message is one record as the API shows it.
type message struct {
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Timestamp int64    `json:"timestamp"` // unix ms
	Time      string   `json:"time"`      // RFC 3339, UTC
	Key       payload  `json:"key"`
	Value     payload  `json:"value"`
	Headers   []header `json:"headers"`
}

type header struct {
	Key   string  `json:"key"`
	Value payload `json:"value"`
}

// payload is a key, value or header value made readable: JSON is
// pretty-printed, UTF-8 text is shown as is, anything else as hex.
type payload struct {
	// Encoding is "null", "json", "text" or "hex".
	Encoding  string `json:"encoding"`
	Data      string `json:"data"`
	Size      int    `json:"size"` // bytes, before any truncation
	Truncated bool   `json:"truncated,omitempty"`
}

func newMessage(r admin.Record) message {
	m := message{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
		Time: time.UnixMilli(r.Timestamp).UTC().Format(time.RFC3339Nano),
		Key:  newPayload(r.Key), Value: newPayload(r.Value), Headers: []header{}}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, header{Key: h.Key, Value: newPayload(h.Value)})
	}
	return m
}

// newPayload classifies b. Only whole values are checked for JSON, so a
// truncated JSON value shows as text.
func newPayload(b []byte) payload {
	if b == nil {
		return payload{Encoding: "null"}
	}
	p := payload{Size: len(b)}
	if len(b) <= shownBytesMax && looksLikeJSON(b) {
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") == nil {
			p.Encoding, p.Data = "json", out.String()
			return p
		}
	}
	if len(b) > shownBytesMax {
		b, p.Truncated = b[:shownBytesMax], true
	}
	if isText(b, p.Truncated) {
		p.Encoding, p.Data = "text", string(b)
		return p
	}
	p.Encoding, p.Data = "hex", hex.EncodeToString(b)
	return p
}

// looksLikeJSON accepts objects and arrays only: a bare number or string
// is better shown as the text it is.
func looksLikeJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && (b[0] == '{' || b[0] == '[') && json.Valid(b)
}

// isText reports whether b is printable UTF-8 (tabs and newlines allowed).
// A cut value may end inside a rune; that is not held against it.
func isText(b []byte, cut bool) bool {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			return cut && !utf8.FullRune(b)
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
		b = b[size:]
	}
	return true
}
