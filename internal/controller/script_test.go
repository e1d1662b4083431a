package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// TestScripts runs the controller scripts in testdata/scripts: several nodes,
// each with its own Store and Controller, share one in-memory log that
// applies every proposal to every store at once, in order. Time is a fake
// clock the script moves; "leader" moves the active controller, as a
// failover would.
//
// Commands:
//
//	nodes n=3 [unclean=true] [rebalance=10s] [imbalance=10]
//	                               start nodes 1..n, node 1 leading, with
//	                               unclean.leader.election.enable, and
//	                               auto.leader.rebalance.enable checking every
//	                               rebalance with that per-broker percentage
//	register id=1 [rack=a] [incarnation=x]
//	                               a process of broker id registers
//	heartbeat id=1 [shutdown=true] broker id heartbeats to the leader
//	tick [advance=5s]              move the clock, run the leader's duties
//	leader id=2                    make node id the active controller
//	create name=t replicas=1,2;2   create a topic with these assignments
//	delete name=t
//	config name=t [key=value]      replace a topic's config overrides
//	elect name=t partition=0 [unclean=true]
//	                               a preferred (or unclean) election
//	alter id=1 topic=t partition=0 isr=1,2 [brokerEpoch=N] [leaderEpoch=N] [partitionEpoch=N]
//	                               leader id proposes an ISR; the epochs
//	                               default to the current ones
//	image [node=2]                 print a node's image
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/scripts", func(t *testing.T, path string) {
		h := &scriptHarness{}
		datadriven.RunTest(t, path, h.run)
	})
}

type scriptHarness struct {
	log         *sharedLog
	stores      map[int32]*metadata.Store
	controllers map[int32]*Controller
	now         time.Time
}

// sharedLog commits every proposal at once on every node, in order.
type sharedLog struct {
	mu     sync.Mutex // serialises apply, as a quorum does
	index  uint64
	stores []*metadata.Store
	leader int32
}

func (l *sharedLog) Propose(_ context.Context, data []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.index++
	for _, s := range l.stores {
		s.Apply(l.index, data)
	}
	return nil
}

func (l *sharedLog) Leader() int32 { return l.leader }

func (h *scriptHarness) run(t *testing.T, d *datadriven.TestData) string {
	ctx := context.Background()
	arg := func(key string) string {
		for _, a := range d.CmdArgs {
			if a.Key == key && len(a.Vals) > 0 {
				return a.Vals[0]
			}
		}
		return ""
	}
	id := func() int32 {
		n, err := strconv.Atoi(arg("id"))
		if err != nil {
			d.Fatalf(t, "%s needs id=N", d.Cmd)
		}
		return int32(n)
	}
	result := func(err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	}
	leader := func() *metadata.Store { return h.stores[h.log.leader] }
	switch d.Cmd {
	case "nodes":
		n, _ := strconv.Atoi(arg("n"))
		h.log = &sharedLog{leader: 1}
		h.stores, h.controllers = map[int32]*metadata.Store{}, map[int32]*Controller{}
		h.now = time.Unix(1_000_000, 0)
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		for i := int32(1); i <= int32(n); i++ {
			s := metadata.NewStore(i, logger)
			s.SetLog(h.log)
			h.log.stores = append(h.log.stores, s)
			h.stores[i] = s
			cfg := ControllerConfig{ClusterID: "script", SessionTimeout: 9 * time.Second,
				UncleanLeaderElection: arg("unclean") == "true", LeaderImbalancePerBrokerPercentage: 10}
			if r := arg("rebalance"); r != "" {
				interval, err := time.ParseDuration(r)
				if err != nil {
					d.Fatalf(t, "rebalance: %v", err)
				}
				cfg.AutoLeaderRebalance, cfg.LeaderImbalanceCheckInterval = true, interval
			}
			if v := arg("imbalance"); v != "" {
				cfg.LeaderImbalancePerBrokerPercentage, _ = strconv.Atoi(v)
			}
			h.controllers[i] = NewController(s, cfg)
		}
		h.controllers[1].Tick(ctx, h.now) // names the cluster
		return "cluster " + h.stores[1].Image().ClusterID
	case "register":
		var rack *string
		if r := arg("rack"); r != "" {
			rack = &r
		}
		incarnation := arg("incarnation")
		if incarnation == "" {
			incarnation = "first"
		}
		epoch, err := h.controllers[h.log.leader].Register(ctx, metadata.RegisterBrokerRecord{ID: id(), Incarnation: incarnation,
			Endpoints: []metadata.Endpoint{{Name: "PLAINTEXT", Host: "127.0.0." + arg("id"), Port: 9092}}, Rack: rack}, h.now)
		if err != nil {
			return result(err)
		}
		return fmt.Sprintf("epoch %d", epoch)
	case "heartbeat":
		b := id()
		epoch := uint64(0)
		if br, ok := leader().Image().Brokers[b]; ok {
			epoch = br.Epoch
		}
		return result(h.controllers[h.log.leader].Heartbeat(ctx, b, epoch, arg("shutdown") == "true", h.now))
	case "tick":
		if a := arg("advance"); a != "" {
			dur, err := time.ParseDuration(a)
			if err != nil {
				d.Fatalf(t, "advance: %v", err)
			}
			h.now = h.now.Add(dur)
		}
		for _, c := range h.controllers {
			c.Tick(ctx, h.now)
		}
		return "ok"
	case "leader":
		h.log.leader = id()
		return "ok"
	case "create":
		var replicas [][]int32
		for _, p := range strings.Split(arg("replicas"), ";") {
			replicas = append(replicas, ints(p))
		}
		_, err := leader().CreateTopic(ctx, arg("name"), int32(len(replicas)), int16(len(replicas[0])), replicas, nil)
		return result(err)
	case "alter":
		return h.alter(t, d, ctx, arg, id())
	case "config":
		configs := map[string]string{}
		for _, a := range d.CmdArgs {
			if a.Key != "name" && len(a.Vals) > 0 {
				configs[a.Key] = a.Vals[0]
			}
		}
		return result(leader().SetConfigs(ctx, arg("name"), configs))
	case "elect":
		top, ok := leader().Image().Topics[arg("name")]
		if !ok {
			d.Fatalf(t, "no topic %q", arg("name"))
		}
		part, _ := strconv.Atoi(arg("partition"))
		p, err := leader().ElectLeaders(ctx, top.ID, int32(part), arg("unclean") == "true")
		if err != nil {
			return result(err)
		}
		return fmt.Sprintf("isr %v leader %d leaderEpoch %d partitionEpoch %d", p.ISR, p.Leader, p.LeaderEpoch, p.PartitionEpoch)
	case "delete":
		return result(leader().DeleteTopic(ctx, arg("name")))
	case "image":
		node := h.log.leader
		if n := arg("node"); n != "" {
			v, _ := strconv.Atoi(n)
			node = int32(v)
		}
		return printImage(h.stores[node].Image())
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return ""
}

// alter runs the alter command: leader proposes an AlterPartition, with
// the current epochs unless the script names others.
func (h *scriptHarness) alter(t *testing.T, d *datadriven.TestData, ctx context.Context, arg func(string) string, leader int32) string {
	s := h.stores[h.log.leader]
	im := s.Image()
	top, ok := im.Topics[arg("topic")]
	if !ok {
		d.Fatalf(t, "no topic %q", arg("topic"))
	}
	part, _ := strconv.Atoi(arg("partition"))
	r := metadata.AlterPartitionRecord{TopicID: top.ID, Partition: int32(part), Leader: leader, ISR: ints(arg("isr"))}
	if b, ok := im.Brokers[leader]; ok {
		r.BrokerEpoch = b.Epoch
	}
	if part < len(top.Assignments) {
		r.LeaderEpoch, r.PartitionEpoch = top.Assignments[part].LeaderEpoch, top.Assignments[part].PartitionEpoch
	}
	for key, field := range map[string]*int32{"leaderEpoch": &r.LeaderEpoch, "partitionEpoch": &r.PartitionEpoch} {
		if v := arg(key); v != "" {
			n, _ := strconv.Atoi(v)
			*field = int32(n)
		}
	}
	if v := arg("brokerEpoch"); v != "" {
		r.BrokerEpoch, _ = strconv.ParseUint(v, 10, 64)
	}
	p, err := s.AlterPartition(ctx, r)
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("isr %v leader %d leaderEpoch %d partitionEpoch %d", p.ISR, p.Leader, p.LeaderEpoch, p.PartitionEpoch)
}

// ints parses a comma-separated list of broker ids.
func ints(list string) []int32 {
	var out []int32
	for _, f := range strings.Split(list, ",") {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, int32(n))
		}
	}
	return out
}

// printImage is the image as the scripts show it.
func printImage(im *metadata.Image) string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(im.Brokers)) {
		br := im.Brokers[id]
		state := "live"
		if br.Fenced {
			state = "fenced"
		}
		fmt.Fprintf(&b, "broker %d epoch %d %s\n", id, br.Epoch, state)
	}
	for _, t := range im.SortedTopics() {
		fmt.Fprintf(&b, "topic %s\n", t.Name)
		for i, p := range t.Assignments {
			fmt.Fprintf(&b, "  %d replicas %v isr %v leader %d leaderEpoch %d partitionEpoch %d\n",
				i, p.Replicas, p.ISR, p.Leader, p.LeaderEpoch, p.PartitionEpoch)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}
