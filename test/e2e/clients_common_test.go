package e2e

// Helpers shared by the tests that drive external clients (kcat, the
// Python clients) against a real sluice process: running a tool with a
// deadline, and reading the RecordBatch headers that the broker stored, so
// a test can prove that the codec or producer id it asked for reached the
// disk and was not silently dropped on the way.

import (
	"bytes"
	"context"
	// Aliased: broker_test.go declares a package-level "binary".
	byteorder "encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/record"
)

// Kafka's codec ids, the low three bits of a RecordBatch's attributes.
var codecIDs = map[string]int16{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// codecs is every codec a client test covers, in codec-id order.
var codecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// toolOutputBytesMax bounds how much of a tool's stderr a failure shows.
const toolOutputBytesMax = 4 << 10

// lookTool returns the path of an installed tool, or skips the test when it
// is not installed (CI installs it, so there it runs).
func lookTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: %v", name, err)
	}
	return path
}

// toolResult is what a finished tool printed.
type toolResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// runTool runs name with args and stdin, killed after timeout. It returns
// the tool's output and exit code; an error only when the tool could not
// run or overran its deadline.
func runTool(t testing.TB, timeout time.Duration, stdin []byte, name string, args ...string) (toolResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	// A killed tool's children must not keep the pipes open past the deadline.
	cmd.WaitDelay = 5 * time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := toolResult{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%s did not finish within %v; stderr:\n%s", name, timeout, clip(res.Stderr))
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return res, fmt.Errorf("run %s: %w", name, err)
	}
	return res, nil
}

// clip shortens s for a failure message.
func clip(s string) string {
	if len(s) <= toolOutputBytesMax {
		return s
	}
	return s[:toolOutputBytesMax] + fmt.Sprintf("... (%d bytes more)", len(s)-toolOutputBytesMax)
}

// diskBatch is the fixed header of one RecordBatch v2 as stored in a
// segment file.
type diskBatch struct {
	BaseOffset    int64
	LastOffset    int64
	Codec         int16
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	Records       int32
}

// Byte positions inside a RecordBatch v2 header (Kafka's DefaultRecordBatch).
const (
	batchLengthEnd      = 12 // baseOffset int64, batchLength int32
	batchMagicPos       = 16 // after partitionLeaderEpoch int32
	batchCRCPos         = 17
	batchAttributesPos  = 21 // the CRC covers attributes to the end
	batchLastDeltaPos   = 23
	batchProducerIDPos  = 43
	batchProducerEpoch  = 51
	batchBaseSequence   = 53
	batchRecordCountPos = 57
	batchHeaderBytes    = 61
)

// readDiskBatches reads every batch header of one partition from its
// segment files under dataDir, checking magic, CRC32C and that offsets
// follow each other without gaps or overlaps.
func readDiskBatches(t testing.TB, dataDir, topic string, partition int) []diskBatch {
	t.Helper()
	dir := filepath.Join(dataDir, fmt.Sprintf("%s-%d", topic, partition))
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no segment files in %s (err %v)", dir, err)
	}
	sort.Strings(logs)
	var batches []diskBatch
	next := int64(0)
	for _, name := range logs {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for pos := 0; pos+batchHeaderBytes <= len(data); {
			batch := data[pos:]
			length := int(int32(byteorder.BigEndian.Uint32(batch[8:12])))
			if length < batchHeaderBytes-batchLengthEnd || batchLengthEnd+length > len(batch) {
				t.Fatalf("%s at byte %d: batch length %d does not fit the %d bytes left", name, pos, length, len(batch))
			}
			batch = batch[:batchLengthEnd+length]
			if magic := batch[batchMagicPos]; magic != 2 {
				t.Fatalf("%s at byte %d: magic %d, want 2", name, pos, magic)
			}
			want := byteorder.BigEndian.Uint32(batch[batchCRCPos:])
			if got := record.Checksum(batch); got != want {
				t.Fatalf("%s at byte %d: CRC32C %08x, header says %08x", name, pos, got, want)
			}
			b := diskBatch{
				BaseOffset:    int64(byteorder.BigEndian.Uint64(batch)),
				Codec:         int16(byteorder.BigEndian.Uint16(batch[batchAttributesPos:])) & 7,
				ProducerID:    int64(byteorder.BigEndian.Uint64(batch[batchProducerIDPos:])),
				ProducerEpoch: int16(byteorder.BigEndian.Uint16(batch[batchProducerEpoch:])),
				BaseSequence:  int32(byteorder.BigEndian.Uint32(batch[batchBaseSequence:])),
				Records:       int32(byteorder.BigEndian.Uint32(batch[batchRecordCountPos:])),
			}
			b.LastOffset = b.BaseOffset + int64(int32(byteorder.BigEndian.Uint32(batch[batchLastDeltaPos:])))
			if b.BaseOffset != next {
				t.Fatalf("%s at byte %d: batch starts at offset %d, want %d", name, pos, b.BaseOffset, next)
			}
			next = b.LastOffset + 1
			batches = append(batches, b)
			pos += len(batch)
		}
	}
	return batches
}

// checkDiskCodec checks that a partition holds exactly records records in
// batches compressed with codec: the client really compressed, and the
// broker stored the batches as produced. librdkafka sends a batch
// uncompressed when compression would not make it smaller (small batches of
// random bytes), so uncompressed batches are allowed beside the codec's,
// but at least one batch must carry the codec.
func checkDiskCodec(t testing.TB, dataDir, topic string, partition int, codec string, records int) []diskBatch {
	t.Helper()
	batches := readDiskBatches(t, dataDir, topic, partition)
	total, compressed := 0, 0
	for _, b := range batches {
		switch b.Codec {
		case codecIDs[codec]:
			compressed++
		case codecIDs["none"]:
		default:
			t.Errorf("%s-%d: batch at offset %d stored with codec %d, want %d (%s) or 0",
				topic, partition, b.BaseOffset, b.Codec, codecIDs[codec], codec)
		}
		total += int(b.Records)
	}
	if compressed == 0 && codec != "none" {
		t.Errorf("%s-%d: none of %d batches stored with codec %d (%s): the client sent them uncompressed. "+
			"librdkafka before 2.10 does so for gzip, snappy and lz4 unless ApiVersions advertises Produce v0, "+
			"and for lz4 also FindCoordinator v0; Kafka 4.0 advertises Produce from v0 for this reason (KAFKA-18659)",
			topic, partition, len(batches), codecIDs[codec], codec)
	}
	if total != records {
		t.Errorf("%s-%d: %d records on disk in %d batches, want %d", topic, partition, total, len(batches), records)
	}
	return batches
}
