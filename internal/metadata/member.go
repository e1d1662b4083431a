package metadata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Member is a broker's side of membership: it registers the broker with
// the quorum and heartbeats to the active controller. A broker that
// learns its registration is stale (the controller does not know its
// epoch) registers again.
type Member struct {
	store     *Store
	endpoints []Endpoint
	rack      *string
	interval  time.Duration
	// controllers maps voter ids to their controller listener addresses.
	controllers map[int32]string
	// local is this node's controller when it is a voter.
	local  *Controller
	client *http.Client

	epoch atomic.Uint64 // current registration epoch, 0 before the first
}

// MemberConfig configures a Member.
type MemberConfig struct {
	Endpoints         []Endpoint
	Rack              *string
	HeartbeatInterval time.Duration
	Controllers       map[int32]string
	Local             *Controller
}

// heartbeatTimeout bounds one heartbeat round trip.
const heartbeatTimeout = 2 * time.Second

// NewMember returns the membership of this node's broker.
func NewMember(store *Store, cfg MemberConfig) *Member {
	return &Member{store: store, endpoints: cfg.Endpoints, rack: cfg.Rack, interval: cfg.HeartbeatInterval,
		controllers: cfg.Controllers, local: cfg.Local, client: &http.Client{Timeout: heartbeatTimeout}}
}

// Register registers the broker, retrying while the quorum has no leader
// or no cluster id yet, until ctx ends.
func (m *Member) Register(ctx context.Context) error {
	var last error
	for {
		if m.store.Image().ClusterID != "" {
			epoch, err := m.store.RegisterBroker(ctx, m.endpoints, m.rack)
			if err == nil {
				m.epoch.Store(epoch)
				return nil
			}
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = errors.New("the cluster has no id yet")
			}
			return fmt.Errorf("register broker %d: %w", m.store.nodeID, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Epoch is the current registration epoch.
func (m *Member) Epoch() uint64 { return m.epoch.Load() }

// Run heartbeats every interval until stop is closed.
func (m *Member) Run(stop <-chan struct{}) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), heartbeatTimeout)
		err := m.heartbeat(ctx)
		if errors.Is(err, kerr.StaleBrokerEpoch) {
			m.store.logger.Warn("registering again", "err", err)
			err = m.Register(ctx)
		}
		cancel()
		if err != nil && !errors.Is(err, kerr.NotController) {
			m.store.logger.Debug("heartbeat", "err", err)
		}
	}
}

// heartbeat sends one heartbeat to the active controller.
func (m *Member) heartbeat(ctx context.Context) error {
	leader := m.store.log.Leader()
	if leader < 0 {
		return fmt.Errorf("%w: no active controller", kerr.NotController)
	}
	if leader == m.store.nodeID && m.local != nil {
		return m.local.Heartbeat(ctx, m.store.nodeID, m.epoch.Load(), time.Now())
	}
	addr, ok := m.controllers[leader]
	if !ok {
		return fmt.Errorf("%w: active controller %d has no known address", kerr.NotController, leader)
	}
	body, _ := json.Marshal(heartbeatRequest{ID: m.store.nodeID, Epoch: m.epoch.Load()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+HeartbeatPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var hr heartbeatResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, heartbeatBytesMax)).Decode(&hr); err != nil {
		return fmt.Errorf("heartbeat answer from controller %d: %w", leader, err)
	}
	if hr.ErrorCode != 0 {
		return fmt.Errorf("%w: %s", kerr.ErrorForCode(hr.ErrorCode), hr.Message)
	}
	return nil
}

// HeartbeatPath is where a controller listener takes heartbeats.
const HeartbeatPath = "/controller/heartbeat"
