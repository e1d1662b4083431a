package record

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/kafkaerr"
)

// Every error this package returns wraps exactly one of these sentinels, so
// callers decide with errors.Is; each names the Kafka error clients get
// (kafkaerr.Code).
var (
	// ErrCorrupt means the bytes are not a well-formed batch: CRC mismatch,
	// a length that disagrees with the bytes, or record framing that does
	// not add up. Kafka answers CORRUPT_MESSAGE.
	ErrCorrupt = kafkaerr.New("corrupt record batch", kerr.CorruptMessage)

	// ErrInvalidRecord means the batch is intact but breaks a rule the
	// broker enforces: no records, offset deltas out of order, an unknown
	// codec, a control batch from a client. Kafka answers INVALID_RECORD,
	// which clients do not retry; that is right, since resending the same
	// bytes cannot help.
	ErrInvalidRecord = kafkaerr.New("invalid record batch", kerr.InvalidRecord)

	// ErrUnsupportedMagic means the batch is not RecordBatch v2 (a v0/v1
	// message set from an old client). Kafka answers
	// UNSUPPORTED_FOR_MESSAGE_FORMAT.
	ErrUnsupportedMagic = kafkaerr.New("unsupported record batch magic", kerr.UnsupportedForMessageFormat)

	// ErrTruncated means the bytes end before the batch does. In a Produce
	// request that is corruption; in a segment being recovered it is the
	// torn tail of the last write.
	ErrTruncated = kafkaerr.New("truncated record batch", kerr.CorruptMessage)

	// ErrDecompressedTooLarge means a compressed batch decompresses to more
	// than the caller's bound. The batch may be intact; it is refused
	// because of what it would cost to read, so it is kept apart from
	// ErrCorrupt and recovery must not cut the log for it.
	ErrDecompressedTooLarge = kafkaerr.New("record batch decompresses past the limit", kerr.MessageTooLarge)
)

// KafkaError returns the Kafka error a broker answers with for err, nil for
// nil, and UNKNOWN_SERVER_ERROR for an error that is not from this package.
func KafkaError(err error) *kerr.Error {
	return kafkaerr.Of(err)
}
