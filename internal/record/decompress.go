package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// We decompress with the codec libraries directly rather than through
// kgo.DefaultDecompressor: its bound is fixed at math.MaxInt32 when it is
// built, and a raw snappy block can claim (and have allocated) any size up
// to that. Each codec below checks the caller's bound before or while it
// allocates.

// decompress returns the decompressed records area src of a batch
// compressed with codec, refusing output longer than decompressedMax.
func decompress(codec Codec, src []byte, decompressedMax int) ([]byte, error) {
	// Every batch holds a record, so no output fits a bound below one;
	// refusing here also keeps zstd's options valid.
	if decompressedMax < recordSizeMin {
		return nil, fmt.Errorf("%w: limit %d bytes", ErrDecompressedTooLarge, decompressedMax)
	}
	var out []byte
	var err error
	switch codec {
	case CodecGzip:
		out, err = gunzip(src, decompressedMax)
	case CodecSnappy:
		out, err = unsnappy(src, decompressedMax)
	case CodecLZ4:
		out, err = unlz4(src, decompressedMax)
	case CodecZstd:
		out, err = unzstd(src, decompressedMax)
	default:
		return nil, fmt.Errorf("%w: unknown compression %v", ErrInvalidRecord, codec)
	}
	switch {
	case errors.Is(err, ErrDecompressedTooLarge):
		return nil, fmt.Errorf("%w: %v over %d bytes", ErrDecompressedTooLarge, codec, decompressedMax)
	case err != nil:
		return nil, fmt.Errorf("%w: %v: %v", ErrCorrupt, codec, err)
	case len(out) > decompressedMax: // every codec bounds itself; check again
		return nil, fmt.Errorf("%w: %v gave %d bytes, limit %d", ErrDecompressedTooLarge, codec, len(out), decompressedMax)
	}
	return out, nil
}

// readBounded reads r to its end, failing with ErrDecompressedTooLarge as
// soon as it yields more than decompressedMax bytes.
func readBounded(r io.Reader, decompressedMax int) ([]byte, error) {
	var out bytes.Buffer
	limited := io.LimitedReader{R: r, N: int64(decompressedMax) + 1}
	if _, err := out.ReadFrom(&limited); err != nil {
		return nil, err
	}
	if out.Len() > decompressedMax {
		return nil, ErrDecompressedTooLarge
	}
	return out.Bytes(), nil
}

// gzipReaders holds *gzip.Reader; each carries about 40 KiB of tables.
var gzipReaders sync.Pool

func gunzip(src []byte, decompressedMax int) ([]byte, error) {
	r, _ := gzipReaders.Get().(*gzip.Reader)
	if r == nil {
		r = new(gzip.Reader)
	}
	defer gzipReaders.Put(r)
	if err := r.Reset(bytes.NewReader(src)); err != nil {
		return nil, err
	}
	return readBounded(r, decompressedMax)
}

// lz4Readers holds *lz4.Reader. Kafka since message format v1 writes
// standard LZ4 frames, which is what lz4.Reader reads.
var lz4Readers sync.Pool

func unlz4(src []byte, decompressedMax int) ([]byte, error) {
	r, _ := lz4Readers.Get().(*lz4.Reader)
	if r == nil {
		r = lz4.NewReader(nil)
	}
	defer lz4Readers.Put(r)
	r.Reset(bytes.NewReader(src))
	return readBounded(r, decompressedMax)
}

// zstdDecoders holds *zstdDecoder. One decoder serves every bound: the
// bound is an option that ResetWithOptions changes per call, and DecodeAll
// checks it against each frame's declared size before allocating and
// against the output while decoding.
var zstdDecoders sync.Pool

type zstdDecoder struct{ inner *zstd.Decoder }

func unzstd(src []byte, decompressedMax int) ([]byte, error) {
	d, _ := zstdDecoders.Get().(*zstdDecoder)
	if d == nil {
		inner, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		d = &zstdDecoder{inner: inner}
		// Close releases the decoder's buffers once the pool drops it.
		runtime.AddCleanup(d, func(inner *zstd.Decoder) { inner.Close() }, inner)
	}
	defer zstdDecoders.Put(d)
	if err := d.inner.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(uint64(decompressedMax))); err != nil {
		return nil, err
	}
	out, err := d.inner.DecodeAll(src, nil)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return nil, ErrDecompressedTooLarge
	}
	return out, err
}

// xerialMagic starts snappy data framed by the Java xerial snappy stream,
// which the Java producer writes: the magic, a version and a minimum
// compatible version (4 bytes each), then blocks, each a big endian length
// and a raw snappy block. Other producers (librdkafka, franz-go) may send
// one raw snappy block instead.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = len("\x82SNAPPY\x00") + 4 + 4

func unsnappy(src []byte, decompressedMax int) ([]byte, error) {
	if len(src) >= xerialHeaderSize && bytes.HasPrefix(src, xerialMagic) {
		return unxerial(src[xerialHeaderSize:], decompressedMax)
	}
	// s2.Decode allocates the length the block claims: check it first.
	if size, err := s2.DecodedLen(src); err != nil {
		return nil, err
	} else if size > decompressedMax {
		return nil, ErrDecompressedTooLarge
	}
	return s2.Decode(nil, src)
}

// unxerial decodes xerial snappy blocks. It sums the sizes the blocks claim
// and checks the bound before allocating once for all of them.
func unxerial(src []byte, decompressedMax int) ([]byte, error) {
	total := 0
	for rest := src; len(rest) > 0; {
		block, after, err := xerialBlock(rest)
		if err != nil {
			return nil, err
		}
		size, err := s2.DecodedLen(block)
		if err != nil {
			return nil, err
		}
		if total += size; total > decompressedMax {
			return nil, ErrDecompressedTooLarge
		}
		rest = after
	}
	out := make([]byte, 0, total)
	for rest := src; len(rest) > 0; {
		block, after, _ := xerialBlock(rest) // checked above
		decoded, err := s2.Decode(out[len(out):cap(out)], block)
		if err != nil {
			return nil, err
		}
		out = out[:len(out)+len(decoded)]
		rest = after
	}
	return out, nil
}

// xerialBlock splits the first length-prefixed block off src.
func xerialBlock(src []byte) (block, rest []byte, err error) {
	if len(src) < 4 {
		return nil, nil, errors.New("xerial block length cut short")
	}
	size := binary.BigEndian.Uint32(src)
	if uint64(size) > uint64(len(src)-4) {
		return nil, nil, fmt.Errorf("xerial block of %d bytes with %d left", size, len(src)-4)
	}
	return src[4 : 4+size], src[4+size:], nil
}
