package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/protocol"
)

// headerBytes builds a request header by hand, as a client writes it: key,
// version, correlation id, a nullable client id (nil is null), and for
// header v2 a tagged-field section (tags is then the raw section, nil
// writes no section at all).
func headerBytes(key, version int16, correlationID int32, clientID *string, tags []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(correlationID))
	if clientID == nil {
		b = binary.BigEndian.AppendUint16(b, math.MaxUint16) // -1: null
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(*clientID)))
		b = append(b, *clientID...)
	}
	return append(b, tags...)
}

func strPtr(s string) *string { return &s }

// noTags is an empty tagged-field section.
var noTags = []byte{0}

func TestParseHeader(t *testing.T) {
	body := []byte("request-body")
	tests := []struct {
		name     string
		in       []byte
		flexible bool
		want     header
		rest     []byte
		err      bool
	}{
		{name: "empty", in: nil, err: true},
		{name: "shorter than key version correlation", in: []byte{0, 18, 0, 3, 0, 0, 0}, err: true},
		{name: "no client id length", in: []byte{0, 18, 0, 0, 0, 0, 0, 7}, err: true},
		{name: "half a client id length", in: []byte{0, 18, 0, 0, 0, 0, 0, 7, 0}, err: true},
		{
			name: "v1 null client id",
			in:   append(headerBytes(3, 1, 7, nil, nil), body...),
			want: header{key: 3, version: 1, correlationID: 7}, rest: body,
		},
		{
			name: "v1 empty client id",
			in:   append(headerBytes(3, 1, 7, strPtr(""), nil), body...),
			want: header{key: 3, version: 1, correlationID: 7}, rest: body,
		},
		{
			name: "v1 client id",
			in:   append(headerBytes(0, 9, -5, strPtr("kafka-python-2.0.2"), nil), body...),
			want: header{key: 0, version: 9, correlationID: -5, clientID: "kafka-python-2.0.2"}, rest: body,
		},
		{
			name: "v1 client id and no body",
			in:   headerBytes(18, 0, 1, strPtr("x"), nil),
			want: header{key: 18, version: 0, correlationID: 1, clientID: "x"}, rest: []byte{},
		},
		{
			name: "v1 body that looks like tags is not skipped",
			in:   headerBytes(3, 1, 1, nil, []byte{1, 0, 0}),
			want: header{key: 3, version: 1, correlationID: 1}, rest: []byte{1, 0, 0},
		},
		{name: "client id longer than frame", in: headerBytes(3, 1, 1, nil, nil)[:8:8], err: true},
		{name: "client id length past end", in: append([]byte{0, 3, 0, 1, 0, 0, 0, 1, 0, 5}, "abcd"...), err: true},
		{name: "client id length -2", in: []byte{0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xfe}, err: true},
		{name: "client id length -32768", in: []byte{0, 3, 0, 1, 0, 0, 0, 1, 0x80, 0x00}, err: true},
		{
			name: "v2 no tags", flexible: true,
			in:   append(headerBytes(3, 12, 9, strPtr("franz-go"), noTags), body...),
			want: header{key: 3, version: 12, correlationID: 9, clientID: "franz-go"}, rest: body,
		},
		{
			name: "v2 null client id", flexible: true,
			in:   append(headerBytes(18, 3, 9, nil, noTags), body...),
			want: header{key: 18, version: 3, correlationID: 9}, rest: body,
		},
		{
			name: "v2 two tags skipped", flexible: true,
			// two tags: tag 0 of 3 bytes, tag 5 of 0 bytes.
			in:   append(headerBytes(3, 12, 9, strPtr("c"), []byte{2, 0, 3, 'a', 'b', 'c', 5, 0}), body...),
			want: header{key: 3, version: 12, correlationID: 9, clientID: "c"}, rest: body,
		},
		{
			name: "v2 tag with multi-byte varint key and size", flexible: true,
			in:   append(headerBytes(3, 12, 9, nil, append([]byte{1, 0x80, 0x01, 0x81, 0x01}, make([]byte, 129)...)), body...),
			want: header{key: 3, version: 12, correlationID: 9}, rest: body,
		},
		{name: "v2 missing tag section", flexible: true, in: headerBytes(3, 12, 9, nil, nil), err: true},
		{name: "v2 tag count beyond frame", flexible: true, in: headerBytes(3, 12, 9, nil, []byte{5, 0, 0}), err: true},
		{name: "v2 tag count overflows", flexible: true, in: headerBytes(3, 12, 9, nil, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), err: true},
		{name: "v2 tag size beyond frame", flexible: true, in: headerBytes(3, 12, 9, nil, []byte{1, 0, 4, 'a', 'b'}), err: true},
		{name: "v2 tag key truncated", flexible: true, in: headerBytes(3, 12, 9, nil, []byte{1, 0x80}), err: true},
		{name: "v2 tag size missing", flexible: true, in: headerBytes(3, 12, 9, nil, []byte{1, 0}), err: true},
		{name: "v2 huge tag size", flexible: true, in: headerBytes(3, 12, 9, nil, []byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}), err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flexible := func(int16, int16) bool { return tt.flexible }
			h, rest, err := parseHeader(tt.in, flexible)
			if tt.err {
				if err == nil {
					t.Fatalf("parseHeader(%x) = %+v, %x, nil; want an error", tt.in, h, rest)
				}
				if !errors.Is(err, errMalformed) {
					t.Errorf("error %v does not wrap errMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseHeader(%x): %v", tt.in, err)
			}
			if h != tt.want {
				t.Errorf("header = %+v, want %+v", h, tt.want)
			}
			if !bytes.Equal(rest, tt.rest) {
				t.Errorf("rest = %q, want %q", rest, tt.rest)
			}
		})
	}
}

// TestParseHeaderMatchesFranzGo checks our reading of the headers franz-go
// writes, for every advertised version of every API: the real isFlexible
// must skip exactly the tags franz-go's formatter put there.
func TestParseHeaderMatchesFranzGo(t *testing.T) {
	for _, clientID := range []*string{nil, strPtr(""), strPtr("sluice-test")} {
		var opts []kmsg.RequestFormatterOpt
		if clientID != nil {
			opts = append(opts, kmsg.FormatterClientID(*clientID))
		}
		formatter := kmsg.NewRequestFormatter(opts...)
		for _, ak := range protocol.UnsupportedApiVersions().ApiKeys {
			for v := ak.MinVersion; v <= ak.MaxVersion; v++ {
				req := kmsg.RequestForKey(ak.ApiKey)
				req.SetVersion(v)
				wantBody := req.AppendTo(nil)
				frame := formatter.AppendRequest(nil, req, 42)
				if got := int(binary.BigEndian.Uint32(frame)); got != len(frame)-4 {
					t.Fatalf("franz-go frame size %d, have %d bytes", got, len(frame)-4)
				}
				h, rest, err := parseHeader(frame[4:], isFlexible)
				if err != nil {
					t.Fatalf("%s v%d: %v", kmsg.NameForKey(ak.ApiKey), v, err)
				}
				want := header{key: ak.ApiKey, version: v, correlationID: 42}
				if clientID != nil {
					want.clientID = *clientID
				}
				if h != want {
					t.Errorf("%s v%d: header %+v, want %+v", kmsg.NameForKey(ak.ApiKey), v, h, want)
				}
				if !bytes.Equal(rest, wantBody) {
					t.Errorf("%s v%d: body %x, want %x", kmsg.NameForKey(ak.ApiKey), v, rest, wantBody)
				}
				// And our hand-written header agrees with franz-go's.
				var tags []byte
				if req.IsFlexible() {
					tags = noTags
				}
				// franz-go writes a null client id when none is set.
				hand := append(headerBytes(ak.ApiKey, v, 42, clientID, tags), wantBody...)
				if !bytes.Equal(hand, frame[4:]) {
					t.Errorf("%s v%d: hand-built frame %x, franz-go %x", kmsg.NameForKey(ak.ApiKey), v, hand, frame[4:])
				}
			}
		}
	}
}

func TestHeaderIsFlexible(t *testing.T) {
	tests := []struct {
		key, version int16
		want         bool
	}{
		{kmsg.ApiVersions.Int16(), 0, false},
		{kmsg.ApiVersions.Int16(), 2, false},
		{kmsg.ApiVersions.Int16(), 3, true},
		// A version from the future still uses header v2, so that the
		// client id and tags of an unsupported ApiVersions are skipped.
		{kmsg.ApiVersions.Int16(), 99, true},
		{kmsg.Metadata.Int16(), 8, false},
		{kmsg.Metadata.Int16(), 9, true},
		{kmsg.Produce.Int16(), 8, false},
		{kmsg.Produce.Int16(), 9, true},
		{kmsg.Fetch.Int16(), 11, false},
		{kmsg.Fetch.Int16(), 12, true},
		{kmsg.CreateTopics.Int16(), 4, false},
		{kmsg.CreateTopics.Int16(), 5, true},
		{-1, 0, false},
		{9999, 3, false},
	}
	for _, tt := range tests {
		if got := isFlexible(tt.key, tt.version); got != tt.want {
			t.Errorf("isFlexible(%s, %d) = %v, want %v", kmsg.NameForKey(tt.key), tt.version, got, tt.want)
		}
	}
}

func TestReadFrameSize(t *testing.T) {
	tests := []struct {
		in   []byte
		want int
		err  bool
	}{
		{in: []byte{0, 0, 0, 8}, want: 8},
		{in: []byte{0x7f, 0xff, 0xff, 0xff}, want: math.MaxInt32},
		// 2 GiB claimed: negative as Kafka's int32, so below any minimum.
		{in: []byte{0x80, 0, 0, 0}, want: math.MinInt32},
		{in: []byte{0xff, 0xff, 0xff, 0xff}, want: -1},
		{in: []byte{0, 0, 1}, err: true},
		{in: nil, err: true},
	}
	for _, tt := range tests {
		var buf [4]byte
		got, err := readFrameSize(bytes.NewReader(tt.in), buf[:])
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("readFrameSize(%x) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestAppendResponseHeader checks the response header versions: v0 (just
// the correlation id) for non-flexible responses and for ApiVersions at
// every version, v1 (with an empty tag section) for the other flexible
// responses.
func TestFrameResponseHeader(t *testing.T) {
	tests := []struct{ resp kmsg.Response }{
		{kmsg.NewPtrApiVersionsResponse()},
		{kmsg.NewPtrMetadataResponse()},
		{kmsg.NewPtrFetchResponse()},
		{kmsg.NewPtrCreateTopicsResponse()},
	}
	for _, tt := range tests {
		for v := int16(0); v <= tt.resp.MaxVersion(); v++ {
			tt.resp.SetVersion(v)
			prefix := []byte("junk")
			out := appendResponse(append([]byte(nil), prefix...), 77, tt.resp)
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("appendResponse overwrote dst")
			}
			frame := out[len(prefix):]
			if size := int(binary.BigEndian.Uint32(frame)); size != len(frame)-4 {
				t.Fatalf("%s v%d: size %d, frame has %d bytes", kmsg.NameForKey(tt.resp.Key()), v, size, len(frame)-4)
			}
			if corr := int32(binary.BigEndian.Uint32(frame[4:])); corr != 77 {
				t.Errorf("%s v%d: correlation id %d", kmsg.NameForKey(tt.resp.Key()), v, corr)
			}
			body := tt.resp.AppendTo(nil)
			wantTags := tt.resp.IsFlexible() && tt.resp.Key() != kmsg.ApiVersions.Int16()
			headerLen := 8
			if wantTags {
				headerLen = 9
				if frame[8] != 0 {
					t.Errorf("%s v%d: response header tag section %d, want 0", kmsg.NameForKey(tt.resp.Key()), v, frame[8])
				}
			}
			if !bytes.Equal(frame[headerLen:], body) {
				t.Errorf("%s v%d: body does not follow a %d-byte header", kmsg.NameForKey(tt.resp.Key()), v, headerLen)
			}
			// The body decodes back at its version.
			back := kmsg.ResponseForKey(tt.resp.Key())
			back.SetVersion(v)
			if err := back.ReadFrom(frame[headerLen:]); err != nil {
				t.Errorf("%s v%d: decode own response: %v", kmsg.NameForKey(tt.resp.Key()), v, err)
			}
		}
	}
}

// decodeRequest is the decode half of conn.dispatch: header, version
// check, then kmsg. It reports what dispatch would do: answer (req set),
// answer ApiVersions with UNSUPPORTED_VERSION, or close (err).
func decodeRequest(body []byte) (h header, req kmsg.Request, unsupportedApiVersions bool, err error) {
	h, rest, err := parseHeader(body, isFlexible)
	if err != nil {
		return h, nil, false, err
	}
	if !protocol.Supported(h.key, h.version) {
		if h.key == kmsg.ApiVersions.Int16() {
			return h, nil, true, nil
		}
		return h, nil, false, errMalformed
	}
	req = kmsg.RequestForKey(h.key)
	req.SetVersion(h.version)
	if err := req.ReadFrom(rest); err != nil {
		return h, nil, false, err
	}
	return h, req, false, nil
}

// seedFrames returns one valid frame body (no size prefix) per advertised
// version of every API, with a few populated requests, as fuzz seeds.
func seedFrames() [][]byte {
	var seeds [][]byte
	add := func(req kmsg.Request, correlationID int32) {
		frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz")).AppendRequest(nil, req, correlationID)
		seeds = append(seeds, frame[4:])
	}
	for _, ak := range protocol.UnsupportedApiVersions().ApiKeys {
		for v := ak.MinVersion; v <= ak.MaxVersion; v++ {
			req := kmsg.RequestForKey(ak.ApiKey)
			req.SetVersion(v)
			add(req, int32(v))
		}
	}
	meta := kmsg.NewPtrMetadataRequest()
	meta.SetVersion(12)
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = strPtr("fuzz-topic")
	meta.Topics = append(meta.Topics, mt)
	add(meta, 1)

	fetch := kmsg.NewPtrFetchRequest()
	fetch.SetVersion(12)
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "fuzz-topic"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	add(fetch, 2)

	produce := kmsg.NewPtrProduceRequest()
	produce.SetVersion(9)
	produce.Acks = 1
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "fuzz-topic"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	pt.Partitions = append(pt.Partitions, pp)
	produce.Topics = append(produce.Topics, pt)
	add(produce, 3)

	lo := kmsg.NewPtrListOffsetsRequest()
	lo.SetVersion(8)
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "fuzz-topic"
	for i, ts := range []int64{-1, -2, -3, -4, -5, 0, 1 << 40} {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = int32(i%3), ts
		lt.Partitions = append(lt.Partitions, lp)
	}
	lo.Topics = append(lo.Topics, lt)
	add(lo, 5)

	dc := kmsg.NewPtrDescribeConfigsRequest()
	dc.SetVersion(4)
	dc.IncludeSynonyms, dc.IncludeDocumentation = true, true
	for _, r := range []struct {
		typ  kmsg.ConfigResourceType
		name string
	}{{kmsg.ConfigResourceTypeTopic, "fuzz-topic"}, {kmsg.ConfigResourceTypeTopic, "missing"}, {kmsg.ConfigResourceTypeBroker, "1"}, {kmsg.ConfigResourceTypeBroker, "7"}, {kmsg.ConfigResourceTypeBrokerLogger, "1"}} {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = r.typ, r.name
		dc.Resources = append(dc.Resources, rr)
	}
	add(dc, 6)

	ipid := kmsg.NewPtrInitProducerIDRequest()
	ipid.SetVersion(4)
	add(ipid, 7)
	ipid = kmsg.NewPtrInitProducerIDRequest()
	ipid.SetVersion(4)
	ipid.TransactionalID = strPtr("txn")
	add(ipid, 8)

	dl := kmsg.NewPtrDescribeLogDirsRequest()
	dl.SetVersion(4)
	add(dl, 9)

	for _, v := range []int16{0, 1, 4, 12} {
		md := kmsg.NewPtrMetadataRequest()
		md.SetVersion(v)
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = strPtr("fuzz-topic")
		md.Topics = append(md.Topics, mt)
		mt = kmsg.NewMetadataRequestTopic()
		mt.Topic = strPtr("a/b")
		md.Topics = append(md.Topics, mt)
		add(md, 10+int32(v))
	}

	av := kmsg.NewPtrApiVersionsRequest()
	av.SetVersion(3)
	av.ClientSoftwareName, av.ClientSoftwareVersion = "sluice", "0.1"
	add(av, 4)
	// ApiVersions from the future, and unknown API keys.
	seeds = append(seeds, headerBytes(18, 99, 5, strPtr("x"), []byte{0, 1, 2, 3}))
	seeds = append(seeds, headerBytes(18, -1, 5, nil, nil))
	seeds = append(seeds, headerBytes(9999, 0, 6, nil, nil))
	return seeds
}

func TestFrameDecodeSeeds(t *testing.T) {
	for _, body := range seedFrames() {
		h, req, unsupported, err := decodeRequest(body)
		switch {
		case h.key == 9999:
			if err == nil {
				t.Errorf("unknown key 9999 decoded without error")
			}
		case h.key == kmsg.ApiVersions.Int16() && (h.version == 99 || h.version == -1):
			if !unsupported || err != nil {
				t.Errorf("ApiVersions v%d: unsupported %v, err %v; want the UNSUPPORTED_VERSION answer", h.version, unsupported, err)
			}
		case !protocol.Supported(h.key, h.version):
			// Listed but not served (Produce v0-v2, listed for
			// librdkafka as Kafka 4.0 does): refused like any other
			// unserved version.
			if err == nil {
				t.Errorf("%s v%d is not served but decoded", kmsg.NameForKey(h.key), h.version)
			}
		case err != nil:
			t.Errorf("%s v%d: %v", kmsg.NameForKey(h.key), h.version, err)
		case req.Key() != h.key || req.GetVersion() != h.version:
			t.Errorf("decoded %s v%d from %s v%d", kmsg.NameForKey(req.Key()), req.GetVersion(), kmsg.NameForKey(h.key), h.version)
		}
	}
}

// FuzzParseHeader: parseHeader never panics on any bytes, and when it
// accepts a frame the request bytes it returns are a suffix of the frame,
// the fixed fields are the frame's first eight bytes, and the client id is
// inside the frame.
func FuzzParseHeader(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Add(headerBytes(3, 12, 9, strPtr("c"), []byte{2, 0, 3, 'a', 'b', 'c', 5, 0}), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, in []byte, flexible bool) {
		check := func(h header, rest []byte, err error) {
			if err != nil {
				if !errors.Is(err, errMalformed) {
					t.Fatalf("error %v does not wrap errMalformed", err)
				}
				return
			}
			if len(in) < headerBytesMin+2 {
				t.Fatalf("accepted a %d-byte frame", len(in))
			}
			if len(rest) > len(in)-headerBytesMin-2-len(h.clientID) {
				t.Fatalf("rest of %d bytes is longer than the frame after the header", len(rest))
			}
			if !bytes.Equal(in[len(in)-len(rest):], rest) {
				t.Fatalf("rest %x is not a suffix of %x", rest, in)
			}
			if len(rest) > 0 && &rest[len(rest)-1] != &in[len(in)-1] {
				t.Fatalf("rest does not alias the frame's end")
			}
			if h.key != int16(binary.BigEndian.Uint16(in)) || h.version != int16(binary.BigEndian.Uint16(in[2:])) ||
				h.correlationID != int32(binary.BigEndian.Uint32(in[4:])) {
				t.Fatalf("header %+v does not match frame %x", h, in[:8])
			}
			if h.clientID != "" && !bytes.Equal(in[10:10+len(h.clientID)], []byte(h.clientID)) {
				t.Fatalf("client id %q is not the frame's", h.clientID)
			}
		}
		h, rest, err := parseHeader(in, func(int16, int16) bool { return flexible })
		check(h, rest, err)
		h, rest, err = parseHeader(in, isFlexible)
		check(h, rest, err)
	})
}

// FuzzFrameDecode feeds arbitrary frame bodies through the server's
// decode path (parseHeader, the version table, kmsg RequestForKey and
// ReadFrom): nothing panics, an unsupported version is refused before
// kmsg sees it, and a decoded request re-encodes and decodes to the same
// bytes.
func FuzzFrameDecode(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h, req, unsupported, err := decodeRequest(body)
		if unsupported && h.key != kmsg.ApiVersions.Int16() {
			t.Fatalf("%s v%d answered as ApiVersions", kmsg.NameForKey(h.key), h.version)
		}
		if err != nil || req == nil {
			return
		}
		if !protocol.Supported(req.Key(), req.GetVersion()) {
			t.Fatalf("decoded unsupported %s v%d", kmsg.NameForKey(req.Key()), req.GetVersion())
		}
		// Round trip: what we decoded, encoded, decodes to the same.
		enc := req.AppendTo(nil)
		again := kmsg.RequestForKey(h.key)
		again.SetVersion(h.version)
		if err := again.ReadFrom(enc); err != nil {
			t.Fatalf("%s v%d: re-decode: %v", kmsg.NameForKey(h.key), h.version, err)
		}
		if enc2 := again.AppendTo(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("%s v%d: encoding not stable", kmsg.NameForKey(h.key), h.version)
		}
	})
}
