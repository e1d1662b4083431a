package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	// headerBytesMin is apiKey, apiVersion and correlationId: the least a
	// request frame holds.
	headerBytesMin = 8
	// clientIDBytesMax bounds the client id string.
	clientIDBytesMax = 1 << 15
)

var (
	errMalformed = errors.New("malformed request")
	// errAcksZeroFailed closes a connection after a failed acks=0
	// produce, as Kafka does: the client has no other way to learn of the
	// failure, and reconnecting makes it refresh its metadata.
	errAcksZeroFailed = errors.New("acks=0 produce failed")
)

// header is the request header, v0 to v2.
type header struct {
	key           int16
	version       int16
	correlationID int32
	clientID      string
}

// parseHeader decodes the request header from a frame body and returns the
// request bytes after it. flexible says whether the header carries tagged
// fields (header v2), which depends on the request's version.
func parseHeader(b []byte, flexible func(key, version int16) bool) (header, []byte, error) {
	if len(b) < headerBytesMin {
		return header{}, nil, fmt.Errorf("%w: %d-byte frame is shorter than a request header", errMalformed, len(b))
	}
	h := header{
		key:           int16(binary.BigEndian.Uint16(b)),
		version:       int16(binary.BigEndian.Uint16(b[2:])),
		correlationID: int32(binary.BigEndian.Uint32(b[4:])),
	}
	b = b[headerBytesMin:]
	// Every request version in use has header v1 or v2, with a nullable
	// client id (ControlledShutdown v0's header v0 is long gone).
	if len(b) < 2 {
		return h, nil, fmt.Errorf("%w: missing client id", errMalformed)
	}
	n := int(int16(binary.BigEndian.Uint16(b)))
	b = b[2:]
	if n > 0 {
		if n > len(b) || n > clientIDBytesMax {
			return h, nil, fmt.Errorf("%w: client id length %d", errMalformed, n)
		}
		h.clientID, b = string(b[:n]), b[n:]
	} else if n < -1 {
		return h, nil, fmt.Errorf("%w: client id length %d", errMalformed, n)
	}
	if flexible(h.key, h.version) {
		rest, err := skipTags(b)
		if err != nil {
			return h, nil, err
		}
		b = rest
	}
	return h, b, nil
}

// skipTags skips a tagged-field section; the request header defines no
// tags that the broker reads.
func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad tag count", errMalformed)
	}
	b = b[n:]
	for range count {
		_, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad tag", errMalformed)
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: bad tag size", errMalformed)
		}
		b = b[n+int(size):]
	}
	return b, nil
}

// isFlexible reports whether a request at version uses flexible encoding.
func isFlexible(key, version int16) bool {
	req := kmsg.RequestForKey(key)
	if req == nil {
		return false
	}
	req.SetVersion(version)
	return req.IsFlexible()
}

// readFrameSize reads a frame's 4-byte size prefix.
func readFrameSize(r io.Reader, buf []byte) (int, error) {
	if _, err := io.ReadFull(r, buf[:4]); err != nil {
		return 0, err
	}
	return int(int32(binary.BigEndian.Uint32(buf))), nil
}
