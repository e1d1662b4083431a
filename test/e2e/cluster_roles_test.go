package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// TestClusterRoles runs the three KRaft roles side by side: node 1 is a
// controller alone, nodes 2 and 3 are brokers and controllers, node 4 is
// a broker alone that observes the quorum without voting. Clients see the
// three brokers; a topic spreads over them and carries records; a second
// topic created through the observing broker appears everywhere.
func TestClusterRoles(t *testing.T) {
	hosts := []string{nodeHost(1), nodeHost(2), nodeHost(3), nodeHost(4)}
	ports := sharedFreePorts(t, hosts, 2)
	kafkaPort, controllerPort := strconv.Itoa(ports[0]), strconv.Itoa(ports[1])
	var voters []string
	for i := 1; i <= 3; i++ {
		voters = append(voters, fmt.Sprintf("%d@%s", i, net.JoinHostPort(nodeHost(i), controllerPort)))
	}
	controllerHTTP := net.JoinHostPort(nodeHost(1), strconv.Itoa(freePort(t)))
	c := &cluster{t: t}
	for i, host := range hosts {
		id := i + 1
		b := &Broker{t: t, DataDir: t.TempDir(), Addr: net.JoinHostPort(host, kafkaPort)}
		controller := net.JoinHostPort(host, controllerPort)
		b.Env = append(nodeEnv(id, host, b.Addr, controller, strings.Join(voters, ","), b.DataDir),
			"KAFKA_BROKER_SESSION_TIMEOUT_MS=2000", "KAFKA_BROKER_HEARTBEAT_INTERVAL_MS=300")
		switch id {
		case 1:
			b.Env = append(b.Env, "KAFKA_PROCESS_ROLES=controller", "KAFKA_LISTENERS=CONTROLLER://"+controller,
				"KAFKA_ADVERTISED_LISTENERS=", "KAFKA_HTTP_LISTENERS="+controllerHTTP)
		case 4:
			b.Env = append(b.Env, "KAFKA_PROCESS_ROLES=broker", "KAFKA_LISTENERS=PLAINTEXT://"+b.Addr)
		}
		c.nodes = append(c.nodes, b)
	}
	t.Cleanup(c.stop)
	c.start()
	ctx := testContext(t, 60*time.Second)
	brokers := []*Broker{c.nodes[1], c.nodes[2], c.nodes[3]}
	seeds := []string{brokers[0].Addr, brokers[1].Addr, brokers[2].Addr}
	adm := kadm.NewClient(clusterClient(t, seeds))

	// Only brokers are listed; the controller alone is not one. Listed
	// again after more than a session timeout: every broker heartbeats
	// to the active controller, wherever it runs.
	waitBrokers(ctx, t, c, adm)
	// Not a wait: the brokers must stay listed across a session timeout.
	time.Sleep(3 * time.Second)
	waitBrokers(ctx, t, c, adm)

	// The controller alone is ready once the quorum has a leader.
	resp, err := http.Get("http://" + controllerHTTP + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "controller only") {
		t.Fatalf("/readyz of the controller-only node: %s %q", resp.Status, body)
	}
	// It serves the controller metrics, as Kafka's controllers do.
	resp, err = http.Get("http://" + controllerHTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"kafka_controller_kafkacontroller_activecontrollercount", "kafka_controller_kafkacontroller_offlinepartitionscount"} {
		if !strings.Contains(string(body), "\n"+name+" ") {
			t.Errorf("/metrics of the controller-only node lacks %s", name)
		}
	}

	// A topic created through the broker that does not vote.
	observer := kadm.NewClient(clusterClient(t, []string{c.nodes[3].Addr}))
	if _, err := observer.CreateTopic(ctx, 6, 1, nil, "roles"); err != nil {
		t.Fatalf("create through the observing broker: %v\n%s", err, c.outputs())
	}
	// The answering broker may apply the creation a moment after the
	// one that made it: wait until it knows the topic.
	var leaders map[int32]int32
	var err2 error
	everyone := clusterClient(t, seeds)
	if !testutil.WaitForEvery(clusterAgreeMax, clusterPollEvery, func() bool {
		leaders, err2 = partitionLeaders(ctx, everyone, "roles")
		return err2 == nil
	}) {
		t.Fatal(err2)
	}
	per := map[int32]int{}
	for _, l := range leaders {
		per[l]++
	}
	if per[2] != 2 || per[3] != 2 || per[4] != 2 {
		t.Fatalf("leaders per broker %v, want 2 each on 2, 3 and 4", per)
	}

	// Records through every broker, read back whole.
	const records = 3000
	prod := clusterClient(t, seeds, kgo.DefaultProduceTopic("roles"))
	for i := range records {
		prod.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cons := clusterClient(t, seeds, kgo.ConsumeTopics("roles"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]bool{}
	for len(seen) < records && ctx.Err() == nil {
		cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	if len(seen) != records {
		t.Fatalf("consumed %d distinct records of %d", len(seen), records)
	}
}

// waitBrokers waits until Metadata lists exactly brokers 2, 3 and 4.
func waitBrokers(ctx context.Context, t *testing.T, c *cluster, adm *kadm.Client) {
	t.Helper()
	var ids []int32
	var err error
	if !testutil.WaitForEvery(clusterAgreeMax, clusterPollEvery, func() bool {
		var m kadm.Metadata
		ids = nil
		if m, err = adm.BrokerMetadata(ctx); err == nil {
			for _, b := range m.Brokers {
				ids = append(ids, b.NodeID)
			}
			slices.Sort(ids)
		}
		return slices.Equal(ids, []int32{2, 3, 4})
	}) {
		t.Fatalf("brokers %v (err %v), want [2 3 4]\n%s", ids, err, c.outputs())
	}
}
