package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/kafkaerr"
	"github.com/sluice-dev/sluice/internal/metadata"
)

// Controller carries out the active controller's duties on a voter. Only
// the Raft leader acts; the others keep quiet until they lead. Its duties:
// name a new cluster, track broker heartbeats, fencing a broker that
// stopped (its partitions lose their leader) and unfencing it when it
// heartbeats again, where unclean.leader.election.enable allows it, give
// a leaderless partition whose ISR is down a leader from outside its ISR,
// and, with auto.leader.rebalance.enable, move leadership back to
// preferred replicas (rebalance.go).
//
// Time comes from the caller (Tick and Heartbeat take now), so tests drive
// it with a fake clock.
type Controller struct {
	store          *metadata.Store
	clusterID      string // configured cluster.id, "" for a random one
	legacyFile     string // a single-node snapshot of an earlier version to import, if present
	legacyIDsFile  string // that version's producer id block end
	sessionTimeout time.Duration
	unclean        bool // unclean.leader.election.enable of this node's broker config
	rebalance      rebalanceConfig

	mu sync.Mutex // guards lastSeen, sessions, leading and nextRebalance
	// lastSeen is when each broker last heartbeated, or when this node
	// took over as controller, whichever is later: fencing counts from it.
	lastSeen map[int32]time.Time
	// sessions are the incarnations that registered or heartbeated to
	// this controller, and when: a live session refuses a second process
	// with the same node.id.
	sessions map[int32]session
	leading  bool
	// nextRebalance is when the next leader balance check is due
	// (rebalance.go); the zero time means at the next tick.
	nextRebalance time.Time
}

// rebalanceConfig is the automatic leader balancing's part of the
// configuration (rebalance.go).
type rebalanceConfig struct {
	enabled    bool          // auto.leader.rebalance.enable
	interval   time.Duration // leader.imbalance.check.interval.seconds
	percentage int           // leader.imbalance.per.broker.percentage
}

// session is one broker process heard by this controller.
type session struct {
	incarnation string
	last        time.Time
}

// ControllerConfig configures a Controller.
type ControllerConfig struct {
	ClusterID string
	// LegacyFile is the metadata file of Sluice before the quorum; when
	// the log is empty its topics are imported.
	LegacyFile string
	// LegacyProducerIDsFile holds the producer id block end of that
	// version; ids below it are never handed out again.
	LegacyProducerIDsFile string
	SessionTimeout        time.Duration
	// UncleanLeaderElection is the broker's unclean.leader.election.enable:
	// whether a leaderless partition whose ISR members are all down is
	// given a leader from outside its ISR. A topic's override wins.
	UncleanLeaderElection bool
	// AutoLeaderRebalance is auto.leader.rebalance.enable: whether the
	// active controller moves leadership back to preferred replicas
	// (rebalance.go). Off in the zero value, for tests.
	AutoLeaderRebalance bool
	// LeaderImbalanceCheckInterval is leader.imbalance.check.interval.seconds:
	// how often it checks; at least a second.
	LeaderImbalanceCheckInterval time.Duration
	// LeaderImbalancePerBrokerPercentage is
	// leader.imbalance.per.broker.percentage: the share of a broker's
	// preferred partitions led elsewhere above which it acts.
	LeaderImbalancePerBrokerPercentage int
}

// rebalanceIntervalMin bounds how often the leader balance check runs, as
// leader.imbalance.check.interval.seconds is at least 1.
const rebalanceIntervalMin = time.Second

// NewController returns the controller duties for store.
func NewController(store *metadata.Store, cfg ControllerConfig) *Controller {
	return &Controller{store: store, clusterID: cfg.ClusterID, legacyFile: cfg.LegacyFile, legacyIDsFile: cfg.LegacyProducerIDsFile,
		sessionTimeout: cfg.SessionTimeout, unclean: cfg.UncleanLeaderElection,
		rebalance: rebalanceConfig{enabled: cfg.AutoLeaderRebalance,
			interval: max(cfg.LeaderImbalanceCheckInterval, rebalanceIntervalMin), percentage: cfg.LeaderImbalancePerBrokerPercentage},
		lastSeen: map[int32]time.Time{}, sessions: map[int32]session{}}
}

// isLeader reports whether this node is the active controller.
func (c *Controller) isLeader() bool { return c.store.Leader() == c.store.NodeID() }

// Tick runs the periodic duties. A node that has just become leader first
// gives every broker a full session timeout to heartbeat to it.
func (c *Controller) Tick(ctx context.Context, now time.Time) {
	if !c.isLeader() {
		c.mu.Lock()
		c.leading = false
		c.mu.Unlock()
		return
	}
	im := c.store.Image()
	if im.ClusterID == "" {
		if err := c.initCluster(ctx); err != nil {
			c.store.Logger().Warn("cannot name the cluster yet", "err", err)
		}
		return
	}
	c.mu.Lock()
	if !c.leading {
		c.leading = true
		c.sessions = map[int32]session{}
		c.lastSeen = map[int32]time.Time{}
		for id := range im.Brokers {
			c.lastSeen[id] = now
		}
		c.nextRebalance = now.Add(c.rebalance.interval)
	}
	var expired []*metadata.Broker
	for _, b := range im.LiveBrokers() {
		seen, ok := c.lastSeen[b.ID]
		if !ok {
			c.lastSeen[b.ID], seen = now, now // registered since we took over
		}
		if now.Sub(seen) > c.sessionTimeout {
			expired = append(expired, b)
		}
	}
	c.mu.Unlock()
	for _, b := range expired {
		c.store.Logger().Warn("fencing broker: no heartbeat", "broker", b.ID, "timeout", c.sessionTimeout)
		if err := c.store.FenceBroker(ctx, b.ID, b.Epoch, true); err != nil {
			c.store.Logger().Warn("fence broker", "broker", b.ID, "err", err)
		}
	}
	c.electUnclean(ctx)
	if c.rebalanceDue(now) {
		c.balanceLeaders(ctx)
	}
}

// uncleanPerTickMax bounds the unclean elections one tick proposes, so a
// tick stays short when a whole rack of ISRs went down; the next tick
// takes the rest.
const uncleanPerTickMax = 100

// electUnclean proposes an unclean election for every leaderless
// partition with a live replica, in topics where
// unclean.leader.election.enable is true. Apply elects from the ISR
// whenever a member is live, so a leaderless partition has none: its new
// leader is a replica outside the ISR, and records acknowledged only by
// the ISR are lost. Store.ElectLeaders logs each one as a warning.
func (c *Controller) electUnclean(ctx context.Context) {
	im := c.store.Image()
	proposed := 0
	for _, t := range im.SortedTopics() {
		if !c.uncleanAllowed(t) {
			continue
		}
		for i, p := range t.Assignments {
			if p.Leader != metadata.NoLeader || !slices.ContainsFunc(p.Replicas, im.Live) {
				continue
			}
			if proposed == uncleanPerTickMax {
				return
			}
			proposed++
			c.store.Logger().Info("proposing an unclean leader election (unclean.leader.election.enable is true): no ISR member is live",
				"topic", t.Name, "partition", i, "isr", p.ISR)
			if _, err := c.store.ElectLeaders(ctx, t.ID, int32(i), true); err != nil {
				c.store.Logger().Warn("unclean leader election", "topic", t.Name, "partition", i, "err", err)
			}
		}
	}
}

// uncleanAllowed is t's unclean.leader.election.enable: its override, else
// the broker's.
func (c *Controller) uncleanAllowed(t *metadata.Topic) bool {
	if v, ok := t.Configs[uncleanKey]; ok {
		if allowed, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return allowed
		}
	}
	return c.unclean
}

// uncleanKey is Kafka's name of the setting, for brokers and topics.
const uncleanKey = "unclean.leader.election.enable"

// initCluster names the cluster: cluster.id, or the id of an earlier
// version's single-node metadata file, or a new random id.
func (c *Controller) initCluster(ctx context.Context) error {
	legacy, err := readLegacy(c.legacyFile)
	if err != nil {
		return err
	}
	id := c.clusterID
	if legacy != nil && legacy.ClusterID != "" {
		id = legacy.ClusterID
	}
	return c.store.InitCluster(ctx, id)
}

// SessionTimeout is broker.session.timeout.ms.
func (c *Controller) SessionTimeout() time.Duration { return c.sessionTimeout }

// Register registers a broker process. A broker id whose registration is
// live with another incarnation, heard by this controller within the
// session timeout, is refused with DUPLICATE_BROKER_REGISTRATION: two
// processes with one node.id would otherwise take turns registering. A
// restarted broker is refused the same way until its old session expires,
// unless it shut down cleanly (Heartbeat with shutdown ends the session).
func (c *Controller) Register(ctx context.Context, r metadata.RegisterBrokerRecord, now time.Time) (uint64, error) {
	if !c.isLeader() {
		return 0, fmt.Errorf("%w: node %d is not the active controller", kerr.NotController, c.store.NodeID())
	}
	c.mu.Lock()
	old, ok := c.sessions[r.ID]
	c.mu.Unlock()
	if b := c.store.Image().Brokers[r.ID]; ok && b != nil && !b.Fenced && old.incarnation != r.Incarnation &&
		b.Incarnation == old.incarnation && now.Sub(old.last) <= c.sessionTimeout {
		return 0, fmt.Errorf("%w: broker %d is registered by another live process (at %s); is node.id %d used twice?",
			kerr.DuplicateBrokerRegistration, r.ID, endpointList(b.Endpoints), r.ID)
	}
	epoch, err := c.store.RegisterBroker(ctx, r)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.sessions[r.ID] = session{incarnation: r.Incarnation, last: now}
	c.lastSeen[r.ID] = now
	c.mu.Unlock()
	return epoch, nil
}

// endpointList prints endpoints as host:port entries.
func endpointList(es []metadata.Endpoint) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, e.Host+":"+strconv.Itoa(int(e.Port)))
	}
	return strings.Join(parts, ",")
}

// Heartbeat records that broker id (registration epoch) is alive, and
// unfences it if it was fenced; with shutdown, the broker is stopping
// cleanly and is fenced now, its session ended. It fails with
// NOT_CONTROLLER on a node that does not lead, and STALE_BROKER_EPOCH when
// the broker must register again.
func (c *Controller) Heartbeat(ctx context.Context, id int32, epoch uint64, shutdown bool, now time.Time) error {
	if !c.isLeader() {
		return fmt.Errorf("%w: node %d is not the active controller", kerr.NotController, c.store.NodeID())
	}
	b, ok := c.store.Image().Brokers[id]
	if !ok || b.Epoch != epoch {
		return fmt.Errorf("%w: broker %d epoch %d is not registered", kerr.StaleBrokerEpoch, id, epoch)
	}
	c.mu.Lock()
	if shutdown {
		delete(c.sessions, id)
	} else {
		c.sessions[id] = session{incarnation: b.Incarnation, last: now}
		c.lastSeen[id] = now
	}
	c.mu.Unlock()
	switch {
	case shutdown && !b.Fenced:
		c.store.Logger().Info("fencing broker: it is shutting down", "broker", id)
		return c.store.FenceBroker(ctx, id, epoch, true)
	case !shutdown && b.Fenced:
		c.store.Logger().Info("unfencing broker", "broker", id)
		return c.store.FenceBroker(ctx, id, epoch, false)
	}
	return nil
}

// heartbeatRequest is the body of POST /controller/heartbeat.
type heartbeatRequest struct {
	ID       int32  `json:"id"`
	Epoch    uint64 `json:"epoch"`
	Shutdown bool   `json:"shutdown,omitempty"`
}

// controllerResponse answers the controller's RPCs: a Kafka error code (0
// for none) and, for a registration, the epoch.
type controllerResponse struct {
	ErrorCode int16  `json:"errorCode"`
	Message   string `json:"message,omitempty"`
	Epoch     uint64 `json:"epoch,omitempty"`
}

// controllerRequestBytesMax bounds a heartbeat or registration body.
const controllerRequestBytesMax = 64 << 10

// ServeHTTP answers heartbeats and registrations from brokers on the
// controller listener.
func (c *Controller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a heartbeat or a registration", http.StatusMethodNotAllowed)
		return
	}
	body := http.MaxBytesReader(w, r.Body, controllerRequestBytesMax)
	// The broker gives up on its call after heartbeatTimeout: a change
	// that waits longer serves nobody.
	ctx, cancel := context.WithTimeout(r.Context(), heartbeatTimeout)
	defer cancel()
	var resp controllerResponse
	var err error
	switch r.URL.Path {
	case HeartbeatPath:
		var req heartbeatRequest
		if err = json.NewDecoder(body).Decode(&req); err == nil {
			err = c.Heartbeat(ctx, req.ID, req.Epoch, req.Shutdown, time.Now())
		}
	case RegisterPath:
		var req metadata.RegisterBrokerRecord
		if err = json.NewDecoder(body).Decode(&req); err == nil {
			resp.Epoch, err = c.Register(ctx, req, time.Now())
		}
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		resp.ErrorCode, resp.Message = kafkaerr.Code(err), err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(&resp)
}
