package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// The fault suite (issue 12): real processes, one fault at a time, healed,
// and a checker that proves every acknowledged record survived on every
// replica. See fault_checker_test.go (the checker), fault_cluster_test.go
// (3 controllers + 3 brokers), fault_workload_test.go (producers,
// consumer, final reads). TestFaultKillLeader is the short one for every
// `go test ./test/e2e/`; TestFaultLong runs each fault, behind
// SLUICE_FAULTS_LONG=1, from scripts/faults, which prints the figures.
//
// How "every replica holds every acknowledged record" is proved: once the
// fault is healed (every partition led, every replica back in its ISR) and
// the producers have stopped, the topic is read in full through its
// leaders; then the whole cluster stops with SIGTERM and each broker's
// data directory is read segment file by segment file (the on-disk format
// is Kafka's). Each copy is a final source of the checker: an
// acknowledged value missing from any copy is lost there, and an offset
// showing different values on two copies is inconsistent. Reading the
// files needs no cooperation from the broker being judged: no leadership
// moves, no replica fetch with a borrowed identity.
//
// Network partitions (fault_partition_test.go) run the six nodes in
// network namespaces, one each (fault_net_test.go): on loopback every
// connection leaves from 127.0.0.1, so no filter could tell a client from
// a broker. They need root and are skipped without it.

// faultTopicPartitions is the partition count of the fault topic: one
// led by each broker.
const faultTopicPartitions = 3

const (
	// faultWarmAcks is how many acknowledgements come before the fault,
	// bounded by faultWarmMax.
	faultWarmAcks = 3000
	faultWarmMax  = 20 * time.Second
	// faultFailoverMax bounds the move of a dead leader's partition to
	// another replica: the session timeout, then an election.
	faultFailoverMax = faultSession + 7*time.Second
	// faultDown is how long a killed broker stays down: past its fencing,
	// so the cluster must go on without it.
	faultDown = faultSession + 5*time.Second
	// faultPause is how long a leader stays paused: past its fencing and
	// past the clients' wait for its answers (faultProduceTimeout +
	// faultRequestOverhead), so that the partition must make progress on
	// a new leader while the old one is frozen.
	faultPause = faultSession + faultProduceTimeout + faultRequestOverhead + 3*time.Second
	// faultHealMax bounds the return to health after the fault ends.
	faultHealMax = 30 * time.Second
	// faultAfterHealAcks is how many acknowledgements of every partition
	// must follow the heal, bounded by faultAfterHealMax.
	faultAfterHealAcks = 500
	faultAfterHealMax  = 20 * time.Second
	// faultProbeMax bounds the wait for NOT_ENOUGH_REPLICAS with two of
	// three brokers down: fencing, then the ISR shrinking to the leader.
	faultProbeMax = faultSession + 15*time.Second
)

// faultRun is one fault test in progress.
type faultRun struct {
	t     *testing.T
	ctx   context.Context
	fc    *faultCluster
	w     *faultWorkload
	topic string
	check *faultChecker
}

// TestFaultKillLeader: kill -9 the leader of a partition of an RF=3,
// min.insync.replicas=2 topic under load; another replica takes over
// within the session timeout and an election; the old leader restarts and
// catches up; no acknowledged record is lost, duplicated, moved or
// rewritten, on any replica.
func TestFaultKillLeader(t *testing.T) {
	runFault(t, "kill-leader", killLeader)
}

// TestFaultLong runs every fault, each in its own cluster.
func TestFaultLong(t *testing.T) {
	if os.Getenv("SLUICE_FAULTS_LONG") == "" {
		t.Skip("the long fault suite runs with SLUICE_FAULTS_LONG=1 (scripts/faults)")
	}
	for _, f := range []struct {
		name   string
		inject func(*faultRun)
		netns  bool // the nodes in network namespaces, for cuts
	}{
		{"kill-leader", killLeader, false},
		{"rolling-kills", rollingKills, false},
		{"kill-wipe-leader", killWipeLeader, false},
		{"pause-leader", pauseLeader, false},
		{"kill-controller", killController, false},
		{"two-brokers-down", twoBrokersDown, false},
		{"cut-leader-from-brokers", partitionLeader, true},
		{"cut-leader-from-all", partitionLeaderFromAll, true},
	} {
		t.Run(f.name, func(t *testing.T) {
			if f.netns {
				runFaultOn(t, f.name, f.inject, newFaultNet(t, faultControllers+faultBrokers))
				return
			}
			runFault(t, f.name, f.inject)
		})
	}
}

// runFault starts a cluster and the workload, injects one fault (inject
// heals it too), waits for health, stops, reads everything and judges.
func runFault(t *testing.T, name string, inject func(*faultRun)) { runFaultOn(t, name, inject, nil) }

// runFaultOn is runFault with the nodes in the namespaces of fn (nil: on
// loopback).
func runFaultOn(t *testing.T, name string, inject func(*faultRun), fn *faultNet) {
	ctx := testContext(t, 5*time.Minute)
	fc := newFaultClusterOn(t, fn)
	const topic = "faults"
	adm := kadm.NewClient(clusterClient(t, fc.seeds()))
	resp, err := adm.CreateTopic(ctx, faultTopicPartitions, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s with replication factor 3: %v", topic, err)
	}
	r := &faultRun{t: t, ctx: ctx, fc: fc, topic: topic, check: newFaultChecker()}
	r.waitLeaders()
	if problem := r.fc.healthyProblem(ctx, topic, faultTopicPartitions); problem != "" {
		t.Logf("before the fault: %s", problem)
	}
	r.w = startFaultWorkload(t, fc.seeds(), topic, faultTopicPartitions, r.check)
	if !testutil.WaitFor(faultWarmMax, func() bool { return r.w.acks() >= faultWarmAcks }) {
		t.Logf("only %d acknowledgements in %v before the fault", r.w.acks(), faultWarmMax)
	}

	inject(r)
	r.heal()

	r.w.stop()
	if problem := readThroughLeaders(fc.seeds(), topic, faultTopicPartitions, r.check); problem != "" {
		t.Errorf("full read through the leaders: %s", problem)
	}
	fc.stop() // every copy at rest before its files are read
	for _, b := range fc.brokers {
		counts, problem := readDiskCopy(b.DataDir, fc.id(b), topic, faultTopicPartitions, r.check)
		t.Logf("node %d holds %v records per partition on disk", fc.id(b), counts)
		if problem != "" {
			t.Errorf("node %d's copy: %s", fc.id(b), problem)
		}
	}
	rep := r.check.Report()
	f := r.w.figures(name)
	f.Report = rep
	t.Log(f.row())
	t.Logf("%s: %d attempted; longest acknowledgement gap %v on partition %d (%v on all); records failed %v; errors retried %v; consume errors %v",
		name, f.Attempted, f.Gap.Round(time.Millisecond), f.GapPartition, f.GapAny.Round(time.Millisecond),
		formatCounts(f.ProduceErrors), formatCounts(f.ClientErrors), formatCounts(f.ConsumeErrors))
	if rep.Acknowledged == 0 {
		t.Errorf("nothing was acknowledged")
	}
	if !rep.OK() {
		t.Errorf("%s: the checker found anomalies: %s", name, rep)
	} else {
		t.Logf("%s: %s", name, rep)
	}
}

// waitLeaders waits until every partition of the topic has a leader.
func (r *faultRun) waitLeaders() {
	r.t.Helper()
	problem := ""
	if !testutil.WaitForEvery(clusterAgreeMax, clusterPollEvery, func() bool {
		l, err := r.fc.layoutFrom(r.ctx, r.fc.brokers, r.topic)
		problem = fmt.Sprint(l, err)
		if err != nil || len(l) != faultTopicPartitions {
			return false
		}
		for _, p := range l {
			if p.Leader < 0 {
				return false
			}
		}
		return true
	}) {
		r.t.Fatalf("partitions of %s without leaders: %s\n%s", r.topic, problem, r.fc.outputs())
	}
}

// leaderOf is partition p's leader, asked of the live brokers.
func (r *faultRun) leaderOf(p int32, live []*Broker) *Broker {
	r.t.Helper()
	l, err := r.fc.layoutFrom(r.ctx, live, r.topic)
	if err != nil || l[p].Leader < 0 {
		r.t.Fatalf("no leader for %s[%d]: %v %+v", r.topic, p, err, l[p])
	}
	return r.fc.node(l[p].Leader)
}

// liveBrokers is every broker but the excluded ones.
func (r *faultRun) liveBrokers(excluded ...*Broker) []*Broker {
	var out []*Broker
	for _, b := range r.fc.brokers {
		if !slices.Contains(excluded, b) {
			out = append(out, b)
		}
	}
	return out
}

// expectFailover checks that partition p, led by old, gets a leader among
// live within faultFailoverMax of since, and that its acknowledgements
// resume. Both fail today: without replication the ISR is the leader
// alone, so nothing may take over.
func (r *faultRun) expectFailover(p int32, old *Broker, live []*Broker, since time.Time) {
	r.t.Helper()
	var last string
	if !testutil.WaitForEvery(time.Until(since.Add(faultFailoverMax)), clusterPollEvery, func() bool {
		l, err := r.fc.layoutFrom(r.ctx, live, r.topic)
		last = fmt.Sprint(l[p], err)
		return err == nil && l[p].Leader >= 0 && l[p].Leader != r.fc.id(old) && slices.Contains(live, r.fc.node(l[p].Leader))
	}) {
		r.t.Errorf("%s[%d] has no new leader %v after its leader, node %d, failed (last look %s)",
			r.topic, p, faultFailoverMax, r.fc.id(old), last)
		return
	}
	r.t.Logf("%s[%d] moved off node %d in %v", r.topic, p, r.fc.id(old), time.Since(since).Round(time.Millisecond))
	before := r.w.acksOf(p)
	if !testutil.WaitFor(faultFailoverMax, func() bool { return r.w.acksOf(p) > before }) {
		r.t.Errorf("%s[%d] has a new leader but acknowledges nothing for %v", r.topic, p, faultFailoverMax)
	}
}

// heal waits until every partition is led with a full ISR, then for
// acknowledgements on every partition after that. A cluster that does not
// heal fails the test, but the checks after still run for the figures.
func (r *faultRun) heal() {
	r.t.Helper()
	start := time.Now()
	problem := ""
	if !testutil.WaitForEvery(faultHealMax, clusterPollEvery, func() bool {
		problem = r.fc.healthyProblem(r.ctx, r.topic, faultTopicPartitions)
		return problem == ""
	}) {
		r.t.Errorf("not healed %v after the fault ended: %s", faultHealMax, problem)
	} else {
		r.t.Logf("healed %v after the fault ended", time.Since(start).Round(time.Millisecond))
	}
	before := map[int32]int{}
	for p := range int32(faultTopicPartitions) {
		before[p] = r.w.acksOf(p)
	}
	if !testutil.WaitFor(faultAfterHealMax, func() bool {
		for p := range int32(faultTopicPartitions) {
			if r.w.acksOf(p) < before[p]+faultAfterHealAcks {
				return false
			}
		}
		return true
	}) {
		var got []int
		for p := range int32(faultTopicPartitions) {
			got = append(got, r.w.acksOf(p)-before[p])
		}
		r.t.Errorf("after healing, partitions acknowledged %v records in %v, want %d each", got, faultAfterHealMax, faultAfterHealAcks)
	}
}

// killLeader: kill -9 partition 0's leader, keep it down past its fencing,
// restart it with its disk.
func killLeader(r *faultRun) { r.killLeaderOf(0) }

// killLeaderOf kills partition p's leader, waits for another to take
// over, keeps it down for faultDown and restarts it with its disk.
func (r *faultRun) killLeaderOf(p int32) {
	leader := r.leaderOf(p, r.fc.brokers)
	at := time.Now()
	leader.Kill()
	r.t.Logf("killed node %d, leader of %s[%d], with SIGKILL", r.fc.id(leader), r.topic, p)
	r.expectFailover(p, leader, r.liveBrokers(leader), at)
	time.Sleep(time.Until(at.Add(faultDown))) // the fault's length, not a wait for a condition
	r.fc.restart(leader)
}

// rollingKills: killLeader for each partition in turn, healed in between,
// so every broker dies once as a leader, and each time the leaders of the
// earlier rounds are followers that caught up after a restart.
func rollingKills(r *faultRun) {
	for p := range int32(faultTopicPartitions) {
		if p > 0 {
			r.heal()
		}
		r.killLeaderOf(p)
	}
}

// killWipeLeader: kill -9 partition 0's leader, wipe its data directory,
// restart it empty: it must copy everything back from the new leader, and
// nothing acknowledged may depend on the lost disk.
func killWipeLeader(r *faultRun) {
	leader := r.leaderOf(0, r.fc.brokers)
	at := time.Now()
	leader.Kill()
	r.fc.wipe(leader)
	r.t.Logf("killed node %d, leader of %s[0], with SIGKILL and wiped its data directory", r.fc.id(leader), r.topic)
	r.expectFailover(0, leader, r.liveBrokers(leader), at)
	time.Sleep(time.Until(at.Add(faultDown))) // the fault's length
	r.fc.restart(leader)
}

// pauseLeader: SIGSTOP partition 0's leader for longer than the session
// timeout, then SIGCONT: the paused leader was fenced and replaced, and
// must not acknowledge anything as leader once it wakes.
func pauseLeader(r *faultRun) {
	leader := r.leaderOf(0, r.fc.brokers)
	at := time.Now()
	r.fc.pause(leader)
	r.t.Logf("paused node %d, leader of %s[0], with SIGSTOP", r.fc.id(leader), r.topic)
	r.expectFailover(0, leader, r.liveBrokers(leader), at)
	time.Sleep(time.Until(at.Add(faultPause))) // the fault's length
	r.fc.resume(leader)
	r.t.Logf("resumed node %d with SIGCONT after %v", r.fc.id(leader), time.Since(at).Round(time.Millisecond))
}

// killController: kill -9 the active controller; another takes over and
// the brokers go on; then it restarts.
func killController(r *faultRun) {
	active := r.fc.activeController(clusterAgreeMax)
	if active == 0 {
		r.t.Errorf("no controller reports kafka_controller_kafkacontroller_activecontrollercount 1; killing node 1")
		active = 1
	}
	old := r.fc.node(active)
	at := time.Now()
	old.Kill()
	r.t.Logf("killed node %d, the active controller, with SIGKILL", active)
	if next := r.fc.activeController(newControllerMax + faultSession); next == 0 || next == active {
		r.t.Errorf("no other controller active within %v of the kill of node %d (saw %d)", newControllerMax+faultSession, active, next)
	} else {
		r.t.Logf("node %d is the active controller %v after the kill", next, time.Since(at).Round(time.Millisecond))
	}
	time.Sleep(time.Until(at.Add(faultDown))) // the fault's length
	r.fc.restart(old)
}

// twoBrokersDown: kill -9 two of three brokers; the survivor leads every
// partition it can and must refuse acks=all produces with
// NOT_ENOUGH_REPLICAS (ISR 1 < min.insync.replicas 2), never acknowledge
// them; then both restart.
func twoBrokersDown(r *faultRun) {
	survivor := r.leaderOf(0, r.fc.brokers)
	dead := r.fc.others(survivor)
	for _, b := range dead {
		b.Kill()
	}
	r.t.Logf("killed nodes %d and %d with SIGKILL; node %d, leader of %s[0], is alone",
		r.fc.id(dead[0]), r.fc.id(dead[1]), r.fc.id(survivor), r.topic)
	r.fc.waitBrokers(r.ctx, []*Broker{survivor}, faultSession+clusterAgreeMax)
	r.expectNotEnoughReplicas(survivor, 0)
	for _, b := range dead {
		r.fc.restart(b)
	}
}

// expectNotEnoughReplicas sends acks=all produces of one record to leader
// for partition p until one is refused with NOT_ENOUGH_REPLICAS, within
// faultProbeMax. An accepted probe is an acknowledged record like any
// other (the checker must find it), and fails the test.
func (r *faultRun) expectNotEnoughReplicas(leader *Broker, p int32) {
	r.t.Helper()
	deadline := time.Now().Add(faultProbeMax)
	seen := map[string]int{}
	for i := 0; time.Now().Before(deadline); i++ {
		value := fmt.Sprintf("probe-%d", i)
		offset, err := r.probe(leader, p, value)
		switch {
		case err == nil:
			r.check.Acked(value, faultPos{p, offset})
			r.t.Errorf("node %d acknowledged an acks=all produce to %s[%d] at offset %d with two of three brokers down (min.insync.replicas=2)",
				r.fc.id(leader), r.topic, p, offset)
			return
		case errors.Is(err, kerr.NotEnoughReplicas):
			r.t.Logf("node %d refused an acks=all produce with NOT_ENOUGH_REPLICAS after %d probes %v", r.fc.id(leader), i+1, formatCounts(seen))
			return
		}
		seen[errorKind(err)]++
		time.Sleep(200 * time.Millisecond) // between two probes, not a wait
	}
	r.t.Errorf("node %d never answered NOT_ENOUGH_REPLICAS in %v with two of three brokers down; answers: %v",
		r.fc.id(leader), faultProbeMax, formatCounts(seen))
}

// probe sends one acks=all produce of value to leader for partition p
// and returns the offset acknowledged, or the error answered.
func (r *faultRun) probe(leader *Broker, p int32, value string) (int64, error) {
	return r.probeWithin(leader, p, value, 5*time.Second)
}

// probeWithin is probe with the produce's timeout (how long the leader
// may wait for its ISR) at timeout.
func (r *faultRun) probeWithin(leader *Broker, p int32, value string, timeout time.Duration) (int64, error) {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = int32(timeout / time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = r.topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = p
	rp.Records = testutil.Batch(-1, -1, -1, testutil.Record{Timestamp: time.Now().UnixMilli(), Value: value})
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(r.ctx, timeout+5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, r.fc.ask(leader))
	if err != nil {
		return 0, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("produce response for %d topics", len(resp.Topics))
	}
	rpr := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(rpr.ErrorCode); err != nil {
		return 0, err
	}
	return rpr.BaseOffset, nil
}
