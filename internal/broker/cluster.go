package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/controller"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/quorum"
	"github.com/sluice-dev/sluice/internal/replica"
)

const (
	// controllerTick is how often the active controller checks broker
	// sessions.
	controllerTick = 250 * time.Millisecond
	// controllerReadMax bounds reading one request on the controller
	// listener (a snapshot for a lagging voter is the largest), and
	// controllerIdleMax how long an idle connection stays open.
	controllerReadMax = 30 * time.Second
	controllerIdleMax = 2 * time.Minute
	// quorumWaitReport is how often a node waiting for the quorum says
	// which voters it cannot reach.
	quorumWaitReport = 5 * time.Second
	// producerIDsWaitMax bounds the wait for a block of producer ids to be
	// committed; InitProducerId, which asks for it, carries no timeout.
	producerIDsWaitMax = 5 * time.Second
)

// cluster is this node's part in the metadata quorum: the Raft node, the
// metadata store it applies to, the controller duties and the broker's
// membership.
type cluster struct {
	node       *quorum.Node
	store      *metadata.Store
	controller *controller.Controller
	member     *controller.Member
	httpServer *http.Server // the controller listener; nil on a lone node without one
	voters     map[int32]string
	logger     *slog.Logger

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	// heartbeats stops the broker's heartbeats (Member.Run), which run
	// from its registration on, as Kafka's broker heartbeats while it
	// starts; heartbeatsDone is closed once they stopped. Both nil
	// before the registration.
	heartbeats     chan struct{}
	heartbeatsDone chan struct{}
	heartbeatsOnce sync.Once
}

// joinQuorum joins the metadata quorum. A controller starts its Raft node
// (a quorum of one when no voters are configured), the controller
// listener and the controller duties; a broker that is not a voter
// observes the log through the voters. A broker then registers, waiting
// up to initial.broker.registration.timeout.ms.
func (b *Broker) joinQuorum(endpoints []metadata.Endpoint) (*cluster, error) {
	id, roles := b.cfg.NodeID(), b.cfg.Roles()
	voters := b.cfg.Voters()
	if len(voters) == 0 {
		addr := ""
		if b.controllerLn != nil {
			addr = b.controllerLn.Addr().String()
		}
		voters = map[int32]string{id: addr}
	}
	c := &cluster{logger: b.logger, stop: make(chan struct{}), voters: voters}
	c.store = metadata.NewStore(id, b.logger)
	if roles.Controller {
		if err := c.startController(b); err != nil {
			return nil, err
		}
	} else {
		observer := controller.NewObserver(c.store, voters)
		c.store.SetLog(observer)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			observer.Run(c.stop)
		}()
	}
	timeout := time.Duration(b.cfg.Int64("initial.broker.registration.timeout.ms")) * time.Millisecond
	if !roles.Broker {
		return c, nil
	}
	var rack *string
	if !b.cfg.IsNull("broker.rack") {
		r := b.cfg.String("broker.rack")
		rack = &r
	}
	c.member = controller.NewMember(c.store, controller.MemberConfig{
		Endpoints:         endpoints,
		Rack:              rack,
		HeartbeatInterval: time.Duration(b.cfg.Int64("broker.heartbeat.interval.ms")) * time.Millisecond,
		Controllers:       voters,
		Local:             c.controller,
	})
	if err := c.register(timeout); err != nil {
		c.close()
		return nil, err
	}
	if roles.Controller {
		c.awaitVoterBrokers(voterBrokersWaitMax)
	}
	if c.controller == nil {
		return c, nil
	}
	// Topics of an earlier single-node version are imported before the
	// partitions open and the group coordinator replays its offsets.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.controller.ImportLegacy(ctx); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// startController starts the Raft node, the controller listener and the
// controller duties.
func (c *cluster) startController(b *Broker) error {
	id := b.cfg.NodeID()
	legacy := filepath.Join(b.DataDirs[0], legacyMetadataFile)
	if err := controller.CheckLegacyFile(legacy); err != nil {
		return err
	}
	clusterID := ""
	if !b.cfg.IsNull("cluster.id") {
		clusterID = b.cfg.String("cluster.id")
	}
	c.controller = controller.NewController(c.store, controller.ControllerConfig{
		ClusterID:                          clusterID,
		LegacyFile:                         legacy,
		LegacyProducerIDsFile:              filepath.Join(b.DataDirs[0], legacyProducerIDsFile),
		SessionTimeout:                     time.Duration(b.cfg.Int64("broker.session.timeout.ms")) * time.Millisecond,
		UncleanLeaderElection:              b.cfg.Bool("unclean.leader.election.enable"),
		AutoLeaderRebalance:                b.cfg.Bool("auto.leader.rebalance.enable"),
		LeaderImbalanceCheckInterval:       time.Duration(b.cfg.Int64("leader.imbalance.check.interval.seconds")) * time.Second,
		LeaderImbalancePerBrokerPercentage: b.cfg.Int("leader.imbalance.per.broker.percentage"),
	})
	election := time.Duration(b.cfg.Int64("controller.quorum.election.timeout.ms")) * time.Millisecond
	node, err := quorum.Start(quorum.Config{
		NodeID:   id,
		Voters:   c.voters,
		Dir:      filepath.Join(b.DataDirs[0], replica.MetadataDir),
		Apply:    func(e quorum.Entry) { c.store.Apply(e.Index, e.Data) },
		Snapshot: c.store.Snapshot,
		Restore:  c.store.Restore,
		// Raft elects after 10 to 20 ticks without a leader.
		TickInterval: election / 10,
		Logger:       b.logger,
	})
	if err != nil {
		return fmt.Errorf("start the metadata quorum: %w", err)
	}
	c.node = node
	c.store.SetLog(node)
	if b.controllerLn != nil {
		mux := http.NewServeMux()
		mux.Handle("/raft/", node.Handler())
		mux.Handle(controller.HeartbeatPath, c.controller)
		mux.Handle(controller.RegisterPath, c.controller)
		mux.HandleFunc(controller.RecordsPath, controller.ServeRecords(c.store))
		mux.HandleFunc(controller.ProposePath, controller.ServePropose(c.store))
		c.httpServer = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: controllerReadMax, IdleTimeout: controllerIdleMax}
		go c.httpServer.Serve(b.controllerLn)
	}
	c.wg.Add(1)
	go c.tickLoop()
	return nil
}

// register registers the broker and waits until this node's metadata
// has caught up with the registration (Member.WaitCaughtUp), saying
// every quorumWaitReport which voters cannot be reached, and gives up
// with one sentence after timeout. The Kafka listeners serve only after
// it: like Kafka's broker, this one answers clients once it is a member
// of the cluster, with the image it joined.
func (c *cluster) register(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := c.member.Register(ctx)
		if err == nil {
			// Heartbeats from now on: a broker still catching up stays
			// in its session, and one fenced meanwhile is unfenced.
			c.startHeartbeats()
			err = c.member.WaitCaughtUp(ctx)
		}
		done <- err
	}()
	report := time.NewTicker(quorumWaitReport)
	defer report.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				return nil
			}
			if c.store.Leader() < 0 {
				return fmt.Errorf("no controller quorum after %s: %s", timeout, c.unreachable())
			}
			return err
		case <-report.C:
			if c.store.Leader() < 0 {
				c.logger.Warn("waiting for the controller quorum: " + c.unreachable())
			}
		}
	}
}

// startHeartbeats starts the broker's heartbeats to the active
// controller.
func (c *cluster) startHeartbeats() {
	c.heartbeats, c.heartbeatsDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(c.heartbeatsDone)
		c.member.Run(c.heartbeats)
	}()
}

// stopHeartbeats stops the heartbeats and waits until the last one
// ended, so that none follows the controlled shutdown's (which would
// unfence the broker again). It runs once; before the registration it
// does nothing.
func (c *cluster) stopHeartbeats() {
	c.heartbeatsOnce.Do(func() {
		if c.heartbeats != nil {
			close(c.heartbeats)
			<-c.heartbeatsDone
		}
	})
}

// voterBrokersWaitMax bounds how long a node that is both broker and
// controller voter waits, at the first start of a cluster, for the other
// voters to register as brokers before it serves (awaitVoterBrokers).
const voterBrokersWaitMax = 3 * time.Second

// awaitVoterBrokers waits, up to wait, until every controller voter has
// registered as a broker in this node's image. It applies to a node in
// combined mode (broker and voter), where the voters named in
// controller.quorum.voters are the brokers starting with it: nodes of a
// new cluster launched together then serve only once all are members,
// so no client sees, and no topic is placed on, fewer brokers than were
// launched. Once a voter has registered it stays in the image (fenced
// when down), so a restart never waits; a lone node has no other voter.
// A voter that is a controller only, or does not start, costs the first
// start of the cluster the wait and a warning.
func (c *cluster) awaitVoterBrokers(wait time.Duration) {
	missing := c.unregisteredVoters()
	if len(missing) == 0 {
		return
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTicker(registeredPoll)
	defer poll.Stop()
	for len(missing) > 0 {
		select {
		case <-deadline.C:
			c.logger.Warn("serving before every controller voter registered as a broker (a controller-only voter, or one not started)",
				"voters", missing, "waited", wait)
			return
		case <-poll.C:
			missing = c.unregisteredVoters()
		}
	}
}

// registeredPoll is how often awaitVoterBrokers looks at the image.
const registeredPoll = 5 * time.Millisecond

// unregisteredVoters returns the voter ids this node's image knows no
// broker registration of.
func (c *cluster) unregisteredVoters() []int32 {
	im := c.store.Image()
	var missing []int32
	for _, id := range slices.Sorted(maps.Keys(c.voters)) {
		if _, ok := im.Brokers[id]; !ok {
			missing = append(missing, id)
		}
	}
	return missing
}

// unreachable describes the voters this node could not reach.
func (c *cluster) unreachable() string {
	if c.node == nil {
		return "no controller voter answered (" + c.voterList() + ")"
	}
	voters, peers := c.voters, c.node.Peers()
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(voters)) {
		if err, ok := peers[id]; ok && err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the dial error says it; the URL repeats the address
			}
			parts = append(parts, fmt.Sprintf("voter %d at %s: %v", id, voters[id], err))
		}
	}
	if len(parts) == 0 {
		return "no leader was elected (a majority of controller.quorum.voters must be running)"
	}
	return "cannot reach " + strings.Join(parts, "; ")
}

// allocateProducerIDs reserves a block of count producer ids for this
// broker in the metadata and returns its first id.
func (c *cluster) allocateProducerIDs(count int64) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), producerIDsWaitMax)
	defer cancel()
	return c.store.AllocateProducerIDs(ctx, count)
}

// tickLoop runs the controller duties.
func (c *cluster) tickLoop() {
	defer c.wg.Done()
	t := time.NewTicker(controllerTick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), c.controller.SessionTimeout())
			c.controller.Tick(ctx, now)
			cancel()
		}
	}
}

const (
	// shutdownWait bounds the controlled shutdown: telling the active
	// controller that this broker stops, then waiting until the metadata
	// moved every leadership away from it.
	shutdownWait = 5 * time.Second
	// shutdownPoll is how often that wait reads the image. It polls
	// rather than taking Store.Changed, which the reconcile loop needs.
	shutdownPoll = 20 * time.Millisecond
)

// shutdown tells the active controller that this broker is stopping, so
// it is fenced at once and a restart registers without waiting out its
// session, and waits until the image shows it leads no partition: until
// then clients are still sent here, and after it they are sent to the new
// leaders and hear only retriable errors from this broker. A controller
// that cannot be reached is not waited for long.
func (c *cluster) shutdown() {
	if c == nil || c.member == nil {
		return
	}
	c.stopHeartbeats()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	if err := c.member.Shutdown(ctx); err != nil {
		c.logger.Warn("controlled shutdown: the controller was not told", "err", err)
		return
	}
	if err := waitLeadsNothing(ctx, c.store, shutdownPoll); err != nil {
		c.logger.Warn("controlled shutdown: stopping while still leading partitions",
			"partitions", ledBy(c.store.Image(), c.store.NodeID()), "err", err)
	}
}

// waitLeadsNothing waits until store's image shows its node leading no
// partition, looking every poll, or until ctx ends.
func waitLeadsNothing(ctx context.Context, store *metadata.Store, poll time.Duration) error {
	t := time.NewTicker(poll)
	defer t.Stop()
	for ledBy(store.Image(), store.NodeID()) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// ledBy counts the partitions node leads in im.
func ledBy(im *metadata.Image, node int32) int {
	n := 0
	for _, t := range im.Topics {
		for _, p := range t.Assignments {
			if p.Leader == node {
				n++
			}
		}
	}
	return n
}

// close stops the controller duties, the controller listener and the Raft
// node.
func (c *cluster) close() error {
	var err error
	c.once.Do(func() {
		c.stopHeartbeats()
		close(c.stop)
		c.wg.Wait()
		if c.httpServer != nil {
			c.httpServer.Close()
		}
		if c.node != nil {
			err = c.node.Close()
		}
	})
	return err
}

// voterList is controller.quorum.voters as id@address entries.
func (c *cluster) voterList() string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(c.voters)) {
		parts = append(parts, fmt.Sprintf("%d@%s", id, c.voters[id]))
	}
	return strings.Join(parts, ",")
}
