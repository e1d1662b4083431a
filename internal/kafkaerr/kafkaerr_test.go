package kafkaerr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/kafkaerr"
	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/record"
)

func TestCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int16
	}{
		{"nil", nil, 0},
		{"kerr", kerr.NotLeaderForPartition, kerr.NotLeaderForPartition.Code},
		{"wrapped kerr", fmt.Errorf("%w: partition t-0 is led by broker 2", kerr.NotLeaderForPartition), kerr.NotLeaderForPartition.Code},
		{"kerr outside a coded error", fmt.Errorf("%w: %w", kerr.KafkaStorageError, record.ErrCorrupt), kerr.KafkaStorageError.Code},
		{"plain", errors.New("disk on fire"), kerr.UnknownServerError.Code},
		{"log offset out of range", fmt.Errorf("read 7: %w", log.ErrOffsetOutOfRange), kerr.OffsetOutOfRange.Code},
		{"log closed", log.ErrClosed, kerr.KafkaStorageError.Code},
		{"record corrupt", fmt.Errorf("%w: crc mismatch", record.ErrCorrupt), kerr.CorruptMessage.Code},
		{"record truncated", record.ErrTruncated, kerr.CorruptMessage.Code},
		{"record invalid", record.ErrInvalidRecord, kerr.InvalidRecord.Code},
		{"record magic", record.ErrUnsupportedMagic, kerr.UnsupportedForMessageFormat.Code},
		{"record too large", record.ErrDecompressedTooLarge, kerr.MessageTooLarge.Code},
		{"new sentinel", kafkaerr.New("no such thing", kerr.GroupIDNotFound), kerr.GroupIDNotFound.Code},
	}
	for _, tt := range tests {
		if got := kafkaerr.Code(tt.err); got != tt.want {
			t.Errorf("%s: Code(%v) = %d, want %d", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestMessage(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // "<nil>" for a nil message
	}{
		{"nil", nil, "<nil>"},
		{"bare kerr", kerr.InvalidTopicException, "<nil>"},
		{"kerr with detail", fmt.Errorf("%w: topic name %q is bad", kerr.InvalidTopicException, "a/b"), `topic name "a/b" is bad`},
		{"sentinel keeps its text", fmt.Errorf("%w: crc mismatch", record.ErrCorrupt), "corrupt record batch: crc mismatch"},
		{"plain", errors.New("disk on fire"), "disk on fire"},
	}
	for _, tt := range tests {
		got := "<nil>"
		if m := kafkaerr.Message(tt.err); m != nil {
			got = *m
		}
		if got != tt.want {
			t.Errorf("%s: Message(%v) = %q, want %q", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestSentinelsKeepTheirText checks that naming a code did not change the
// texts users and logs see.
func TestSentinelsKeepTheirText(t *testing.T) {
	for err, want := range map[error]string{
		log.ErrOffsetOutOfRange:        "offset out of range",
		log.ErrClosed:                  "log closed",
		record.ErrCorrupt:              "corrupt record batch",
		record.ErrInvalidRecord:        "invalid record batch",
		record.ErrUnsupportedMagic:     "unsupported record batch magic",
		record.ErrTruncated:            "truncated record batch",
		record.ErrDecompressedTooLarge: "record batch decompresses past the limit",
	} {
		if err.Error() != want {
			t.Errorf("%q, want %q", err.Error(), want)
		}
		if !errors.Is(fmt.Errorf("x: %w", err), err) {
			t.Errorf("%q is not found by errors.Is", want)
		}
	}
}
