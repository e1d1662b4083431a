package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// The fault suite's cluster: three controller-only voters (node ids 1-3)
// and three broker-only nodes (4-6), as KRaft runs in production. Apart,
// so that a fault of a broker leaves the metadata quorum whole: with two
// of three brokers down the controllers still fence them and shrink ISRs
// (with combined nodes, two nodes down would also stop the quorum), and a
// broker's data directory can be wiped without wiping a voter's Raft log,
// which Raft does not survive. Node n binds 127.0.0.n; all nodes share the
// port numbers, so an address names its node.

const (
	faultControllers = 3
	faultBrokers     = 3
	// faultSession is the broker session timeout: a silent broker is
	// fenced after it (Kafka's default is 9 s; shorter keeps tests short).
	faultSession = 3 * time.Second
	// faultReadyMax bounds the start of all nodes; faultRestartMax the
	// restart of one.
	faultReadyMax   = 60 * time.Second
	faultRestartMax = 30 * time.Second
	// faultAskMax bounds one request to one node.
	faultAskMax = 3 * time.Second
	// faultLagTime is the cluster's replica.lag.time.max.ms: short enough
	// that a lagging follower leaves the ISR within a fault's duration, as
	// Kafka's 30 s would not.
	faultLagTime = 5 * time.Second
)

// faultCluster is the six processes of one fault test.
type faultCluster struct {
	t           *testing.T
	net         *faultNet // the namespaces the nodes run in; nil on loopback
	controllers []*Broker // node ids 1..3
	brokers     []*Broker // node ids 4..6
	httpAddr    map[*Broker]string
	direct      map[*Broker]*kgo.Client // one client per broker, seeded with it alone
	mu          sync.Mutex              // guards paused
	paused      map[*Broker]bool        // stopped with SIGSTOP, to be resumed before any stop
}

// newFaultCluster starts the six nodes on loopback and waits until all
// are ready and the brokers are registered. They are stopped when the
// test ends.
func newFaultCluster(t *testing.T) *faultCluster { return newFaultClusterOn(t, nil) }

// newFaultClusterOn is newFaultCluster with each node in its namespace of
// fn (see fault_net_test.go), or on loopback when fn is nil.
func newFaultClusterOn(t *testing.T, fn *faultNet) *faultCluster {
	t.Helper()
	hosts := make([]string, faultControllers+faultBrokers)
	for i := range hosts {
		hosts[i] = nodeHost(i + 1)
		if fn != nil {
			hosts[i] = fn.host(i + 1)
		}
	}
	kafkaPort, controllerPort, httpPort := strconv.Itoa(faultNetKafkaPort), strconv.Itoa(faultNetControllerPort), strconv.Itoa(faultNetHTTPPort)
	if fn == nil {
		ports := sharedFreePorts(t, hosts, 3)
		kafkaPort, controllerPort, httpPort = strconv.Itoa(ports[0]), strconv.Itoa(ports[1]), strconv.Itoa(ports[2])
	}
	var voters []string
	for id := 1; id <= faultControllers; id++ {
		voters = append(voters, fmt.Sprintf("%d@%s", id, net.JoinHostPort(hosts[id-1], controllerPort)))
	}
	fc := &faultCluster{t: t, net: fn, httpAddr: map[*Broker]string{}, direct: map[*Broker]*kgo.Client{}, paused: map[*Broker]bool{}}
	for i, host := range hosts {
		id := i + 1
		b := &Broker{t: t, DataDir: t.TempDir(), Addr: net.JoinHostPort(host, kafkaPort)}
		if fn != nil {
			b.Prefix = fn.prefix(id)
		}
		controller := net.JoinHostPort(host, controllerPort)
		fc.httpAddr[b] = net.JoinHostPort(host, httpPort)
		b.Env = append(nodeEnv(id, host, b.Addr, controller, strings.Join(voters, ","), b.DataDir),
			"KAFKA_HTTP_LISTENERS="+fc.httpAddr[b],
			"KAFKA_BROKER_SESSION_TIMEOUT_MS="+strconv.Itoa(int(faultSession/time.Millisecond)),
			"KAFKA_BROKER_HEARTBEAT_INTERVAL_MS=500",
			"KAFKA_REPLICA_LAG_TIME_MAX_MS="+strconv.Itoa(int(faultLagTime/time.Millisecond)))
		if id <= faultControllers {
			b.Env = append(b.Env, "KAFKA_PROCESS_ROLES=controller", "KAFKA_LISTENERS=CONTROLLER://"+controller,
				"KAFKA_ADVERTISED_LISTENERS=")
			fc.controllers = append(fc.controllers, b)
		} else {
			b.Env = append(b.Env, "KAFKA_PROCESS_ROLES=broker", "KAFKA_LISTENERS=PLAINTEXT://"+b.Addr)
			fc.brokers = append(fc.brokers, b)
		}
	}
	t.Cleanup(fc.stop)
	for _, b := range fc.brokers {
		fc.direct[b] = clusterClient(t, []string{b.Addr})
	}
	all := fc.all()
	for _, b := range all {
		b.Launch()
	}
	deadline := time.Now().Add(faultReadyMax)
	for _, b := range all {
		if err := b.WaitReady(time.Until(deadline)); err != nil {
			reason, _, _ := strings.Cut(err.Error(), "\n")
			t.Fatalf("node %d is not ready within %v: %s\n%s", fc.id(b), faultReadyMax, reason, fc.outputs())
		}
	}
	fc.waitBrokers(context.Background(), fc.brokers, 20*time.Second)
	return fc
}

func (fc *faultCluster) all() []*Broker { return append(slices.Clone(fc.controllers), fc.brokers...) }

// id is b's node.id.
func (fc *faultCluster) id(b *Broker) int32 { return int32(slices.Index(fc.all(), b) + 1) }

// node is the node with id.
func (fc *faultCluster) node(id int32) *Broker {
	all := fc.all()
	if id < 1 || int(id) > len(all) {
		return nil
	}
	return all[id-1]
}

func (fc *faultCluster) seeds() []string {
	var out []string
	for _, b := range fc.brokers {
		out = append(out, b.Addr)
	}
	return out
}

// others is every broker but b.
func (fc *faultCluster) others(b *Broker) []*Broker {
	var out []*Broker
	for _, o := range fc.brokers {
		if o != b {
			out = append(out, o)
		}
	}
	return out
}

// ask is broker b alone as a request target.
func (fc *faultCluster) ask(b *Broker) *kgo.Broker { return fc.direct[b].SeedBrokers()[0] }

// stop resumes paused nodes and stops every node at once.
func (fc *faultCluster) stop() {
	fc.mu.Lock()
	for b := range fc.paused {
		b.cmd.Process.Signal(syscall.SIGCONT)
	}
	clear(fc.paused)
	fc.mu.Unlock()
	var wg sync.WaitGroup
	for _, b := range fc.all() {
		wg.Go(b.Stop)
	}
	wg.Wait()
}

// pause stops b with SIGSTOP: alive to the kernel (its sockets stay
// open) but silent, as a long GC pause or a frozen VM.
func (fc *faultCluster) pause(b *Broker) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		fc.t.Fatalf("SIGSTOP node %d: %v", fc.id(b), err)
	}
	fc.paused[b] = true
}

// resume continues b after pause.
func (fc *faultCluster) resume(b *Broker) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		fc.t.Fatalf("SIGCONT node %d: %v", fc.id(b), err)
	}
	delete(fc.paused, b)
}

// restart starts a killed node again and waits until it is ready.
func (fc *faultCluster) restart(b *Broker) {
	fc.t.Helper()
	b.Launch()
	if err := b.WaitReady(faultRestartMax); err != nil {
		reason, _, _ := strings.Cut(err.Error(), "\n")
		fc.t.Fatalf("node %d did not restart within %v: %s\n%s", fc.id(b), faultRestartMax, reason, fc.outputs())
	}
}

// wipe empties b's data directory (b must not run): a disk replaced.
func (fc *faultCluster) wipe(b *Broker) {
	fc.t.Helper()
	if err := os.RemoveAll(b.DataDir); err != nil {
		fc.t.Fatal(err)
	}
	if err := os.MkdirAll(b.DataDir, 0o755); err != nil {
		fc.t.Fatal(err)
	}
}

// outputs is the end of what each node printed, for failure messages.
func (fc *faultCluster) outputs() string {
	var sb strings.Builder
	for _, b := range fc.all() {
		out := b.Output()
		if len(out) > outputTailBytes {
			out = fmt.Sprintf("(%d bytes before)...", len(out)-outputTailBytes) + out[len(out)-outputTailBytes:]
		}
		fmt.Fprintf(&sb, "--- node %d (%s) ---\n%s\n", fc.id(b), b.Addr, out)
	}
	return sb.String()
}

// activeController is the running controller that says, on its /metrics,
// that it is active, or else the one the running controllers' latest
// "quorum: new leader" log line names (a controller-only node does not
// serve the controller metrics yet); 0 when none within d.
func (fc *faultCluster) activeController(d time.Duration) int32 {
	var active int32
	testutil.WaitForEvery(d, clusterPollEvery, func() bool {
		var running []*Broker
		for _, b := range fc.controllers {
			if b.running() {
				running = append(running, b)
			}
		}
		for _, b := range running {
			if isActiveController(fc.httpAddr[b]) {
				active = fc.id(b)
				return true
			}
		}
		active = quorumLeader(running)
		return active != 0 && slices.Contains(running, fc.node(active))
	})
	return active
}

// quorumLeaderLine is the quorum's log line for a leader change.
var quorumLeaderLine = regexp.MustCompile(`msg="quorum: new leader" node=\d+ leader=(\d+) term=(\d+)`)

// quorumLeader is the leader named by the highest term in what the
// controllers printed (terms only grow, so the highest is the latest
// leader they know), 0 if none.
func quorumLeader(controllers []*Broker) int32 {
	var leader int32
	term := -1
	for _, b := range controllers {
		for _, m := range quorumLeaderLine.FindAllStringSubmatch(b.Output(), -1) {
			l, _ := strconv.Atoi(m[1])
			tm, _ := strconv.Atoi(m[2])
			if tm > term && l > 0 {
				leader, term = int32(l), tm
			}
		}
	}
	return leader
}

// running reports whether the process launched last still runs.
func (b *Broker) running() bool {
	select {
	case <-b.exited:
		return false
	default:
		return b.exited != nil
	}
}

// isActiveController reads kafka_controller_kafkacontroller_activecontrollercount
// from the /metrics at addr.
func isActiveController(addr string) bool {
	cl := http.Client{Timeout: faultAskMax}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), " "); ok && name == "kafka_controller_kafkacontroller_activecontrollercount" {
			return strings.TrimSpace(value) == "1"
		}
	}
	return false
}

// faultPartition is one partition as Metadata shows it.
type faultPartition struct {
	Leader      int32
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
	Err         error
}

// faultLayout is topic's partitions as broker b shows them, and the
// brokers b lists.
func (fc *faultCluster) faultLayout(ctx context.Context, b *Broker, topic string) (map[int32]faultPartition, []int32, error) {
	ctx, cancel := context.WithTimeout(ctx, faultAskMax)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, fc.ask(b))
	if err != nil {
		return nil, nil, err
	}
	var brokers []int32
	for _, mb := range resp.Brokers {
		brokers = append(brokers, mb.NodeID)
	}
	slices.Sort(brokers)
	if len(resp.Topics) != 1 {
		return nil, brokers, fmt.Errorf("metadata for %d topics, want 1", len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		return nil, brokers, err
	}
	out := map[int32]faultPartition{}
	for _, p := range resp.Topics[0].Partitions {
		isr := slices.Clone(p.ISR)
		slices.Sort(isr)
		out[p.Partition] = faultPartition{Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, Replicas: p.Replicas,
			ISR: isr, Err: kerr.ErrorForCode(p.ErrorCode)}
	}
	return out, brokers, nil
}

// layoutFrom asks the live brokers in turn and returns the first answer.
func (fc *faultCluster) layoutFrom(ctx context.Context, live []*Broker, topic string) (map[int32]faultPartition, error) {
	var err error
	for _, b := range live {
		var l map[int32]faultPartition
		if l, _, err = fc.faultLayout(ctx, b, topic); err == nil {
			return l, nil
		}
	}
	return nil, err
}

// waitBrokers waits until every broker of live lists exactly live.
func (fc *faultCluster) waitBrokers(ctx context.Context, live []*Broker, d time.Duration) {
	fc.t.Helper()
	var want []int32
	for _, b := range live {
		want = append(want, fc.id(b))
	}
	slices.Sort(want)
	problem := ""
	if !testutil.WaitForEvery(d, clusterPollEvery, func() bool {
		for _, b := range live {
			ctx, cancel := context.WithTimeout(ctx, faultAskMax)
			v, err := metadataView(ctx, fc.ask(b))
			cancel()
			var got []int32
			for id := range v.brokers {
				got = append(got, id)
			}
			slices.Sort(got)
			if err != nil || !slices.Equal(got, want) {
				problem = fmt.Sprintf("node %d lists brokers %v (error %v), want %v", fc.id(b), got, err, want)
				return false
			}
		}
		return true
	}) {
		fc.t.Fatalf("brokers not agreed within %v: %s\n%s", d, problem, fc.outputs())
	}
}

// healthyProblem says how topic is not healed as every live broker sees
// it: each of partitions led, with every replica in the ISR; "" if healed.
func (fc *faultCluster) healthyProblem(ctx context.Context, topic string, partitions int) string {
	for _, b := range fc.brokers {
		l, _, err := fc.faultLayout(ctx, b, topic)
		if err != nil {
			return fmt.Sprintf("node %d: %v", fc.id(b), err)
		}
		if len(l) != partitions {
			return fmt.Sprintf("node %d shows %d partitions, want %d", fc.id(b), len(l), partitions)
		}
		for p, fp := range l {
			replicas := slices.Sorted(slices.Values(fp.Replicas))
			switch {
			case fp.Leader < 0:
				return fmt.Sprintf("node %d: partition %d has no leader", fc.id(b), p)
			case !slices.Equal(fp.ISR, replicas):
				return fmt.Sprintf("node %d: partition %d has ISR %v, replicas %v", fc.id(b), p, fp.ISR, fp.Replicas)
			}
		}
	}
	return ""
}
