package e2e

// The harness of the Java tests: Kafka's own command-line tools, run
// through their main classes as bin/kafka-*.sh does, against a real sluice
// process. test/java/pom.xml pins the Kafka version; Maven resolves its
// classpath once into test/java/target/classpath.txt (scripts/test does it
// before the tests; the harness does it when the file is missing or older
// than the pom), and every tool run is one JVM with that classpath.
//
// Java and Maven missing: the tests skip on a developer's machine and fail
// in CI (CI is set), where scripts/test installs both.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Tool main classes, as the kafka-*.sh scripts of Kafka 4.4 name them.
const (
	javaTopics        = "org.apache.kafka.tools.TopicCommand"
	javaProducer      = "org.apache.kafka.tools.ConsoleProducer"
	javaConsumer      = "org.apache.kafka.tools.consumer.ConsoleConsumer"
	javaGroups        = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
	javaConfigs       = "org.apache.kafka.tools.ConfigCommand"
	javaGetOffsets    = "org.apache.kafka.tools.GetOffsetShell"
	javaLogDirs       = "org.apache.kafka.tools.LogDirsCommand"
	javaDeleteRecords = "org.apache.kafka.tools.DeleteRecordsCommand"
	javaProducerPerf  = "org.apache.kafka.tools.ProducerPerformance"
	javaConsumerPerf  = "org.apache.kafka.tools.ConsumerPerformance"
	javaFeatures      = "org.apache.kafka.tools.FeatureCommand"
	javaCluster       = "org.apache.kafka.tools.ClusterTool"
	javaAPIVersions   = "org.apache.kafka.tools.BrokerApiVersionsCommand"
	javaLeaderElect   = "org.apache.kafka.tools.LeaderElectionCommand"
	javaReassign      = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand"
	javaACLs          = "org.apache.kafka.tools.AclCommand"
	javaQuorum        = "org.apache.kafka.tools.MetadataQuorumCommand"
	javaTransactions  = "org.apache.kafka.tools.TransactionsCommand"
	javaClientMetrics = "org.apache.kafka.tools.ClientMetricsCommand"
)

// javaToolTimeout bounds one tool run: a JVM start is about a second, the
// slowest run (a console consumer joining a group) a few more.
const javaToolTimeout = 60 * time.Second

// javaResolveTimeout bounds the Maven run that resolves the classpath; the
// first one on a clean machine downloads about 40 MB of jars.
const javaResolveTimeout = 5 * time.Minute

// javaJVMFlags start a small, quick JVM: one GC thread, the client
// compiler only, a bounded heap, and client warnings on stderr.
var javaJVMFlags = []string{
	"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m", "-Xshare:auto",
	"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
}

// javaBrokerEnv are the broker settings of every Java test: a group
// forms at once instead of waiting group.initial.rebalance.delay.ms (3 s)
// for more members, which would add seconds to every consumer run.
var javaBrokerEnv = []string{"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0"}

// javaSetup is resolved once per test binary.
var javaSetup struct {
	once      sync.Once
	java      string
	classpath string
	skip, err string // why the tests cannot run: skip locally, fail in CI
}

// javaClasspath returns the java binary and the tools' classpath, or
// skips the test (fails it in CI) when Java or Maven is missing.
func javaClasspath(t testing.TB) (java, classpath string) {
	t.Helper()
	javaSetup.once.Do(resolveJava)
	if javaSetup.err != "" {
		t.Fatal(javaSetup.err)
	}
	if javaSetup.skip != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set: scripts/test installs Java and Maven)", javaSetup.skip)
		}
		t.Skip(javaSetup.skip)
	}
	return javaSetup.java, javaSetup.classpath
}

// resolveJava finds java and mvn and reads the classpath file, running
// Maven first when the file is missing, older than the pom, or names a jar
// that is no longer in the local repository.
func resolveJava() {
	java, err := lookJava()
	if err != nil {
		javaSetup.skip = "java is not installed: " + err.Error()
		return
	}
	dir, err := filepath.Abs(filepath.Join("..", "java"))
	if err != nil {
		javaSetup.err = err.Error()
		return
	}
	cpFile := filepath.Join(dir, "target", "classpath.txt")
	cp, ok := readClasspath(cpFile, filepath.Join(dir, "pom.xml"))
	if !ok {
		mvn, err := exec.LookPath("mvn")
		if err != nil {
			javaSetup.skip = "mvn is not installed: " + err.Error()
			return
		}
		if err := mavenClasspath(mvn, dir, cpFile); err != nil {
			javaSetup.err = err.Error()
			return
		}
		if cp, ok = readClasspath(cpFile, filepath.Join(dir, "pom.xml")); !ok {
			javaSetup.err = "mvn wrote no usable " + cpFile
			return
		}
	}
	javaSetup.java, javaSetup.classpath = java, cp
}

// lookJava prefers $JAVA_HOME/bin/java, as kafka-run-class.sh does.
func lookJava() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		path := filepath.Join(home, "bin", "java")
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	return exec.LookPath("java")
}

// readClasspath returns the classpath in file if it is newer than pom and
// every jar it names exists.
func readClasspath(file, pom string) (string, bool) {
	cpInfo, err := os.Stat(file)
	if err != nil {
		return "", false
	}
	pomInfo, err := os.Stat(pom)
	if err != nil || pomInfo.ModTime().After(cpInfo.ModTime()) {
		return "", false
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", false
	}
	cp := strings.TrimSpace(string(data))
	if cp == "" {
		return "", false
	}
	for _, jar := range filepath.SplitList(cp) {
		if _, err := os.Stat(jar); err != nil {
			return "", false
		}
	}
	return cp, true
}

// mavenClasspath runs the same command as scripts/test.
func mavenClasspath(mvn, dir, cpFile string) error {
	ctx, cancel := context.WithTimeout(context.Background(), javaResolveTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, mvn, "-q", "-B", "-f", filepath.Join(dir, "pom.xml"),
		"dependency:build-classpath", "-Dmdep.outputFile="+cpFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("resolve the Kafka tools' classpath (mvn dependency:build-classpath in %s): %v\n%s", dir, err, clip(string(out)))
	}
	return nil
}

// javaTool runs a tool's main class against b with stdin and returns what
// it printed and its exit code; it fails the test only when the tool could
// not run or overran javaToolTimeout.
func javaTool(t testing.TB, b *Broker, stdin []byte, class string, args ...string) toolResult {
	t.Helper()
	java, cp := javaClasspath(t)
	argv := append(append(append([]string{}, javaJVMFlags...), "-cp", cp, class), args...)
	res, err := runTool(t, javaToolTimeout, stdin, java, argv...)
	if err != nil {
		t.Fatalf("%s %v: %v\nbroker output:\n%s", shortClass(class), args, err, clip(b.Output()))
	}
	return res
}

// javaOK is javaTool for a run that must exit 0; it returns stdout.
func javaOK(t testing.TB, b *Broker, stdin []byte, class string, args ...string) string {
	t.Helper()
	res := javaTool(t, b, stdin, class, args...)
	if res.ExitCode != 0 {
		t.Fatalf("%s %v exited %d; stdout:\n%s\nstderr:\n%s\nbroker output:\n%s",
			shortClass(class), args, res.ExitCode, clip(res.Stdout), clip(res.Stderr), clip(b.Output()))
	}
	return res.Stdout
}

// shortClass is the class name without its package, for messages.
func shortClass(class string) string {
	return class[strings.LastIndexByte(class, '.')+1:]
}

// javaBroker starts a broker for a Java test, after making sure the tools
// can run (so a machine without Java skips before starting anything).
func javaBroker(t *testing.T) *Broker {
	t.Helper()
	javaClasspath(t)
	return StartBroker(t, javaBrokerEnv...)
}

// produceToPartitions writes counts[p] records to each partition p of
// topic with franz-go, keys "k<p>-<i>" and values "v<p>-<i>", so a tool's
// view of offsets can be checked against exact numbers.
func produceToPartitions(t *testing.T, b *Broker, topic string, counts []int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p, n := range counts {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p),
				Key: fmt.Appendf(nil, "k%d-%d", p, i), Value: fmt.Appendf(nil, "v%d-%d", p, i)})
		}
	}
	if err := cl.ProduceSync(testContext(t, 30*time.Second), recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// toolLines splits a tool's output into its non-empty lines, trimmed.
func toolLines(out string) []string {
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// toolTable parses the whitespace-separated table that the group and
// offsets tools print: the header line starting with first, then rows,
// each as a map from column name to value.
func toolTable(t testing.TB, out, first string) []map[string]string {
	t.Helper()
	var header []string
	var rows []map[string]string
	for _, line := range toolLines(out) {
		fields := strings.Fields(line)
		if header == nil {
			if len(fields) > 0 && fields[0] == first {
				header = fields
			}
			continue
		}
		if len(fields) != len(header) {
			t.Fatalf("row %q has %d columns, header %v has %d; output:\n%s", line, len(fields), header, len(header), out)
		}
		row := map[string]string{}
		for i, name := range header {
			row[name] = fields[i]
		}
		rows = append(rows, row)
	}
	if header == nil {
		t.Fatalf("no table with a %s column in:\n%s", first, out)
	}
	return rows
}
