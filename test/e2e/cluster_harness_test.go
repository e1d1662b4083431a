package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// The cluster tests run three sluice nodes, each a broker and a controller
// voter (KRaft's combined mode), configured like the apache/kafka image:
// only through KAFKA_ variables. Node n binds 127.0.0.n (the whole of 127/8
// is loopback on Linux) and every node uses the same two port numbers, so
// an address names its node. Most of these tests use replication factor
// 1, so that a partition lives on its leader alone and leadership is
// easy to predict; the replication tests ask for more.

// quorumStartupTimeoutEnv is how long a node waits at start for a quorum
// and its registration before it gives up with an error naming the voters
// it could not reach: Kafka's initial.broker.registration.timeout.ms.
const quorumStartupTimeoutEnv = "KAFKA_INITIAL_BROKER_REGISTRATION_TIMEOUT_MS"

const (
	// clusterNodes is the smallest quorum that survives losing a voter.
	clusterNodes = 3
	// clusterReadyMax bounds the start of all nodes, launched together,
	// until each printed its ready line: one node alone cannot be ready.
	clusterReadyMax = 60 * time.Second
	// clusterAgreeMax bounds how long the nodes may take to show the same
	// brokers, controller and partition leaders after a change.
	clusterAgreeMax = 15 * time.Second
	// clusterRestartAgreeMax is clusterAgreeMax after a full restart, when
	// every broker registers and is unfenced again.
	clusterRestartAgreeMax = 20 * time.Second
	// clusterAskMax bounds one request to one node.
	clusterAskMax = 2 * time.Second
	// clusterPollEvery is the pause between two looks at the cluster.
	clusterPollEvery = 100 * time.Millisecond
	// portAttemptsMax bounds the search for a port free on every host.
	portAttemptsMax = 100
	// outputTailBytes is how much of each node's output a failure shows.
	outputTailBytes = 8 << 10
)

// fastFencing fences a node that stopped heartbeating after 3 s instead
// of Kafka's 9 s.
var fastFencing = []string{
	"KAFKA_BROKER_SESSION_TIMEOUT_MS=3000",
	"KAFKA_BROKER_HEARTBEAT_INTERVAL_MS=500",
}

// fastFencingSession is the session timeout fastFencing sets.
const fastFencingSession = 3 * time.Second

// nodeHost is the loopback address node id binds.
func nodeHost(id int) string { return "127.0.0." + strconv.Itoa(id) }

// sharedFreePorts returns n distinct ports, each free on every host at
// once. The kernel picks a port on the first host; a port some other
// host already uses there is skipped.
func sharedFreePorts(t testing.TB, hosts []string, n int) []int {
	t.Helper()
	var held []net.Listener // kept open so no port is picked twice
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	var ports []int
	for attempt := 0; len(ports) < n; attempt++ {
		if attempt == portAttemptsMax {
			t.Fatalf("no port free on all of %v after %d attempts", hosts, portAttemptsMax)
		}
		first, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, first)
		port := first.Addr().(*net.TCPAddr).Port
		free := true
		for _, host := range hosts[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				free = false
				break
			}
			held = append(held, ln)
		}
		if free {
			ports = append(ports, port)
		}
	}
	return ports
}

// nodeEnv configures node id, listening for clients on kafkaAddr and for
// the quorum on controllerAddr, both on host.
func nodeEnv(id int, host, kafkaAddr, controllerAddr, voters, dataDir string) []string {
	return []string{
		"KAFKA_NODE_ID=" + strconv.Itoa(id),
		"KAFKA_PROCESS_ROLES=broker,controller",
		"KAFKA_CONTROLLER_QUORUM_VOTERS=" + voters,
		"KAFKA_LISTENERS=PLAINTEXT://" + kafkaAddr + ",CONTROLLER://" + controllerAddr,
		"KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://" + kafkaAddr,
		"KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"KAFKA_LOG_DIRS=" + dataDir,
		"KAFKA_HTTP_LISTENERS=" + host + ":0",
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0",
	}
}

// cluster is three sluice nodes under test.
type cluster struct {
	t      *testing.T
	nodes  []*Broker     // nodes[i] is node.id i+1 on 127.0.0.(i+1)
	direct []*kgo.Client // direct[i] has nodes[i] as its only seed
}

// newCluster prepares three nodes, not started yet. extraEnv is added to
// every node's environment. The nodes are stopped when the test ends.
func newCluster(t *testing.T, extraEnv ...string) *cluster {
	t.Helper()
	hosts := make([]string, clusterNodes)
	for i := range hosts {
		hosts[i] = nodeHost(i + 1)
	}
	ports := sharedFreePorts(t, hosts, 2)
	kafkaPort, controllerPort := strconv.Itoa(ports[0]), strconv.Itoa(ports[1])
	voters := make([]string, len(hosts))
	for i, host := range hosts {
		voters[i] = fmt.Sprintf("%d@%s", i+1, net.JoinHostPort(host, controllerPort))
	}
	c := &cluster{t: t}
	for i, host := range hosts {
		b := &Broker{t: t, DataDir: t.TempDir(), Addr: net.JoinHostPort(host, kafkaPort)}
		b.Env = append(nodeEnv(i+1, host, b.Addr, net.JoinHostPort(host, controllerPort),
			strings.Join(voters, ","), b.DataDir), extraEnv...)
		c.nodes = append(c.nodes, b)
	}
	t.Cleanup(c.stop)
	for _, b := range c.nodes {
		c.direct = append(c.direct, clusterClient(t, []string{b.Addr}))
	}
	return c
}

// start launches every node at once and waits until all are ready.
func (c *cluster) start() {
	c.t.Helper()
	for _, b := range c.nodes {
		b.Launch()
	}
	deadline := time.Now().Add(clusterReadyMax)
	for i, b := range c.nodes {
		if err := b.WaitReady(time.Until(deadline)); err != nil {
			reason, _, _ := strings.Cut(err.Error(), "\n") // the rest is the output, shown below
			c.t.Fatalf("node %d is not ready within %v of the launch of all nodes: %s\n%s",
				i+1, clusterReadyMax, strings.TrimSuffix(reason, ":"), c.outputs())
		}
	}
}

// stop sends SIGTERM to every node at once and waits for them to exit;
// stopped one by one, the last node would stop without a quorum.
func (c *cluster) stop() {
	var wg sync.WaitGroup
	for _, b := range c.nodes {
		wg.Go(b.Stop)
	}
	wg.Wait()
}

// outputs is the end of what each node printed, for failure messages.
func (c *cluster) outputs() string {
	var sb strings.Builder
	for i, b := range c.nodes {
		out := b.Output()
		if len(out) > outputTailBytes {
			out = fmt.Sprintf("(%d bytes before)...", len(out)-outputTailBytes) + out[len(out)-outputTailBytes:]
		}
		fmt.Fprintf(&sb, "--- node %d (%s) ---\n%s\n", i+1, b.Addr, out)
	}
	return sb.String()
}

func (c *cluster) seeds() []string {
	var addrs []string
	for _, b := range c.nodes {
		addrs = append(addrs, b.Addr)
	}
	return addrs
}

// idOf is the node.id of b.
func (c *cluster) idOf(b *Broker) int32 {
	i := slices.Index(c.nodes, b)
	if i < 0 {
		panic("not a node of this cluster")
	}
	return int32(i + 1)
}

// node is the node with id, or nil when no node has it.
func (c *cluster) node(id int32) *Broker {
	if id < 1 || int(id) > len(c.nodes) {
		return nil
	}
	return c.nodes[id-1]
}

// others is every node but b.
func (c *cluster) others(b *Broker) []*Broker {
	var out []*Broker
	for _, o := range c.nodes {
		if o != b {
			out = append(out, o)
		}
	}
	return out
}

// ask is b itself as a request target: requests go to b alone, never
// routed elsewhere and never answered from a client's metadata cache.
func (c *cluster) ask(b *Broker) *kgo.Broker {
	return c.direct[c.idOf(b)-1].SeedBrokers()[0]
}

// addrs maps the node id of each of nodes to its advertised address.
func (c *cluster) addrs(nodes []*Broker) map[int32]string {
	out := map[int32]string{}
	for _, b := range nodes {
		out[c.idOf(b)] = b.Addr
	}
	return out
}

// clusterClient is a kgo client closed when the test ends.
func clusterClient(t *testing.T, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// nodeView is what one node says about the cluster.
type nodeView struct {
	brokers    map[int32]string // node id → advertised host:port
	controller int32
}

// metadataView is the brokers and controller r names in Metadata.
func metadataView(ctx context.Context, r kmsg.Requestor) (nodeView, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // brokers and controller only
	resp, err := req.RequestWith(ctx, r)
	if err != nil {
		return nodeView{}, err
	}
	v := nodeView{brokers: map[int32]string{}, controller: resp.ControllerID}
	for _, b := range resp.Brokers {
		v.brokers[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	return v, nil
}

// describeClusterView is the brokers and controller r names in
// DescribeCluster.
func describeClusterView(ctx context.Context, r kmsg.Requestor) (nodeView, error) {
	resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, r)
	if err != nil {
		return nodeView{}, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nodeView{}, err
	}
	v := nodeView{brokers: map[int32]string{}, controller: resp.ControllerID}
	for _, b := range resp.Brokers {
		v.brokers[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	return v, nil
}

// waitMembership waits until every live node lists exactly the live nodes
// at their advertised addresses, in Metadata and in DescribeCluster, and
// all name the same active controller among them; it returns its id.
func (c *cluster) waitMembership(ctx context.Context, live []*Broker, d time.Duration) int32 {
	c.t.Helper()
	var controller int32
	var problem string
	if !testutil.WaitForEvery(d, clusterPollEvery, func() bool {
		controller, problem = c.membershipProblem(ctx, live)
		return problem == ""
	}) {
		c.t.Fatalf("the nodes do not agree on the cluster within %v: %s\n%s", d, problem, c.outputs())
	}
	return controller
}

// membershipProblem is waitMembership's look at the cluster: the agreed
// controller, or what is not agreed yet.
func (c *cluster) membershipProblem(ctx context.Context, live []*Broker) (int32, string) {
	want := c.addrs(live)
	views := []struct {
		api  string
		view func(context.Context, kmsg.Requestor) (nodeView, error)
	}{{"Metadata", metadataView}, {"DescribeCluster", describeClusterView}}
	controller := int32(-1)
	for _, b := range live {
		for _, view := range views {
			ctx, cancel := context.WithTimeout(ctx, clusterAskMax)
			v, err := view.view(ctx, c.ask(b))
			cancel()
			id := c.idOf(b)
			switch {
			case err != nil:
				return -1, fmt.Sprintf("node %d %s: %v", id, view.api, err)
			case !maps.Equal(v.brokers, want):
				return -1, fmt.Sprintf("node %d %s lists brokers %v, want %v", id, view.api, v.brokers, want)
			case want[v.controller] == "":
				return -1, fmt.Sprintf("node %d %s names controller %d, not a live node", id, view.api, v.controller)
			case controller >= 0 && v.controller != controller:
				return -1, fmt.Sprintf("node %d %s names controller %d, another node %d", id, view.api, v.controller, controller)
			}
			controller = v.controller
		}
	}
	return controller, ""
}

// topicLayout is a topic as Metadata shows it.
type topicLayout struct {
	ID       [16]byte
	Leaders  map[int32]int32   // partition → leader node id, -1 for none
	Replicas map[int32][]int32 // partition → replica node ids
}

// topicLayouts asks r for the named topics, or for every topic but the
// internal ones when none is named. A topic is left out only when r says
// it does not exist (UNKNOWN_TOPIC_OR_PARTITION); other topic errors
// except LEADER_NOT_AVAILABLE are returned.
func topicLayouts(ctx context.Context, r kmsg.Requestor, topics ...string) (map[string]topicLayout, error) {
	req := kmsg.NewPtrMetadataRequest() // AllowAutoTopicCreation stays false
	for _, topic := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, r)
	if err != nil {
		return nil, err
	}
	out := map[string]topicLayout{}
	for _, mt := range resp.Topics {
		name := ""
		if mt.Topic != nil {
			name = *mt.Topic
		}
		err := kerr.ErrorForCode(mt.ErrorCode)
		switch {
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			continue
		case err != nil && !errors.Is(err, kerr.LeaderNotAvailable):
			return nil, fmt.Errorf("topic %q: %w", name, err)
		case len(topics) == 0 && (mt.IsInternal || strings.HasPrefix(name, "__")):
			continue
		}
		l := topicLayout{ID: mt.TopicID, Leaders: map[int32]int32{}, Replicas: map[int32][]int32{}}
		for _, p := range mt.Partitions {
			l.Leaders[p.Partition] = p.Leader
			l.Replicas[p.Partition] = p.Replicas
		}
		out[name] = l
	}
	return out, nil
}

// partitionLeaders is partition → leader node id (-1: none) of topic, as
// r sees it.
func partitionLeaders(ctx context.Context, r kmsg.Requestor, topic string) (map[int32]int32, error) {
	layouts, err := topicLayouts(ctx, r, topic)
	if err != nil {
		return nil, err
	}
	l, ok := layouts[topic]
	if !ok {
		return nil, fmt.Errorf("topic %q: %w", topic, kerr.UnknownTopicOrPartition)
	}
	return l.Leaders, nil
}

// waitAgreedLayouts waits until every node shows each topic of counts with
// that many partitions, each with a leader, and all nodes show the same
// layouts, equal to want unless want is nil. It returns the layouts.
func (c *cluster) waitAgreedLayouts(ctx context.Context, counts map[string]int, want map[string]topicLayout, d time.Duration) map[string]topicLayout {
	c.t.Helper()
	var got map[string]topicLayout
	var problem string
	if !testutil.WaitForEvery(d, clusterPollEvery, func() bool {
		got, problem = c.layoutsProblem(ctx, counts, want)
		return problem == ""
	}) {
		c.t.Fatalf("the nodes do not agree on topics %v within %v: %s\n%s", slices.Sorted(maps.Keys(counts)), d, problem, c.outputs())
	}
	return got
}

// layoutsProblem is waitAgreedLayouts's look at the cluster.
func (c *cluster) layoutsProblem(ctx context.Context, counts map[string]int, want map[string]topicLayout) (map[string]topicLayout, string) {
	names := slices.Sorted(maps.Keys(counts))
	var first map[string]topicLayout
	for _, b := range c.nodes {
		ctx, cancel := context.WithTimeout(ctx, clusterAskMax)
		got, err := topicLayouts(ctx, c.ask(b), names...)
		cancel()
		id := c.idOf(b)
		if err != nil {
			return nil, fmt.Sprintf("node %d: %v", id, err)
		}
		for _, name := range names {
			l, ok := got[name]
			if !ok || len(l.Leaders) != counts[name] {
				return nil, fmt.Sprintf("node %d shows topic %s as %+v, want %d partitions", id, name, l, counts[name])
			}
			for p, leader := range l.Leaders {
				if leader < 0 {
					return nil, fmt.Sprintf("node %d shows no leader for %s[%d]", id, name, p)
				}
			}
		}
		switch {
		case want != nil && !reflect.DeepEqual(got, want):
			return nil, fmt.Sprintf("node %d shows %+v, want %+v", id, got, want)
		case first != nil && !reflect.DeepEqual(got, first):
			return nil, fmt.Sprintf("node %d shows %+v, node 1 shows %+v", id, got, first)
		}
		if first == nil {
			first = got
		}
	}
	return first, ""
}

// waitAgreedLeaders waits until all nodes agree on a leader for each of
// the partitions of topic and returns partition → leader.
func (c *cluster) waitAgreedLeaders(ctx context.Context, topic string, partitions int) map[int32]int32 {
	c.t.Helper()
	return c.waitAgreedLayouts(ctx, map[string]int{topic: partitions}, nil, clusterAgreeMax)[topic].Leaders
}

// listOffsetsError is the error r answers ListOffsets (latest) for one
// partition with: nil from its leader.
func listOffsetsError(ctx context.Context, r kmsg.Requestor, topic string, partition int32) error {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = partition
	rp.Timestamp = -1 // the end offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, r)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("response for %d topics, want one partition of one", len(resp.Topics))
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}
