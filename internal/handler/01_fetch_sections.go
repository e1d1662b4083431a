package handler

// A Fetch answer whose record batches stay in the segment files until the
// server sends them: with sendfile(2) on plaintext TCP, or copied by
// AppendTo on any other connection.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/replica"
)

// FetchResponse is a Fetch response whose partitions' record batches are
// log Sections, not bytes: their RecordBatches fields stay empty until the
// response is encoded. The server writes it with AppendSplit and the
// sections (zero-copy) or with AppendTo (copying), then calls Release.
type FetchResponse struct {
	*kmsg.FetchResponse
	sections []fetchSection // in encoding order
	// topicNames holds each response topic's name, "" when unknown, for
	// the bytes-out metric.
	topicNames []string
}

// fetchSection places a section in the response: Topics[topic].
// Partitions[partition].RecordBatches.
type fetchSection struct {
	topic, partition int
	sec              replica.Section
}

func newFetchResponse(req *kmsg.FetchRequest) *FetchResponse {
	return &FetchResponse{FetchResponse: req.ResponseKind().(*kmsg.FetchResponse)}
}

// Sections returns the record sections in the order AppendSplit cuts for
// them.
func (r *FetchResponse) Sections() []replica.Section {
	out := make([]replica.Section, len(r.sections))
	for i, fs := range r.sections {
		out[i] = fs.sec
	}
	return out
}

// SectionBytes returns the bytes of all sections.
func (r *FetchResponse) SectionBytes() int {
	n := 0
	for _, fs := range r.sections {
		n += fs.sec.Len()
	}
	return n
}

// Release lets go of the sections; the response must not be encoded after.
func (r *FetchResponse) Release() {
	for _, fs := range r.sections {
		fs.sec.Release()
	}
	r.sections = nil
}

// AppendTo appends the whole response with the record bytes copied in,
// implementing kmsg.Response: the copying path. A section that cannot be
// read (its file cut short by a truncation) answers its partition with
// KAFKA_STORAGE_ERROR instead.
func (r *FetchResponse) AppendTo(dst []byte) []byte {
	if len(r.sections) == 0 {
		return r.FetchResponse.AppendTo(dst)
	}
	start := len(dst)
	body, cuts := r.AppendSplit(nil)
	dst = append(dst, body[:cuts[0]]...)
	for i, fs := range r.sections {
		var err error
		if dst, err = fs.sec.AppendTo(dst); err != nil {
			return r.appendMaterialized(dst[:start])
		}
		end := len(body)
		if i+1 < len(cuts) {
			end = cuts[i+1]
		}
		dst = append(dst, body[cuts[i]:end]...)
	}
	return dst
}

// appendMaterialized copies every section into its RecordBatches, or
// marks its partition failed, and encodes the result.
func (r *FetchResponse) appendMaterialized(dst []byte) []byte {
	for _, fs := range r.sections {
		sp := &r.Topics[fs.topic].Partitions[fs.partition]
		b, err := fs.sec.AppendTo(nil)
		if err != nil {
			sp.ErrorCode, b = kerr.KafkaStorageError.Code, []byte{}
		}
		sp.RecordBatches = b
	}
	out := r.FetchResponse.AppendTo(dst)
	for _, fs := range r.sections {
		r.Topics[fs.topic].Partitions[fs.partition].RecordBatches = []byte{}
	}
	return out
}

// placeholderNonceBytes and placeholderBytes size the stand-in that a
// section's RecordBatches holds while kmsg encodes the response: a random
// nonce, fresh for every encoding, then the section's index.
const (
	placeholderNonceBytes = 12
	placeholderBytes      = placeholderNonceBytes + 4
	// placeholderAttemptsMax bounds the encodings AppendSplit tries; each
	// fails only if the response's other bytes happen to contain the
	// 96-bit random nonce.
	placeholderAttemptsMax = 8
)

// AppendSplit appends the encoded response to dst without the sections'
// bytes: cuts[i] is the position in the result where section i's bytes go,
// just after their length prefix. Writing the result's bytes up to
// cuts[0], section 0, the bytes up to cuts[1], and so on, and the rest
// after the last section, gives the same bytes AppendTo does.
//
// kmsg encodes the response with a placeholder in each section's
// RecordBatches, and the placeholders are then cut out and their length
// prefixes rewritten. The nonce in the placeholders is checked to occur
// exactly where they are: should the other bytes contain it, the response
// is encoded again with another.
func (r *FetchResponse) AppendSplit(dst []byte) ([]byte, []int) {
	if len(r.sections) == 0 {
		return r.FetchResponse.AppendTo(dst), nil
	}
	placeholders := make([]byte, placeholderBytes*len(r.sections))
	defer func() {
		for _, fs := range r.sections {
			r.Topics[fs.topic].Partitions[fs.partition].RecordBatches = []byte{}
		}
	}()
	for range placeholderAttemptsMax {
		var nonce [placeholderNonceBytes]byte
		binary.LittleEndian.PutUint64(nonce[:], rand.Uint64())
		binary.LittleEndian.PutUint32(nonce[8:], rand.Uint32())
		for i, fs := range r.sections {
			p := placeholders[i*placeholderBytes : (i+1)*placeholderBytes]
			copy(p, nonce[:])
			binary.BigEndian.PutUint32(p[placeholderNonceBytes:], uint32(i))
			r.Topics[fs.topic].Partitions[fs.partition].RecordBatches = p
		}
		out := r.FetchResponse.AppendTo(dst)
		if cuts, end, ok := r.cutPlaceholders(out, len(dst), nonce[:]); ok {
			return out[:end], cuts
		}
	}
	panic(fmt.Sprintf("handler: fetch response placeholders collided %d times", placeholderAttemptsMax))
}

// cutPlaceholders removes the placeholders from the encoding in b[start:],
// in place, writing the sections' length prefixes instead of the
// placeholders', and returns where the encoding now ends. ok is false if
// the nonce occurs anywhere else.
func (r *FetchResponse) cutPlaceholders(b []byte, start int, nonce []byte) (cuts []int, end int, ok bool) {
	flexible := r.IsFlexible()
	oldPrefix := appendBytesLen(nil, placeholderBytes, flexible)
	cuts = make([]int, 0, len(r.sections))
	// Everything before read is done; everything before write is final.
	read, write := start, start
	for i, fs := range r.sections {
		at := bytes.Index(b[read:], nonce)
		if at < 0 {
			panic("handler: fetch response placeholder missing after encoding")
		}
		at += read
		prefixAt := at - len(oldPrefix)
		if binary.BigEndian.Uint32(b[at+placeholderNonceBytes:]) != uint32(i) ||
			prefixAt < read || !bytes.Equal(b[prefixAt:at], oldPrefix) {
			return nil, 0, false // the nonce occurred by chance before placeholder i
		}
		write += copy(b[write:], b[read:prefixAt])
		// The new prefix is never longer than the placeholder and its
		// prefix it replaces, so it overwrites only bytes already read.
		write += len(appendBytesLen(b[write:write], fs.sec.Len(), flexible))
		cuts = append(cuts, write)
		read = at + placeholderBytes
	}
	if bytes.Contains(b[read:], nonce) {
		return nil, 0, false
	}
	write += copy(b[write:], b[read:])
	return cuts, write, true
}

// appendBytesLen appends the length prefix of a non-null bytes field as
// kmsg writes it: compact (uvarint length+1) in flexible versions, int32
// before.
func appendBytesLen(dst []byte, n int, flexible bool) []byte {
	if flexible {
		return binary.AppendUvarint(dst, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// count adds the response's record bytes to each known topic's bytes-out
// counter: one counter lookup per topic, none per record.
func (r *FetchResponse) count(m *metrics.Metrics) {
	if m == nil {
		return
	}
	next := 0 // sections are in topic order
	for ti, name := range r.topicNames {
		var n int64
		for ; next < len(r.sections) && r.sections[next].topic == ti; next++ {
			n += int64(r.sections[next].sec.Len())
		}
		if name != "" {
			m.Fetched(name, n)
		}
	}
}
