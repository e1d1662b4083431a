package e2e

// Apache Kafka beside Sluice: the broker of test/java/pom.xml (kafka_2.13
// at the pinned version) started as one KRaft node, broker and controller
// in one process, formatted in a temporary directory at test time as
// bin/kafka-storage.sh format and bin/kafka-server-start.sh would. It is
// the oracle of oracle_test.go.
//
// A start costs a JVM for the format (about 3 s) and one for the broker
// (about 10 s on two cores), so a test that needs Kafka starts it once and
// runs its cases as subtests. The JVM is killed when that test ends
// (t.Cleanup), and also when the test binary dies first (Pdeathsig).

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's main classes, as bin/kafka-storage.sh and
// bin/kafka-server-start.sh name them.
const (
	kafkaStorageTool = "kafka.tools.StorageTool"
	kafkaServer      = "kafka.Kafka"
)

// kafkaStartTimeout bounds a Kafka start, from the format to the first
// Metadata answer that lists the broker.
const kafkaStartTimeout = 90 * time.Second

// kafkaOutputBytesMax bounds what the test keeps of Kafka's output.
const kafkaOutputBytesMax = 1 << 20

// kafkaJVMFlags start the broker JVM small: a bounded heap, one GC thread
// and the client compiler, which starts faster than C2 on two cores.
var kafkaJVMFlags = []string{
	"-Xmx512m", "-Xms128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
	"-Djava.awt.headless=true",
	"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
}

// KafkaPeer is one Apache Kafka process under test.
type KafkaPeer struct {
	Addr      string // the PLAINTEXT listener, host:port
	ClusterID string
	Dir       string // config and data
	cmd       *exec.Cmd
	exited    chan struct{}
	output    *boundedBuffer
}

// kafkaProperties is a one-node combined server.properties: Kafka's
// defaults (page-cache acknowledgement, auto-creation on, one partition)
// except the settings a single node needs (replication factors 1), one
// partition for each internal topic, and an immediate first rebalance, as
// the Java tests set for Sluice.
func kafkaProperties(dir string, port, controllerPort int, extra ...string) string {
	lines := []string{
		"process.roles=broker,controller",
		"node.id=1",
		fmt.Sprintf("controller.quorum.voters=1@127.0.0.1:%d", controllerPort),
		fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", port, controllerPort),
		fmt.Sprintf("advertised.listeners=PLAINTEXT://127.0.0.1:%d", port),
		"controller.listener.names=CONTROLLER",
		"inter.broker.listener.name=PLAINTEXT",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"log.dirs=" + filepath.Join(dir, "data"),
		"offsets.topic.replication.factor=1",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"share.coordinator.state.topic.replication.factor=1",
		"share.coordinator.state.topic.min.isr=1",
		"group.initial.rebalance.delay.ms=0",
		// One partition for each internal topic, created at start (see
		// waitReady): 50 partitions each would add seconds.
		"offsets.topic.num.partitions=1",
		"transaction.state.log.num.partitions=1",
	}
	return strings.Join(append(lines, extra...), "\n") + "\n"
}

// kafkaClusterID is a random cluster id in Kafka's Uuid text form: 16
// bytes, unpadded URL-safe base64, not starting with '-' (Uuid.randomUuid
// avoids those, since a leading '-' reads as a command-line flag).
func kafkaClusterID(t testing.TB) string {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id
		}
	}
}

// StartKafka formats and starts a one-node Kafka with extra
// server.properties lines and waits until it answers Metadata with itself
// as a broker. It is killed when t ends. Java and Maven missing: skipped,
// or failed in CI (as every Java test).
func StartKafka(t testing.TB, extra ...string) *KafkaPeer {
	t.Helper()
	java, cp := javaClasspath(t)
	dir := t.TempDir()
	port, controllerPort := freePort(t), freePort(t)
	k := &KafkaPeer{
		Addr:      fmt.Sprintf("127.0.0.1:%d", port),
		ClusterID: kafkaClusterID(t),
		Dir:       dir,
		exited:    make(chan struct{}),
		output:    &boundedBuffer{max: kafkaOutputBytesMax},
	}
	props := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(props, []byte(kafkaProperties(dir, port, controllerPort, extra...)), 0o644); err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string{}, javaJVMFlags...), "-cp", cp, kafkaStorageTool, "format", "-t", k.ClusterID, "-c", props)
	res, err := runTool(t, kafkaStartTimeout, nil, java, argv...)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("format Kafka's storage: %v (exit %d)\nstdout:\n%s\nstderr:\n%s", err, res.ExitCode, clip(res.Stdout), clip(res.Stderr))
	}

	argv = append(append([]string{}, kafkaJVMFlags...), "-cp", cp, kafkaServer, props)
	k.cmd = exec.Command(java, argv...)
	k.cmd.Dir = dir
	k.cmd.Stdout, k.cmd.Stderr = k.output, k.output
	// The JVM dies with the test binary even when no cleanup runs (a
	// panic, a timeout's os.Exit). The signal follows the OS thread that
	// forked; Go ends a thread only when a goroutine locked to it exits,
	// which nothing here does, so it comes only with the process's end.
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		k.cmd.Wait()
		close(k.exited)
	}()
	t.Cleanup(k.Kill)
	if err := k.waitReady(kafkaStartTimeout); err != nil {
		t.Fatal(err)
	}
	return k
}

// waitReady polls Metadata until Kafka lists itself as a broker with a
// controller, which a KRaft broker does once it has caught up with the
// metadata log and unfenced itself, then FindCoordinator for a group and a
// transactional id until both answer without an error: the first asks
// create __consumer_offsets and __transaction_state, and until those are
// loaded Kafka answers COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR or
// COORDINATOR_LOAD_IN_PROGRESS to group and producer-id requests; then
// InitProducerId until it gives an id.
func (k *KafkaPeer) waitReady(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr), kgo.RequestRetries(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	var last error
	for {
		select {
		case <-k.exited:
			return fmt.Errorf("kafka exited at start:\n%s", clip(k.Output()))
		default:
		}
		reqCtx, reqCancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(reqCtx, cl)
		reqCancel()
		if err == nil && len(resp.Brokers) == 1 && resp.ControllerID >= 0 && k.coordinatorsReady(ctx, cl) {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafka did not answer within %v (last error %v):\n%s", d, last, clip(k.Output()))
		case <-k.exited:
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// coordinatorsReady asks for the coordinator of a group and of a
// transactional id and for a producer id, and reports whether all three
// were given.
func (k *KafkaPeer) coordinatorsReady(ctx context.Context, cl *kgo.Client) bool {
	for _, keyType := range []int8{0, 1} {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorType = keyType
		req.CoordinatorKey, req.CoordinatorKeys = "sluice-warmup", []string{"sluice-warmup"}
		reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := req.RequestWith(reqCtx, cl)
		cancel()
		if err != nil || len(resp.Coordinators) != 1 || resp.Coordinators[0].ErrorCode != 0 {
			return false
		}
	}
	// A producer id comes from a block the broker asks the controller
	// for; until it has one, COORDINATOR_LOAD_IN_PROGRESS.
	reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(reqCtx, cl)
	return err == nil && resp.ErrorCode == 0
}

// Kill ends the JVM with SIGKILL and waits for it.
func (k *KafkaPeer) Kill() {
	if k.cmd == nil || k.cmd.Process == nil {
		return
	}
	select {
	case <-k.exited:
		return
	default:
	}
	k.cmd.Process.Kill()
	<-k.exited
}

// Output returns what Kafka printed (its first kafkaOutputBytesMax bytes).
func (k *KafkaPeer) Output() string { return k.output.String() }

// boundedBuffer keeps the first max bytes written to it; writes from the
// process's stdout and stderr copiers may race, so it locks.
type boundedBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
