package e2e

// kcat (librdkafka) against a real sluice process: produce and consume
// with every codec, auto-creation through Metadata and through produce,
// metadata listing, and acks=all / acks=0.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// kcatTimeout bounds every kcat run.
const kcatTimeout = 30 * time.Second

// kcatHeaders are the -H flags given to every produce and the %h that kcat
// must print back: order, a duplicate name, '=' inside a value, an empty
// value, a null value and UTF-8 all survive the round trip.
var (
	kcatHeaders     = []string{"-H", "h1=v1", "-H", "nullh", "-H", "eq=a=b", "-H", "h1=dup", "-H", "empty=", "-H", "uni=é€"}
	kcatHeadersWant = "h1=v1,nullh=NULL,eq=a=b,h1=dup,empty=,uni=é€"
)

// kcatFormat prints each record on one line, tab-separated, with the key
// and value lengths so that null (-1) and empty (0) are told apart.
const kcatFormat = `%K\t%S\t%k\t%s\t%h\t%o\t%p\t%T\n`

// kcatRecord is one line of kcat's -P input, and what -C prints for it.
type kcatRecord struct {
	Key, Value       string
	KeyLen, ValueLen int // -1 for null
	Headers          string
	Offset           int64
	Partition        int32
	Timestamp        int64
}

// kcatRecords builds n records for `kcat -P -K: -Z`. Keys never contain
// the ':' delimiter; neither keys nor values contain '\n' (the record
// separator), '\t' (the output field separator) or '\r'. An empty key or
// value is sent as null because of -Z. Everything else — other control
// bytes, bytes that are not UTF-8, ':' inside a value — must come back as
// sent.
func kcatRecords(n int, seed uint64) []kcatRecord {
	rng := rand.New(rand.NewPCG(seed, 0))
	randomBytes := func(max int, forbidden string) string {
		var sb strings.Builder
		for range rng.IntN(max + 1) {
			c := byte(1 + rng.IntN(255))
			if strings.IndexByte(forbidden+"\n\t\r", c) >= 0 {
				c = '_'
			}
			sb.WriteByte(c)
		}
		return sb.String()
	}
	records := make([]kcatRecord, n)
	for i := range records {
		r := &records[i]
		r.Key = fmt.Sprintf("key-%05d-", i) + randomBytes(12, ":")
		r.Value = strings.Repeat(fmt.Sprintf("value %d: ", i), rng.IntN(60)) + randomBytes(200, "")
		switch {
		case i%101 == 3:
			r.Key = ""
		case i%103 == 4:
			r.Value = ""
		}
		r.KeyLen, r.ValueLen = nullableLen(r.Key), nullableLen(r.Value)
		r.Offset, r.Headers = int64(i), kcatHeadersWant
	}
	return records
}

// nullableLen is the length kcat prints for a -Z field: empty means null.
func nullableLen(s string) int {
	if s == "" {
		return -1
	}
	return len(s)
}

// kcatInput renders records as `key:value` lines.
func kcatInput(records []kcatRecord) []byte {
	var sb strings.Builder
	for _, r := range records {
		sb.WriteString(r.Key + ":" + r.Value + "\n")
	}
	return []byte(sb.String())
}

// kcat runs kcat against b and fails the test unless it exits 0.
func kcat(t testing.TB, b *Broker, stdin []byte, args ...string) string {
	t.Helper()
	path := lookTool(t, "kcat")
	res, err := runTool(t, kcatTimeout, stdin, path, append([]string{"-b", b.Addr}, args...)...)
	if err != nil {
		t.Fatalf("kcat %v: %v", args, err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("kcat %v exited %d; stderr:\n%s\nbroker output:\n%s", args, res.ExitCode, clip(res.Stderr), clip(b.Output()))
	}
	return res.Stdout
}

// kcatProduce produces records with kcat -P; extra adds flags (codec, acks).
func kcatProduce(t testing.TB, b *Broker, topic string, records []kcatRecord, extra ...string) {
	t.Helper()
	args := append([]string{"-P", "-t", topic, "-K:", "-Z"}, kcatHeaders...)
	args = append(args, extra...)
	kcat(t, b, kcatInput(records), args...)
}

// kcatConsume reads every partition of topic from the beginning to its end.
func kcatConsume(t testing.TB, b *Broker, topic string) []kcatRecord {
	t.Helper()
	out := kcat(t, b, nil, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", kcatFormat)
	var records []kcatRecord
	for line := range strings.Lines(out) {
		line = strings.TrimSuffix(line, "\n")
		f := strings.Split(line, "\t")
		if len(f) != 8 {
			t.Fatalf("kcat printed %d fields, want 8: %q", len(f), clip(line))
		}
		var r kcatRecord
		var errs [5]error
		r.KeyLen, errs[0] = strconv.Atoi(f[0])
		r.ValueLen, errs[1] = strconv.Atoi(f[1])
		r.Key, r.Value, r.Headers = f[2], f[3], f[4]
		r.Offset, errs[2] = strconv.ParseInt(f[5], 10, 64)
		var p int64
		p, errs[3] = strconv.ParseInt(f[6], 10, 32)
		r.Partition = int32(p)
		r.Timestamp, errs[4] = strconv.ParseInt(f[7], 10, 64)
		for _, err := range errs {
			if err != nil {
				t.Fatalf("kcat line %q: %v", clip(line), err)
			}
		}
		records = append(records, r)
	}
	return records
}

// checkKcatRecords compares what kcat consumed from partition 0 with what
// was produced, byte for byte, and checks that CreateTime timestamps lie
// within the produce window.
func checkKcatRecords(t testing.TB, want, got []kcatRecord, from, to time.Time) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("consumed %d records, produced %d", len(got), len(want))
	}
	lo, hi := from.Add(-5*time.Second).UnixMilli(), to.Add(5*time.Second).UnixMilli()
	mismatches := 0
	for i := range want {
		w, g := want[i], got[i]
		w.Partition, w.Timestamp = 0, g.Timestamp
		if g != w {
			mismatches++
			if mismatches <= 3 {
				t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
		if g.Timestamp < lo || g.Timestamp > hi {
			t.Errorf("offset %d: timestamp %d outside the produce window [%d, %d]", g.Offset, g.Timestamp, lo, hi)
		}
	}
	if mismatches > 0 {
		t.Errorf("%d of %d records differ", mismatches, len(want))
	}
}

// TestKcatCodecs produces 2,000 records with kcat under each codec and
// consumes them back: keys, values, null-ness, headers and offsets must be
// identical, and the stored batches must carry the codec.
func TestKcatCodecs(t *testing.T) {
	lookTool(t, "kcat")
	b := StartBroker(t)
	const n = 2000
	for i, codec := range codecs {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			topic := "kcat-codec-" + codec
			records := kcatRecords(n, uint64(i))
			from := time.Now()
			kcatProduce(t, b, topic, records, "-p", "0", "-z", codec, "-X", "acks=all")
			to := time.Now()
			checkKcatRecords(t, records, kcatConsume(t, b, topic), from, to)
			checkDiskCodec(t, b.DataDir, topic, 0, codec, n)
		})
	}
}

// TestKcatAcks produces with acks=all and with acks=0. An acks=0 produce
// gets no answer, but its records must still become readable, at
// consecutive offsets.
func TestKcatAcks(t *testing.T) {
	lookTool(t, "kcat")
	b := StartBroker(t)
	const n = 1000
	for i, acks := range []string{"all", "0"} {
		t.Run("acks="+acks, func(t *testing.T) {
			t.Parallel()
			topic := "kcat-acks-" + acks
			if acks == "0" {
				topic = "kcat-acks-none"
			}
			records := kcatRecords(n, uint64(100+i))
			from := time.Now()
			kcatProduce(t, b, topic, records, "-p", "0", "-X", "acks="+acks)
			to := time.Now()
			// acks=0: the produce may still be in flight when kcat exits.
			// On timeout checkKcatRecords says what is missing.
			var got []kcatRecord
			testutil.WaitForEvery(15*time.Second, 100*time.Millisecond, func() bool {
				got = kcatConsume(t, b, topic)
				return len(got) >= n
			})
			checkKcatRecords(t, records, got, from, to)
			checkDiskCodec(t, b.DataDir, topic, 0, "none", n)
		})
	}
}

// kcatMetadata is kcat -L -J's output.
type kcatMetadata struct {
	ControllerID int32 `json:"controllerid"`
	Brokers      []struct {
		ID   int32  `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Topics []struct {
		Topic      string `json:"topic"`
		Error      string `json:"error"`
		Partitions []struct {
			Partition int32  `json:"partition"`
			Leader    int32  `json:"leader"`
			Error     string `json:"error"`
			Replicas  []struct {
				ID int32 `json:"id"`
			} `json:"replicas"`
			ISRs []struct {
				ID int32 `json:"id"`
			} `json:"isrs"`
		} `json:"partitions"`
	} `json:"topics"`
}

// kcatList runs kcat -L -J, for one topic or (topic "") for all.
func kcatList(t testing.TB, b *Broker, topic string) kcatMetadata {
	t.Helper()
	args := []string{"-L", "-J"}
	if topic != "" {
		args = append(args, "-t", topic)
	}
	out := kcat(t, b, nil, args...)
	var md kcatMetadata
	if err := json.Unmarshal([]byte(out), &md); err != nil {
		t.Fatalf("kcat -L -J printed %q: %v", clip(out), err)
	}
	return md
}

// checkKcatTopic checks that md lists topic healthy with partitions
// partitions, each led by the one broker, which is its only replica and ISR.
func checkKcatTopic(t testing.TB, b *Broker, md kcatMetadata, topic string, partitions int) {
	t.Helper()
	if len(md.Brokers) != 1 || md.Brokers[0].Name != b.Addr {
		t.Fatalf("brokers %+v, want one at %s", md.Brokers, b.Addr)
	}
	id := md.Brokers[0].ID
	if md.ControllerID != id {
		t.Errorf("controller %d, want the broker %d", md.ControllerID, id)
	}
	for _, mt := range md.Topics {
		if mt.Topic != topic {
			continue
		}
		if mt.Error != "" || len(mt.Partitions) != partitions {
			t.Fatalf("topic %s: error %q, %d partitions; want no error and %d partitions", topic, mt.Error, len(mt.Partitions), partitions)
		}
		for i, p := range mt.Partitions {
			if p.Partition != int32(i) || p.Leader != id || p.Error != "" ||
				len(p.Replicas) != 1 || p.Replicas[0].ID != id || len(p.ISRs) != 1 || p.ISRs[0].ID != id {
				t.Errorf("topic %s partition entry %d: %+v; want partition %d led by %d, replicas and isr [%d]", topic, i, p, i, id, id)
			}
		}
		return
	}
	t.Fatalf("topic %s not listed; topics: %+v", topic, md.Topics)
}

// checkKeyPartitioned checks records consumed from all partitions of a
// topic against those produced with keys and no partition: each record read
// once, each key in one partition, offsets consecutive from 0 in each of
// the partitions, all of which are used.
func checkKeyPartitioned(t testing.TB, want, got []kcatRecord, partitions int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("consumed %d records from all partitions, produced %d", len(got), len(want))
	}
	unread := map[string]int{}
	for _, r := range want {
		unread[r.Key+"\x00"+r.Value]++
	}
	partitionOf := map[string]int32{}
	next := map[int32]int64{}
	for _, r := range got {
		if p, ok := partitionOf[r.Key]; ok && p != r.Partition {
			t.Errorf("key %q in partitions %d and %d", r.Key, p, r.Partition)
		}
		partitionOf[r.Key] = r.Partition
		if r.Offset != next[r.Partition] {
			t.Errorf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition] = r.Offset + 1
		if r.Headers != kcatHeadersWant {
			t.Errorf("partition %d offset %d: headers %q, want %q", r.Partition, r.Offset, r.Headers, kcatHeadersWant)
		}
		k := r.Key + "\x00" + r.Value
		if unread[k] == 0 {
			t.Errorf("partition %d offset %d: record %q:%q was not produced, or was read twice", r.Partition, r.Offset, clip(r.Key), clip(r.Value))
		}
		unread[k]--
	}
	if len(next) != partitions {
		t.Errorf("records landed in partitions %v, want all %d used", next, partitions)
	}
}

// TestKcatMetadata checks auto-creation by a Metadata request (kcat -L -t)
// and by a produce (kcat -P to a new topic) with num.partitions=3,
// key-partitioned produce and a consume of all partitions, the full
// listing, and that an invalid topic name is refused and not created.
func TestKcatMetadata(t *testing.T) {
	lookTool(t, "kcat")
	b := StartBroker(t, "KAFKA_NUM_PARTITIONS=3")

	checkKcatTopic(t, b, kcatList(t, b, "kcat-auto-listed"), "kcat-auto-listed", 3)

	// Produce to a topic nobody created, partitioned by key.
	const n = 600
	records := kcatRecords(n, 7)
	for i := range records {
		if records[i].Key == "" { // null keys go to random partitions
			records[i].Key, records[i].KeyLen = "k", 1
		}
	}
	kcatProduce(t, b, "kcat-auto-produced", records)
	checkKeyPartitioned(t, records, kcatConsume(t, b, "kcat-auto-produced"), 3)

	// The full listing shows both auto-created topics.
	all := kcatList(t, b, "")
	checkKcatTopic(t, b, all, "kcat-auto-listed", 3)
	checkKcatTopic(t, b, all, "kcat-auto-produced", 3)
	plain := kcat(t, b, nil, "-L")
	for _, want := range []string{`topic "kcat-auto-listed" with 3 partitions`, `topic "kcat-auto-produced" with 3 partitions`, "broker " + strconv.Itoa(int(all.Brokers[0].ID)) + " at " + b.Addr} {
		if !strings.Contains(plain, want) {
			t.Errorf("kcat -L output lacks %q:\n%s", want, plain)
		}
	}

	// An invalid name is refused (INVALID_TOPIC_EXCEPTION) and not created.
	bad := kcatList(t, b, "bad/name")
	if len(bad.Topics) != 1 || bad.Topics[0].Error == "" || len(bad.Topics[0].Partitions) != 0 {
		t.Errorf("metadata for bad/name: %+v; want an error and no partitions", bad.Topics)
	}
	var names []string
	for _, mt := range kcatList(t, b, "").Topics {
		names = append(names, mt.Topic)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"kcat-auto-listed", "kcat-auto-produced"}) {
		t.Errorf("topics after all: %v, want the two auto-created", names)
	}
}
