package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// librdkafka's clients through a leader failover (issue 12): kcat and
// confluent-kafka-python produce with acks=all and idempotence to one
// partition of an RF=3, min.insync.replicas=2 topic, and consume it, while
// its leader is killed with SIGKILL, stays down past its session, and
// restarts. The applications see no error beyond the ones librdkafka
// retries by itself: kcat, strict by default, exits on a delivery failure,
// a consume error or all brokers down; the Python script fails on a
// failed delivery, a fatal error or a consume error. Every record
// acknowledged to either must be read by both consumers and by a final
// read through the leader, once and at one offset (the fault suite's
// checker). franz-go goes through the same faults in the fault suite.

const (
	// clientsFailoverRecords is how many records each producer writes, over
	// clientsFailoverProduceFor: about 100 per second each.
	clientsFailoverRecords    = 1500
	clientsFailoverProduceFor = 15 * time.Second
	// clientsFailoverKillAfter is when the leader dies, after the producers start.
	clientsFailoverKillAfter = 4 * time.Second
	// clientsFailoverEndMax bounds the wait for both producers to have every
	// record answered, and for both consumers to reach the end.
	clientsFailoverEndMax = 40 * time.Second
)

// TestClientsThroughFailover: see above.
func TestClientsThroughFailover(t *testing.T) {
	kcatPath := lookTool(t, "kcat")
	requirePythonModule(t, "confluent_kafka")
	script, err := filepath.Abs(filepath.Join("testdata", "failover_confluent.py"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t, 2*time.Minute)
	fc := newFaultCluster(t)
	const topic = "failover-clients"
	adm := kadm.NewClient(clusterClient(t, fc.seeds()))
	resp, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	var leader *Broker
	if !testutil.WaitForEvery(clusterAgreeMax, clusterPollEvery, func() bool {
		l, err := fc.layoutFrom(ctx, fc.brokers, topic)
		if err != nil || l[0].Leader < 0 || len(l[0].ISR) != 3 {
			return false
		}
		leader = fc.node(l[0].Leader)
		return true
	}) {
		t.Fatalf("%s[0] has no leader with a full ISR within %v\n%s", topic, clusterAgreeMax, fc.outputs())
	}
	seeds := strings.Join(fc.seeds(), ",")
	check := newFaultChecker()
	rdkafka := []string{"-X", "acks=all", "-X", "enable.idempotence=true", "-X", "linger.ms=5",
		"-X", "message.timeout.ms=40000"}

	// The consumers first: kcat reads partition 0 from the start.
	kc := startClientProc(t, kcatPath, []string{"-C", "-b", seeds, "-t", topic, "-p", "0", "-o", "beginning", "-u",
		"-f", `%p %o %s\n`}, func(line string) {
		var p int32
		var o int64
		var v string
		if _, err := fmt.Sscanf(line, "%d %d %s", &p, &o, &v); err == nil {
			check.Read("kcat", v, faultPos{p, o})
		}
	})
	flushed := make(chan struct{})
	var pySummary string
	py := startClientProc(t, pythonPath, []string{"-B", script, seeds, topic, "failover-py", strconv.Itoa(clientsFailoverRecords),
		strconv.FormatFloat(clientsFailoverProduceFor.Seconds(), 'f', 1, 64)}, func(line string) {
		switch {
		case strings.Contains(line, `"event": "flushed"`):
			close(flushed)
		case strings.HasPrefix(line, `{"acked"`):
			pySummary = line
		}
	})
	kp := startClientProc(t, kcatPath, append([]string{"-P", "-b", seeds, "-t", topic, "-p", "0", "-v", "-v"}, rdkafka...), nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		for i := range clientsFailoverRecords {
			time.Sleep(time.Until(start.Add(clientsFailoverProduceFor * time.Duration(i) / clientsFailoverRecords)))
			if _, err := fmt.Fprintf(kp.stdin, "kcat-%d\n", i); err != nil {
				return // kcat exited: its exit code says why
			}
		}
		kp.stdin.Close()
	})

	time.Sleep(clientsFailoverKillAfter)
	at := time.Now()
	leader.Kill()
	t.Logf("killed node %d, leader of %s[0], with SIGKILL", fc.id(leader), topic)
	time.Sleep(faultDown)
	fc.restart(leader)
	t.Logf("restarted node %d %v after its kill", fc.id(leader), time.Since(at).Round(time.Millisecond))
	wg.Wait()

	// kcat's producer: exit 0 means every record was delivered.
	if !kp.wait(clientsFailoverEndMax) {
		t.Fatalf("kcat -P did not finish within %v of its input's end; stderr:\n%s", clientsFailoverEndMax, clip(kp.stderrText()))
	}
	kcatErr := kp.stderrText()
	delivered := strings.Count(kcatErr, "Message delivered to partition")
	if code := kp.cmd.ProcessState.ExitCode(); code != 0 || delivered != clientsFailoverRecords {
		t.Errorf("kcat -P exited %d with %d of %d records delivered; stderr:\n%s", code, delivered, clientsFailoverRecords, clip(kcatErr))
	}
	for i := range delivered {
		check.AckedUnplaced(fmt.Sprintf("kcat-%d", i))
	}
	t.Logf("kcat -P: %d delivered; librdkafka's notices: %v", delivered, formatCounts(rdkafkaNotices(kcatErr)))
	select {
	case <-flushed:
	case <-time.After(clientsFailoverEndMax):
		t.Fatalf("the Python producer did not have every record answered within %v; stderr:\n%s", clientsFailoverEndMax, clip(py.stderrText()))
	}

	// Both consumers read up to the end offset.
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	if end.Err != nil {
		t.Fatal(end.Err)
	}
	fmt.Fprintf(py.stdin, "end %d\n", end.Offset)
	if !py.wait(clientsFailoverEndMax) {
		t.Fatalf("the Python script did not read up to offset %d within %v; stderr:\n%s", end.Offset, clientsFailoverEndMax, clip(py.stderrText()))
	}
	if code := py.cmd.ProcessState.ExitCode(); code != 0 || pySummary == "" {
		t.Fatalf("the Python script exited %d; stderr:\n%s", code, clip(py.stderrText()))
	}
	var sum struct {
		Acked         [][3]any `json:"acked"`
		Failed        []string `json:"failed"`
		Consumed      [][3]any `json:"consumed"`
		Errors        [][4]any `json:"errors"`
		ConsumeErrors []string `json:"consume_errors"`
	}
	if err := json.Unmarshal([]byte(pySummary), &sum); err != nil {
		t.Fatalf("the Python summary: %v", err)
	}
	for _, a := range sum.Acked {
		check.Acked(a[0].(string), faultPos{int32(a[1].(float64)), int64(a[2].(float64))})
	}
	check.Final("confluent")
	for _, c := range sum.Consumed {
		check.Read("confluent", c[0].(string), faultPos{int32(c[1].(float64)), int64(c[2].(float64))})
	}
	notices := map[string]int{}
	for _, e := range sum.Errors {
		countKind(notices, fmt.Sprint(e[0]))
		if fatal, _ := e[1].(bool); fatal {
			t.Errorf("confluent-kafka-python raised a fatal error: %v", e)
		}
	}
	t.Logf("confluent-kafka-python: %d acknowledged, %d consumed; librdkafka's notices: %v", len(sum.Acked), len(sum.Consumed), formatCounts(notices))
	if len(sum.Failed) > 0 || len(sum.ConsumeErrors) > 0 {
		t.Errorf("confluent-kafka-python saw %d failed deliveries %q and %d consume errors %q",
			len(sum.Failed), first(sum.Failed), len(sum.ConsumeErrors), first(sum.ConsumeErrors))
	}

	// kcat's consumer has read up to the end too, then stops.
	check.Final("kcat")
	if !testutil.WaitFor(clientsFailoverEndMax, func() bool { return kc.lines() >= int(end.Offset) }) {
		t.Errorf("kcat -C read %d records of %d within %v", kc.lines(), end.Offset, clientsFailoverEndMax)
	}
	kc.cmd.Process.Signal(syscall.SIGTERM)
	if !kc.wait(10 * time.Second) {
		t.Errorf("kcat -C did not stop within 10s of SIGTERM")
	}
	if code := kc.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("kcat -C exited %d; stderr:\n%s", code, clip(kc.stderrText()))
	}

	if problem := readThroughLeaders(fc.seeds(), topic, 1, check); problem != "" {
		t.Errorf("full read through the leader: %s", problem)
	}
	rep := check.Report()
	if rep.Acknowledged != 2*clientsFailoverRecords || !rep.OK() {
		t.Errorf("want %d acknowledged and no anomaly: %s", 2*clientsFailoverRecords, rep)
	} else {
		t.Logf("%s", rep)
	}
}

// first is the first of s, or "".
func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// rdkafkaNotices counts the "ERROR: <error>: ..." notices kcat prints from
// librdkafka's error callback, by error.
func rdkafkaNotices(stderr string) map[string]int {
	out := map[string]int{}
	for line := range strings.Lines(stderr) {
		_, rest, ok := strings.Cut(line, "ERROR: ")
		if !ok {
			continue
		}
		// "Local: Broker transport failure: host:port/4: ..."
		rest, local := strings.CutPrefix(rest, "Local: ")
		kind, _, _ := strings.Cut(rest, ":")
		if local {
			kind = "Local: " + kind
		}
		countKind(out, strings.TrimSpace(kind))
	}
	return out
}

// clientProc is a client tool running beside the test: its stdin, its
// stdout line by line, its stderr kept.
type clientProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed when the process exited and its output was read

	mu     sync.Mutex
	stderr bytes.Buffer
	n      int // stdout lines so far
}

// clientProcStderrMax bounds the stderr a clientProc keeps.
const clientProcStderrMax = 4 << 20

// startClientProc starts name with args; onLine, if not nil, gets every
// line of its stdout from one goroutine. The process is killed when the
// test ends if it still runs.
func startClientProc(t *testing.T, name string, args []string, onLine func(string)) *clientProc {
	t.Helper()
	p := &clientProc{cmd: exec.Command(name, args...), done: make(chan struct{})}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.stderr.Len() < clientProcStderrMax {
			p.stderr.Write(b)
		}
		return len(b), nil
	})
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			if onLine != nil {
				onLine(sc.Text())
			}
			p.mu.Lock()
			p.n++
			p.mu.Unlock()
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits up to d for the process to exit.
func (p *clientProc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (p *clientProc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *clientProc) lines() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// writerFunc is a function as an io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
