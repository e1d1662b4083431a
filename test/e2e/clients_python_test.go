package e2e

// The Python clients against a real sluice process: kafka-python (pure
// Python, its own protocol code, old version probing) and
// confluent-kafka-python (librdkafka). The scripts in testdata produce
// records with binary keys, values, headers and explicit timestamps,
// consume them back by manual assignment (no consumer group), compare
// them byte for byte and print a JSON summary.

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pythonPath is Debian's interpreter: the Kafka modules are installed for
// it, and another python3 earlier on PATH may lack them.
const pythonPath = "/usr/bin/python3"

// pythonScriptTimeout bounds one script run; the scripts' own deadlines
// are shorter, so a hang shows as their failure message, not as a kill.
const pythonScriptTimeout = 60 * time.Second

// pythonExitMissing is the scripts' exit code for a missing library.
const pythonExitMissing = 2

// pythonRecords is how many records each script run produces.
const pythonRecords = 500

// requirePythonModule skips the test when module cannot be imported by
// Debian's python3 (CI installs it, so there it runs).
func requirePythonModule(t testing.TB, module string) {
	t.Helper()
	res, err := runTool(t, 20*time.Second, nil, lookTool(t, pythonPath), "-c", "import "+module)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Skipf("%s cannot import %s: %s", pythonPath, module, clip(res.Stderr))
	}
}

// pythonSummary is the JSON line a script prints on success.
type pythonSummary struct {
	Client       string   `json:"client"`
	Codec        string   `json:"codec"`
	Idempotent   bool     `json:"idempotent"`
	Produced     int      `json:"produced"`
	Consumed     int      `json:"consumed"`
	FirstOffset  int64    `json:"first_offset"`
	LastOffset   int64    `json:"last_offset"`
	ClientErrors []string `json:"client_errors"`
}

// runPythonScript runs testdata/script with args against b and returns its
// summary. A missing codec library skips the test; any other failure fails
// it with the script's message and the broker's output.
func runPythonScript(t testing.TB, b *Broker, script string, args ...string) pythonSummary {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", script))
	if err != nil {
		t.Fatal(err)
	}
	// -B: no __pycache__ beside the scripts in the source tree.
	res, err := runTool(t, pythonScriptTimeout, nil, pythonPath, append([]string{"-B", path}, args...)...)
	if err != nil {
		t.Fatalf("%s %v: %v\nbroker output:\n%s", script, args, err, clip(b.Output()))
	}
	switch res.ExitCode {
	case 0:
	case pythonExitMissing:
		t.Skipf("%s: %s", script, strings.TrimSpace(res.Stderr))
	default:
		t.Fatalf("%s %v exited %d:\n%s\nbroker output:\n%s", script, args, res.ExitCode, clip(res.Stderr), clip(b.Output()))
	}
	var s pythonSummary
	if err := json.Unmarshal([]byte(strings.TrimSpace(res.Stdout)), &s); err != nil {
		t.Fatalf("%s printed %q, not a JSON summary: %v", script, clip(res.Stdout), err)
	}
	if s.Produced != pythonRecords || s.Consumed != pythonRecords || s.FirstOffset != 0 || s.LastOffset != pythonRecords-1 {
		t.Errorf("%s summary %+v: want %d records produced and consumed at offsets 0..%d", script, s, pythonRecords, pythonRecords-1)
	}
	return s
}

// checkNoProducerID checks that a non-idempotent producer's batches carry
// no producer id (-1) and no sequence (-1), as the client sent them.
func checkNoProducerID(t testing.TB, topic string, batches []diskBatch) {
	t.Helper()
	for _, b := range batches {
		if b.ProducerID != -1 || b.BaseSequence != -1 {
			t.Errorf("%s: batch at offset %d has producer id %d sequence %d, want -1 and -1 (not idempotent)",
				topic, b.BaseOffset, b.ProducerID, b.BaseSequence)
		}
	}
}

// TestPythonKafkaPython runs kafka-python for each codec. kafka-python has
// no idempotent producer, so its batches carry no producer id.
func TestPythonKafkaPython(t *testing.T) {
	requirePythonModule(t, "kafka")
	b := StartBroker(t)
	for _, codec := range codecs {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			topic := "kafka-python-" + codec
			s := runPythonScript(t, b, "kafka_python_roundtrip.py", b.Addr, topic, codec)
			if s.Client != "kafka-python" || s.Codec != codec {
				t.Errorf("summary %+v: want client kafka-python, codec %s", s, codec)
			}
			checkNoProducerID(t, topic, checkDiskCodec(t, b.DataDir, topic, 0, codec, pythonRecords))
		})
	}
}

// TestPythonConfluentKafka runs confluent-kafka for each codec, and once
// with enable.idempotence=True: then every stored batch must carry the
// producer id the broker handed out and sequences that follow each other.
// The consumer has a group.id but never joins: librdkafka keeps looking
// for a coordinator in the background while assign() reads by offset.
func TestPythonConfluentKafka(t *testing.T) {
	requirePythonModule(t, "confluent_kafka")
	b := StartBroker(t)
	for _, codec := range codecs {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			topic := "confluent-kafka-" + codec
			s := runPythonScript(t, b, "confluent_kafka_roundtrip.py", b.Addr, topic, codec)
			if s.Client != "confluent-kafka" || s.Codec != codec || s.Idempotent {
				t.Errorf("summary %+v: want client confluent-kafka, codec %s, not idempotent", s, codec)
			}
			if len(s.ClientErrors) > 0 {
				t.Errorf("librdkafka reported errors: %q", s.ClientErrors)
			}
			checkNoProducerID(t, topic, checkDiskCodec(t, b.DataDir, topic, 0, codec, pythonRecords))
		})
	}
	t.Run("idempotent", func(t *testing.T) {
		t.Parallel()
		const topic, codec = "confluent-kafka-idempotent", "zstd"
		s := runPythonScript(t, b, "confluent_kafka_roundtrip.py", b.Addr, topic, codec, "--idempotent")
		if !s.Idempotent {
			t.Errorf("summary %+v: want idempotent", s)
		}
		if len(s.ClientErrors) > 0 {
			t.Errorf("librdkafka reported errors: %q", s.ClientErrors)
		}
		batches := checkDiskCodec(t, b.DataDir, topic, 0, codec, pythonRecords)
		sequence := int32(0)
		for _, batch := range batches {
			if batch.ProducerID < 0 || batch.ProducerEpoch < 0 || batch.ProducerID != batches[0].ProducerID {
				t.Errorf("batch at offset %d: producer id %d epoch %d; want one non-negative id for all batches (first %d)",
					batch.BaseOffset, batch.ProducerID, batch.ProducerEpoch, batches[0].ProducerID)
			}
			if batch.BaseSequence != sequence {
				t.Errorf("batch at offset %d: base sequence %d, want %d", batch.BaseOffset, batch.BaseSequence, sequence)
			}
			sequence += batch.Records
		}
	})
}
