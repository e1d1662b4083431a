package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Network partitions for the fault suite. On loopback every connection
// comes from 127.0.0.1, so no filter can tell a client from a broker; so
// each node runs in a network namespace of its own, all joined by a
// bridge in one more namespace (the switch), and the test process (the
// clients) reaches the bridge through a veth pair from the root
// namespace:
//
//	root ns (clients, 10.A.B.254) ── veth ──┐
//	ns node 1 (10.A.B.1)  ── veth ──────────┤ bridge in the switch ns
//	...                                     │
//	ns node 6 (10.A.B.6)  ── veth ──────────┘
//
// A cut between nodes a and b is a blackhole route to b in a's namespace
// and to a in b's: neither can send to the other (a connect fails at once,
// an open connection stops moving until its owner's timeout), while both
// still reach and are reached by the clients. Routes need only `ip`
// (iproute2): no iptables or nft, which a CI image may lack, no kernel
// module beyond veth and bridge, and no sysctl of the root namespace (one
// L2 segment: nothing is forwarded). A TCP proxy per link would need no
// root, but every broker dials a peer at the one address the peer
// advertises, so a proxy cannot tell which link a connection belongs to.
//
// Everything is named after the test process's pid (namespaces
// sluicef-<pid>-<node>, sluicef-<pid>-sw, root link sf<pid>), so runs of
// several worktrees never meet, and what a killed run left behind is
// removed by the next one (its pid is gone).

// faultNetPrefix starts the name of every namespace the suite creates.
const faultNetPrefix = "sluicef-"

// faultNetPorts are the fixed ports of every node: each node has its own
// namespace, hence its own port space.
const (
	faultNetKafkaPort      = 9092
	faultNetControllerPort = 9093
	faultNetHTTPPort       = 9644
)

// faultNet is the namespaces and links of one fault cluster.
type faultNet struct {
	t      *testing.T
	tag    string // sluicef-<pid>
	link   string // the root namespace's end of the switch's uplink
	subnet string // "10.A.B."
	nodes  int

	mu   sync.Mutex
	cuts map[[2]int]bool // (a, b) with a < b: no traffic between a and b
}

// newFaultNet creates the switch and one namespace per node, or skips the
// test when the machine does not allow it (not root, no ip, no netns).
// Everything is removed when the test ends.
func newFaultNet(t *testing.T, nodes int) *faultNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network partitions need root (ip netns, veth pairs)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("network partitions need iproute2's ip: %v", err)
	}
	sweepFaultNets()
	pid := os.Getpid()
	n := &faultNet{t: t, tag: faultNetPrefix + strconv.Itoa(pid), link: "sf" + strconv.Itoa(pid),
		nodes: nodes, cuts: map[[2]int]bool{}}
	subnet, err := freeSubnet(pid)
	if err != nil {
		t.Skip(err)
	}
	n.subnet = subnet
	t.Cleanup(n.remove)
	sw := n.tag + "-sw"
	if err := ipRun("netns", "add", sw); err != nil {
		t.Skipf("ip netns is not allowed here: %v", err)
	}
	steps := [][]string{
		{"-n", sw, "link", "add", "br0", "type", "bridge"},
		{"-n", sw, "link", "set", "br0", "up"},
		{"link", "add", n.link, "type", "veth", "peer", "name", "up0", "netns", sw},
		{"addr", "add", n.subnet + "254/24", "dev", n.link},
		{"link", "set", n.link, "up"},
		{"-n", sw, "link", "set", "up0", "master", "br0", "up"},
	}
	for id := 1; id <= nodes; id++ {
		ns, port := n.ns(id), "p"+strconv.Itoa(id)
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", sw},
			[]string{"-n", ns, "addr", "add", n.host(id) + "/24", "dev", "eth0"},
			[]string{"-n", ns, "link", "set", "eth0", "up"},
			[]string{"-n", sw, "link", "set", port, "master", "br0", "up"})
	}
	for _, s := range steps {
		if err := ipRun(s...); err != nil {
			t.Fatalf("set up the partition network: %v", err)
		}
	}
	return n
}

// ns is node id's namespace.
func (n *faultNet) ns(id int) string { return n.tag + "-" + strconv.Itoa(id) }

// host is node id's address, in its namespace.
func (n *faultNet) host(id int) string { return n.subnet + strconv.Itoa(id) }

// prefix runs a command in node id's namespace (ip exec's the command,
// so the process is the command itself: kill -9 reaches sluice).
func (n *faultNet) prefix(id int) []string { return []string{"ip", "netns", "exec", n.ns(id)} }

// cut stops all traffic between node a and each of bs, both ways.
func (n *faultNet) cut(a int, bs ...int) {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, b := range bs {
		key := [2]int{min(a, b), max(a, b)}
		if n.cuts[key] {
			continue
		}
		for _, end := range [][2]int{{a, b}, {b, a}} {
			if err := ipRun("-n", n.ns(end[0]), "route", "add", "blackhole", n.host(end[1])+"/32"); err != nil {
				n.t.Fatalf("cut node %d from node %d: %v", a, b, err)
			}
		}
		n.cuts[key] = true
	}
}

// healAll restores every link cut.
func (n *faultNet) healAll() {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	for key := range n.cuts {
		for _, end := range [][2]int{{key[0], key[1]}, {key[1], key[0]}} {
			if err := ipRun("-n", n.ns(end[0]), "route", "del", "blackhole", n.host(end[1])+"/32"); err != nil {
				n.t.Errorf("heal the link of nodes %d and %d: %v", key[0], key[1], err)
			}
		}
		delete(n.cuts, key)
	}
}

// remove deletes the root link (which takes its peer with it) and every
// namespace. The nodes must have exited.
func (n *faultNet) remove() {
	ipRun("link", "del", n.link)
	for id := 1; id <= n.nodes; id++ {
		ipRun("netns", "del", n.ns(id))
	}
	ipRun("netns", "del", n.tag+"-sw")
}

// ipRun runs ip with args; the error carries what it printed.
func ipRun(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// sweepFaultNets removes what runs that were killed before their
// cleanup left: namespaces and root links named after a pid that no
// longer runs.
func sweepFaultNets() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	gone := map[int]bool{}
	for line := range strings.Lines(string(out)) {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, faultNetPrefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || processRuns(pid) {
			continue
		}
		gone[pid] = true
		ipRun("netns", "del", name)
	}
	for pid := range gone {
		ipRun("link", "del", "sf"+strconv.Itoa(pid))
	}
}

// processRuns reports whether a process with pid exists.
func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// freeSubnet picks a /24 in 10/8 from pid that no address or route of the
// root namespace uses yet, as "10.A.B.".
func freeSubnet(pid int) (string, error) {
	routes, err := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		return "", fmt.Errorf("ip route: %w", err)
	}
	addrs, err := exec.Command("ip", "-4", "-o", "addr", "show").Output()
	if err != nil {
		return "", fmt.Errorf("ip addr: %w", err)
	}
	used := string(routes) + string(addrs)
	for i := range 64 {
		n := (pid + i*7919) % (100 * 256)
		subnet := fmt.Sprintf("10.%d.%d.", 150+n/256, n%256)
		if !strings.Contains(used, " "+subnet) && !strings.Contains(used, "\n"+subnet) && !strings.HasPrefix(used, subnet) {
			return subnet, nil
		}
	}
	return "", fmt.Errorf("no free 10.x.y.0/24 for the partition network")
}
