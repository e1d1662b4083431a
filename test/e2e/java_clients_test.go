package e2e

// The Java client itself, not through a tool: the small programs in
// test/java/src (ProduceAll, ConsumeAll), compiled once per test binary
// with javac against the Maven classpath into test/java/target/classes,
// and skipped when their class files are newer than every source (javac
// costs about 2 s; a Maven compile would add plugins to download).

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Main classes of test/java/src.
const (
	javaProduceAll = "dev.sluice.test.ProduceAll"
	javaConsumeAll = "dev.sluice.test.ConsumeAll"
)

// javaPrograms is compiled once per test binary.
var javaPrograms struct {
	once sync.Once
	cp   string // the Maven classpath with the compiled classes first
	err  error
}

// javaProgramClasspath compiles test/java/src unless its classes are up
// to date, and returns the classpath to run them with.
func javaProgramClasspath(t testing.TB) string {
	t.Helper()
	java, cp := javaClasspath(t)
	javaPrograms.once.Do(func() { javaPrograms.cp, javaPrograms.err = compileJavaPrograms(t, java, cp) })
	if javaPrograms.err != nil {
		t.Fatal(javaPrograms.err)
	}
	return javaPrograms.cp
}

// compileJavaPrograms runs javac (beside java) on every source under
// test/java/src into test/java/target/classes. A stamp file holds the hash
// of the sources and the classpath it compiled, so an unchanged tree is
// not compiled again.
func compileJavaPrograms(t testing.TB, java, cp string) (string, error) {
	dir, err := filepath.Abs(filepath.Join("..", "java"))
	if err != nil {
		return "", err
	}
	var sources []string
	err = filepath.WalkDir(filepath.Join(dir, "src"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".java") {
			sources = append(sources, path)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(sources)
	h := sha256.New()
	h.Write([]byte(cp))
	for _, src := range sources {
		data, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "\x00%s\x00%d\x00", src, len(data))
		h.Write(data)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	classes := filepath.Join(dir, "target", "classes")
	stamp := filepath.Join(classes, ".sources.sha256")
	full := classes + string(filepath.ListSeparator) + cp
	if old, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(old)) == sum {
		return full, nil
	}
	if err := os.RemoveAll(classes); err != nil {
		return "", err
	}
	if err := os.MkdirAll(classes, 0o755); err != nil {
		return "", err
	}
	javac := filepath.Join(filepath.Dir(java), "javac")
	if _, err := os.Stat(javac); err != nil {
		return "", fmt.Errorf("javac is not beside %s (a JRE without a JDK?): %v", java, err)
	}
	args := append([]string{"-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "--release", "17", "-nowarn",
		"-cp", cp, "-d", classes}, sources...)
	res, err := runTool(t, javaToolTimeout, nil, javac, args...)
	if err != nil {
		return "", err
	}
	if res.ExitCode != 0 {
		return "", fmt.Errorf("javac test/java/src exited %d:\n%s%s", res.ExitCode, clip(res.Stdout), clip(res.Stderr))
	}
	return full, os.WriteFile(stamp, []byte(sum+"\n"), 0o644)
}

// javaProgram runs a main class of test/java/src against b and returns
// its stdout; it must exit 0.
func javaProgram(t *testing.T, b *Broker, class string, args ...string) string {
	t.Helper()
	java, _ := javaClasspath(t)
	cp := javaProgramClasspath(t)
	argv := append(append(append([]string{}, javaJVMFlags...), "-cp", cp, class), args...)
	res, err := runTool(t, 2*javaToolTimeout, nil, java, argv...)
	if err != nil {
		t.Fatalf("%s %v: %v\nbroker output:\n%s", shortClass(class), args, err, clip(b.Output()))
	}
	if res.ExitCode != 0 {
		t.Fatalf("%s %v exited %d; stdout:\n%s\nstderr:\n%s\nbroker output:\n%s",
			shortClass(class), args, res.ExitCode, clip(res.Stdout), clip(res.Stderr), clip(b.Output()))
	}
	return res.Stdout
}

// TestJavaClientsProduceConsume runs the Java 4.4 producer (idempotent,
// acks=all, one producer per codec: none, gzip, snappy, lz4, zstd) to three
// partitions of a topic per codec, checks what is on disk (the codec, a
// producer id, sequences without gaps), then the Java consumer in a group
// with group.protocol=classic reads every record exactly once, in order
// per partition, and commits where it stopped.
func TestJavaClientsProduceConsume(t *testing.T) {
	start := time.Now()
	b := javaBroker(t)
	javaProgramClasspath(t) // compile before the clock of the runs matters
	const prefix, partitions, count, group = "jclient", 3, 300, "jclient-group"
	adm := javaAdmin(t, b)
	var topics []string
	for _, codec := range codecs {
		topic := prefix + "-" + codec
		topics = append(topics, topic)
		createTopic(t, adm, topic, partitions)
	}

	out := javaProgram(t, b, javaProduceAll, append([]string{b.Addr, prefix, strconv.Itoa(partitions), strconv.Itoa(count)}, codecs...)...)
	sent := toolLines(out)
	if len(sent) != len(codecs)*partitions {
		t.Fatalf("ProduceAll printed %d lines, want %d:\n%s", len(sent), len(codecs)*partitions, out)
	}
	for _, line := range sent {
		if f := strings.Fields(line); len(f) != 5 || f[3] != strconv.Itoa(count-1) {
			t.Errorf("ProduceAll: %q, want the last record of each partition at offset %d", line, count-1)
		}
	}
	for _, codec := range codecs {
		for p := range partitions {
			checkJavaBatches(t, b, prefix+"-"+codec, p, codec, count)
		}
	}

	out = javaProgram(t, b, javaConsumeAll, append([]string{b.Addr, group, strconv.Itoa(len(codecs) * partitions * count), "60000"}, topics...)...)
	checkJavaConsumed(t, out, topics, partitions, count)

	committed, err := adm.FetchOffsets(testContext(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range topics {
		for p := range int32(partitions) {
			if o, ok := committed.Lookup(topic, p); !ok || o.At != count {
				t.Errorf("group %s committed %+v for %s-%d, want offset %d", group, o, topic, p, count)
			}
		}
	}
	t.Logf("wall time %v", time.Since(start).Round(time.Millisecond))
}

// checkJavaBatches checks one partition on disk: count records with the
// codec, every batch from one idempotent producer (a producer id, epoch 0
// after a fresh InitProducerId) and base sequences that follow the record
// counts from 0.
func checkJavaBatches(t *testing.T, b *Broker, topic string, partition int, codec string, count int) {
	t.Helper()
	batches := checkDiskCodec(t, b.DataDir, topic, partition, codec, count)
	seq := int32(0)
	for i, batch := range batches {
		if batch.ProducerID < 0 || batch.ProducerID != batches[0].ProducerID || batch.ProducerEpoch != 0 {
			t.Errorf("%s-%d: batch at offset %d from producer %d epoch %d, want one idempotent producer (first batch: %d)",
				topic, partition, batch.BaseOffset, batch.ProducerID, batch.ProducerEpoch, batches[0].ProducerID)
			return
		}
		if batch.BaseSequence != seq {
			t.Errorf("%s-%d: batch %d has base sequence %d, want %d", topic, partition, i, batch.BaseSequence, seq)
			return
		}
		seq += batch.Records
	}
}

// checkJavaConsumed checks ConsumeAll's lines "topic partition offset key
// value": per partition, offsets 0..count-1 in order, each once, with the
// key and value the producer gave the record of that index.
func checkJavaConsumed(t *testing.T, out string, topics []string, partitions, count int) {
	t.Helper()
	next := map[string]int{}
	for _, line := range toolLines(out) {
		f := strings.Fields(line)
		if len(f) != 5 {
			t.Fatalf("ConsumeAll printed %q", line)
		}
		topic, partition := f[0], f[1]
		tp := topic + "-" + partition
		i := next[tp]
		codec := strings.TrimPrefix(topic, "jclient-")
		want := []string{strconv.Itoa(i), "k" + partition + "-" + strconv.Itoa(i), codec + "-" + partition + "-" + strconv.Itoa(i)}
		if got := f[2:]; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Fatalf("%s: record %d is offset %s key %s value %s, want %v (a record lost, repeated or out of order)", tp, i, got[0], got[1], got[2], want)
		}
		next[tp] = i + 1
	}
	for _, topic := range topics {
		for p := range partitions {
			if got := next[fmt.Sprintf("%s-%d", topic, p)]; got != count {
				t.Errorf("%s-%d: consumed %d records, want %d", topic, p, got, count)
			}
		}
	}
}
