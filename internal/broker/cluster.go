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

	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/quorum"
	"github.com/sluice-dev/sluice/internal/replica"
)

const (
	// controllerTick is how often the active controller checks broker
	// sessions.
	controllerTick = 250 * time.Millisecond
	// quorumWaitReport is how often a node waiting for the quorum says
	// which voters it cannot reach.
	quorumWaitReport = 5 * time.Second
)

// cluster is this node's part in the metadata quorum: the Raft node, the
// metadata store it applies to, the controller duties and the broker's
// membership.
type cluster struct {
	node       *quorum.Node
	store      *metadata.Store
	controller *metadata.Controller
	member     *metadata.Member
	httpServer *http.Server // the controller listener; nil on a lone node without one
	logger     *slog.Logger

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// joinQuorum starts the Raft node (a quorum of one when no voters are
// configured), the controller listener and the controller duties, then
// registers the broker, waiting up to initial.broker.registration.timeout.ms.
func (b *Broker) joinQuorum(endpoints []metadata.Endpoint) (*cluster, error) {
	id := b.cfg.NodeID()
	voters := b.cfg.Voters()
	if len(voters) == 0 {
		addr := ""
		if b.controllerLn != nil {
			addr = b.controllerLn.Addr().String()
		}
		voters = map[int32]string{id: addr}
	}
	c := &cluster{logger: b.logger, stop: make(chan struct{})}
	c.store = metadata.NewStore(id, b.logger)
	clusterID := ""
	if !b.cfg.IsNull("cluster.id") {
		clusterID = b.cfg.String("cluster.id")
	}
	var rack *string
	if !b.cfg.IsNull("broker.rack") {
		r := b.cfg.String("broker.rack")
		rack = &r
	}
	c.controller = metadata.NewController(c.store, metadata.ControllerConfig{
		ClusterID:             clusterID,
		LegacyFile:            filepath.Join(b.DataDirs[0], legacyMetadataFile),
		LegacyProducerIDsFile: filepath.Join(b.DataDirs[0], legacyProducerIDsFile),
		SessionTimeout:        time.Duration(b.cfg.Int64("broker.session.timeout.ms")) * time.Millisecond,
	})
	election := time.Duration(b.cfg.Int64("controller.quorum.election.timeout.ms")) * time.Millisecond
	node, err := quorum.Start(quorum.Config{
		NodeID:   id,
		Voters:   voters,
		Dir:      filepath.Join(b.DataDirs[0], replica.MetadataDir),
		Apply:    func(e quorum.Entry) { c.store.Apply(e.Index, e.Data) },
		Snapshot: c.store.Snapshot,
		Restore:  c.store.Restore,
		// Raft elects after 10 to 20 ticks without a leader.
		TickInterval: election / 10,
		Logger:       b.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("start the metadata quorum: %w", err)
	}
	c.node = node
	c.store.SetLog(node)
	if b.controllerLn != nil {
		mux := http.NewServeMux()
		mux.Handle("/raft/", node.Handler())
		mux.Handle(metadata.HeartbeatPath, c.controller)
		c.httpServer = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		ln := b.controllerLn
		go c.httpServer.Serve(ln)
	}
	c.wg.Add(1)
	go c.tickLoop()
	c.member = metadata.NewMember(c.store, metadata.MemberConfig{
		Endpoints:         endpoints,
		Rack:              rack,
		HeartbeatInterval: time.Duration(b.cfg.Int64("broker.heartbeat.interval.ms")) * time.Millisecond,
		Controllers:       voters,
		Local:             c.controller,
	})
	timeout := time.Duration(b.cfg.Int64("initial.broker.registration.timeout.ms")) * time.Millisecond
	if err := c.register(timeout, voters); err != nil {
		c.close()
		return nil, err
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

// register registers the broker, saying every quorumWaitReport which
// voters cannot be reached, and gives up with one sentence after timeout.
func (c *cluster) register(timeout time.Duration, voters map[int32]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.member.Register(ctx) }()
	report := time.NewTicker(quorumWaitReport)
	defer report.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				return nil
			}
			if c.node.Leader() < 0 {
				return fmt.Errorf("no controller quorum after %s: %s", timeout, c.unreachable(voters))
			}
			return err
		case <-report.C:
			if c.node.Leader() < 0 {
				c.logger.Warn("waiting for the controller quorum: " + c.unreachable(voters))
			}
		}
	}
}

// unreachable describes the voters this node could not reach.
func (c *cluster) unreachable(voters map[int32]string) string {
	peers := c.node.Peers()
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

// close stops the controller duties, the controller listener and the Raft
// node.
func (c *cluster) close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		c.wg.Wait()
		if c.httpServer != nil {
			c.httpServer.Close()
		}
		err = c.node.Close()
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	})
	return err
}
