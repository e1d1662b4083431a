package controller

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/metadata"
)

// Member is a broker's side of membership: it registers the broker with
// the active controller and heartbeats to it. A broker that learns its
// registration is stale (the controller does not know its epoch)
// registers again; one that stops cleanly says so, so the controller
// fences it at once and a restart need not wait out its session.
type Member struct {
	store       *metadata.Store
	registering metadata.RegisterBrokerRecord
	interval    time.Duration
	// controllers maps voter ids to their controller listener addresses.
	controllers map[int32]string
	// local is this node's controller when it is a voter.
	local  *Controller
	client *http.Client

	epoch atomic.Uint64 // current registration epoch, 0 before the first
}

// MemberConfig configures a Member.
type MemberConfig struct {
	Endpoints         []metadata.Endpoint
	Rack              *string
	HeartbeatInterval time.Duration
	Controllers       map[int32]string
	Local             *Controller
}

const (
	// heartbeatTimeout bounds one heartbeat or registration round trip.
	heartbeatTimeout = 2 * time.Second
	// registerRetry is the pause between registration attempts.
	registerRetry = 100 * time.Millisecond
	// HeartbeatPath and RegisterPath are where a controller listener
	// takes heartbeats and registrations.
	HeartbeatPath = "/controller/heartbeat"
	RegisterPath  = "/controller/register"
)

// NewMember returns the membership of this node's broker.
func NewMember(store *metadata.Store, cfg MemberConfig) *Member {
	var b [12]byte
	rand.Read(b[:])
	return &Member{store: store, interval: cfg.HeartbeatInterval, controllers: cfg.Controllers, local: cfg.Local,
		client: &http.Client{Timeout: heartbeatTimeout},
		registering: metadata.RegisterBrokerRecord{ID: store.NodeID(), Incarnation: base64.RawURLEncoding.EncodeToString(b[:]),
			Endpoints: cfg.Endpoints, Rack: cfg.Rack}}
}

// Register registers the broker, retrying while the quorum has no leader
// or no cluster id yet, or another live process holds the node id, until
// ctx ends.
func (m *Member) Register(ctx context.Context) error {
	var last error
	for {
		if m.store.Image().ClusterID != "" {
			epoch, err := m.register(ctx)
			if err == nil {
				m.epoch.Store(epoch)
				return nil
			}
			if errors.Is(err, kerr.DuplicateBrokerRegistration) && !errors.Is(last, kerr.DuplicateBrokerRegistration) {
				m.store.Logger().Warn("waiting to register", "err", err)
			}
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = errors.New("the cluster has no id yet")
			}
			return fmt.Errorf("register broker %d: %w", m.store.NodeID(), last)
		case <-time.After(registerRetry):
		}
	}
}

// register sends one registration to the active controller.
func (m *Member) register(ctx context.Context) (uint64, error) {
	if m.localLeads() {
		return m.local.Register(ctx, m.registering, time.Now())
	}
	resp, err := m.call(ctx, RegisterPath, m.registering)
	return resp.Epoch, err
}

// Epoch is the broker's current registration epoch, 0 before it first
// registered. It changes when the broker registers again.
func (m *Member) Epoch() uint64 { return m.epoch.Load() }

// caughtUpPoll is how often WaitCaughtUp looks at the image. It polls
// rather than taking Store.Changed, whose one reader is the broker's
// reconcile loop; on a lone node the registration is applied before
// Register returns, and the first look finds it.
const caughtUpPoll = 5 * time.Millisecond

// WaitCaughtUp waits, until ctx ends, for this node's metadata to catch
// up with its registration: the image has applied the registration
// record (whose log index is the broker epoch, so every record the
// controller had committed before it is applied too) and shows the
// broker registered in that epoch and unfenced. Kafka's controller
// counts a broker caught up once its metadata offset reaches its
// registration record, and a Kafka broker serves clients only then: a
// client that meets it sees the cluster it joined, itself included,
// never an image from before it was a member.
func (m *Member) WaitCaughtUp(ctx context.Context) error {
	t := time.NewTicker(caughtUpPoll)
	defer t.Stop()
	for {
		epoch := m.epoch.Load()
		if m.caughtUp(epoch) {
			return nil
		}
		select {
		case <-ctx.Done():
			im := m.store.Image()
			return fmt.Errorf("broker %d registered in epoch %d, but its metadata is at index %d and does not show it unfenced yet: %w",
				m.store.NodeID(), epoch, im.Index, ctx.Err())
		case <-t.C:
		}
	}
}

// caughtUp reports whether the image has applied registration epoch of
// this broker and shows the broker unfenced in it.
func (m *Member) caughtUp(epoch uint64) bool {
	if epoch == 0 {
		return false
	}
	im := m.store.Image()
	b, ok := im.Brokers[m.store.NodeID()]
	return im.Index >= epoch && ok && b.Epoch == epoch && !b.Fenced
}

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
		err := m.heartbeat(ctx, false)
		if errors.Is(err, kerr.StaleBrokerEpoch) {
			m.store.Logger().Warn("registering again", "err", err)
			err = m.Register(ctx)
		}
		cancel()
		if err != nil && !errors.Is(err, kerr.NotController) {
			m.store.Logger().Debug("heartbeat", "err", err)
		}
	}
}

// Shutdown tells the active controller that this broker is stopping:
// it is fenced at once and its session ends.
func (m *Member) Shutdown(ctx context.Context) error {
	return m.heartbeat(ctx, true)
}

// heartbeat sends one heartbeat to the active controller.
func (m *Member) heartbeat(ctx context.Context, shutdown bool) error {
	if m.localLeads() {
		return m.local.Heartbeat(ctx, m.store.NodeID(), m.epoch.Load(), shutdown, time.Now())
	}
	_, err := m.call(ctx, HeartbeatPath, heartbeatRequest{ID: m.store.NodeID(), Epoch: m.epoch.Load(), Shutdown: shutdown})
	return err
}

// localLeads reports whether this node's own controller is the active one.
func (m *Member) localLeads() bool {
	return m.local != nil && m.store.Leader() == m.store.NodeID()
}

// call posts body to path on the active controller's listener.
func (m *Member) call(ctx context.Context, path string, body any) (controllerResponse, error) {
	var cr controllerResponse
	leader := m.store.Leader()
	if leader < 0 {
		return cr, fmt.Errorf("%w: no active controller", kerr.NotController)
	}
	addr, ok := m.controllers[leader]
	if !ok {
		return cr, fmt.Errorf("%w: active controller %d has no known address", kerr.NotController, leader)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return cr, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(b))
	if err != nil {
		return cr, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return cr, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return cr, fmt.Errorf("controller %d answered %s", leader, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, controllerRequestBytesMax)).Decode(&cr); err != nil {
		return cr, fmt.Errorf("answer from controller %d: %w", leader, err)
	}
	if cr.ErrorCode != 0 {
		return cr, fmt.Errorf("%w: %s", kerr.ErrorForCode(cr.ErrorCode), cr.Message)
	}
	return cr, nil
}
