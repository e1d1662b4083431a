// Package broker assembles a running broker from its parts: config, log
// dirs, metadata, partitions, the topics registry, the group coordinator,
// handlers, the operator view (admin) and listeners, and takes it down
// cleanly. It is the only package that knows them all; the parts are
// given what they need here and do not find each other.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/acl"
	"github.com/sluice-dev/sluice/internal/admin"
	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/console"
	"github.com/sluice-dev/sluice/internal/controller"
	"github.com/sluice-dev/sluice/internal/group"
	"github.com/sluice-dev/sluice/internal/handler"
	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/metadata"
	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/peer"
	"github.com/sluice-dev/sluice/internal/protocol"
	"github.com/sluice-dev/sluice/internal/replica"
	"github.com/sluice-dev/sluice/internal/server"
	"github.com/sluice-dev/sluice/internal/topics"
	"github.com/sluice-dev/sluice/internal/txn"
)

const (
	// legacyMetadataFile and legacyProducerIDsFile are the single-node
	// metadata of versions before the quorum, imported once.
	legacyMetadataFile    = "sluice-metadata.json"
	legacyProducerIDsFile = "sluice-producer-ids"
	// flushTick is how often flush.ms deadlines are checked.
	flushTick = time.Second
	// checkpointTick is Kafka's log.flush.offset.checkpoint.interval.ms.
	checkpointTick = time.Minute
	// highWatermarkTick is Kafka's
	// replica.high.watermark.checkpoint.interval.ms: how often the high
	// watermarks are checkpointed between the other checkpoints.
	highWatermarkTick = 5 * time.Second
	// queuedBytesMaxDefault bounds request bytes held across connections
	// when queued.max.request.bytes is unset (-1 in Kafka, unbounded).
	queuedBytesMaxDefault = 512 << 20
)

// Broker is a running broker.
type Broker struct {
	cfg      *config.Broker
	logger   *slog.Logger
	replicas *replica.Manager
	// fetchers copy the partitions led by other brokers; stopped before
	// the replicas close.
	fetchers  *replica.Fetchers
	groups    *group.Coordinator
	server    *server.Server
	listeners []net.Listener
	// kafkaListeners are the configured listeners behind listeners, and
	// security how each is secured.
	kafkaListeners []config.Listener
	security       []*auth.Listener
	// controllerLn is the controller listener, nil on a lone node
	// without one.
	controllerLn net.Listener
	metrics      *metrics.Metrics
	http         *console.Server
	admin        *admin.Admin
	topics       *topics.Registry
	quorum       *cluster
	// scramMeta is the metadata store SCRAM finds credentials in, set
	// once open has it; listeners exist before it does.
	scramMeta atomic.Pointer[metadata.Store]
	// Addrs are the addresses actually bound, in listener order.
	Addrs []string
	// HTTPAddrs are the bound http.listeners addresses.
	HTTPAddrs []string
	// DataDirs are the absolute log dirs.
	DataDirs []string

	stop     chan struct{}
	wg       sync.WaitGroup
	closeErr error
	once     sync.Once
}

// Start opens the log dirs, recovers every partition and starts listening.
func Start(cfg *config.Broker, logger *slog.Logger) (*Broker, error) {
	b := &Broker{cfg: cfg, logger: logger, stop: make(chan struct{}), metrics: metrics.New()}
	for _, d := range cfg.LogDirs() {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		b.DataDirs = append(b.DataDirs, abs)
	}
	if err := b.listen(); err != nil {
		return nil, err
	}
	// HTTP is up during recovery: /healthz answers, /readyz says starting.
	b.http = console.New(console.Config{Metrics: b.metrics, Logger: logger})
	if err := b.http.Listen(b.httpListeners()); err != nil {
		b.closeListeners()
		return nil, err
	}
	b.HTTPAddrs = b.http.Addrs()
	endpoints, err := b.endpoints()
	if err != nil {
		b.closeListeners()
		b.http.Close()
		return nil, err
	}
	if !cfg.Roles().Broker {
		// A controller alone: the quorum and the controller duties.
		if b.quorum, err = b.joinQuorum(nil); err != nil {
			b.closeListeners()
			b.http.Close()
			return nil, err
		}
		b.Addrs = []string{b.controllerLn.Addr().String()}
		b.metrics.SetSource(admin.ControllerSource{Meta: b.quorum.store, NodeID: cfg.NodeID()})
		b.http.SetControllerOnly(func() bool { return b.quorum.store.Leader() >= 0 })
		return b, nil
	}
	if err := b.open(endpoints); err != nil {
		b.closeListeners()
		b.http.Close()
		return nil, err
	}
	for i, ln := range b.listeners {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			if err := b.server.ServeListener(ln, b.security[i]); err != nil {
				logger.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
	// The heartbeats run since the registration (cluster.register).
	b.wg.Add(3)
	go b.background()
	go b.reconcileLoop()
	go func() {
		defer b.wg.Done()
		b.replicas.RunISR(b.stop)
	}()
	// Ready: partitions loaded, Kafka listeners bound and accepting.
	b.metrics.SetSource(b.admin)
	b.http.SetReady(b.admin)
	return b, nil
}

// open joins the metadata quorum, opens partitions and builds the handler.
func (b *Broker) open(endpoints []metadata.Endpoint) error {
	for _, d := range b.DataDirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cannot create log dir: %w", err)
		}
	}
	q, err := b.joinQuorum(endpoints)
	if err != nil {
		return err
	}
	b.quorum = q
	meta := q.store
	b.scramMeta.Store(meta)
	files := log.NewFileCache(b.cfg.Int("log.open.files.max"))
	b.metrics.SetLogFiles(func() metrics.LogFiles {
		st := files.Stats()
		return metrics.LogFiles{OpenFiles: st.OpenFiles, OpenFilesMax: st.FilesMax,
			Hits: st.Hits, Misses: st.Misses, Evictions: st.Evictions}
	})
	if b.replicas, err = replica.NewManager(replica.Config{
		Files: files,
		Dirs:  b.DataDirs, NodeID: b.cfg.NodeID(), Image: meta.Image, Logger: b.logger,
		AlterPartition: meta.AlterPartition, BrokerEpoch: q.member.Epoch,
		LagTimeMax:      time.Duration(b.cfg.Int64("replica.lag.time.max.ms")) * time.Millisecond,
		ReplicaSelector: b.cfg.String("replica.selector.class"),
	}); err != nil {
		q.close()
		return err
	}
	b.fetchers = b.newFetchers(meta, q.member)
	b.replicas.SetFetchers(b.fetchers)
	b.topics = topics.New(topics.Config{NodeID: b.cfg.NodeID(), Broker: b.cfg, Meta: meta, Replicas: b.replicas, Logger: b.logger})
	start := time.Now()
	if err := b.topics.Reconcile(); err != nil {
		b.replicas.Close()
		q.close()
		return fmt.Errorf("open partitions: %w", err)
	}
	b.logger.Debug("partitions opened", "partitions", b.replicas.Len(), "took", time.Since(start))
	gcfg := group.ConfigFrom(b.cfg)
	gcfg.Storage = group.NewReplicaStorage(meta, b.replicas, b.topics.CreateInternalTopic, b.topics.OffsetsMinInsync)
	gcfg.Owns = b.topics.OwnsGroup
	gcfg.Leads = b.topics.LeadsOffsetsPartition
	gcfg.Logger = b.logger
	if b.groups, err = group.Start(gcfg); err != nil {
		b.replicas.Close()
		q.close()
		return err
	}
	first := endpoints[0]
	h := handler.New(handler.Broker{
		NodeID: b.cfg.NodeID(), Host: first.Host, Port: first.Port, Config: b.cfg,
		Meta: meta, Replicas: b.replicas, ProducerIDs: txn.NewIDs(q.allocateProducerIDs),
		Groups: b.groups, Topics: b.topics, Logger: b.logger, Metrics: b.metrics,
		Authorize: b.authorizer(meta),
	})
	b.admin = admin.New(admin.Broker{
		NodeID: b.cfg.NodeID(), Host: first.Host, Port: first.Port,
		Meta: meta, Replicas: b.replicas, Groups: b.groups, Topics: b.topics, Kafka: h,
	})
	queued := b.cfg.Int64("queued.max.request.bytes")
	if queued <= 0 {
		queued = queuedBytesMaxDefault
	}
	// Checked when the config was read.
	perIPOverrides, _ := config.ConnectionsPerIPOverrides(b.cfg.String("max.connections.per.ip.overrides"))
	b.server = server.New(server.Config{
		RequestBytesMax:           b.cfg.Int("socket.request.max.bytes"),
		QueuedBytesMax:            queued,
		Metrics:                   b.metrics,
		SASLReceiveBytesMax:       b.cfg.Int("sasl.server.max.receive.size"),
		FailedAuthenticationDelay: time.Duration(b.cfg.Int("connection.failed.authentication.delay.ms")) * time.Millisecond,
		ConnectionsMax:            b.cfg.Int("max.connections"),
		ConnectionsPerIPMax:       b.cfg.Int("max.connections.per.ip"),
		ConnectionsPerIPOverrides: perIPOverrides,
	}, h, b.logger)
	return nil
}

// authorizer is the handler's Authorize hook: nil (everything allowed)
// unless authorizer.class.name names Kafka's StandardAuthorizer or
// AclAuthorizer, then ACLs from the metadata image decide (package acl).
//
// Other brokers' replica fetches need CLUSTER_ACTION on the cluster, as
// in Kafka, where brokers' principals go in super.users. Sluice's
// fetchers speak PLAINTEXT, so they come as User:ANONYMOUS: on a cluster
// of several brokers, User:ANONYMOUS must be a super user, or be allowed
// CLUSTER_ACTION on the cluster, for replication to work; a warning says
// so. The HTTP console's operator changes also come as User:ANONYMOUS.
func (b *Broker) authorizer(meta *metadata.Store) handler.Authorizer {
	if !b.cfg.AuthorizerEnabled() {
		return nil
	}
	cfg := acl.Config{SuperUsers: b.cfg.SuperUsers(), AllowEveryoneIfNoACL: b.cfg.Bool("allow.everyone.if.no.acl.found")}
	if !slices.Contains(cfg.SuperUsers, protocol.Anonymous.String()) {
		b.logger.Warn("ACLs are enabled and User:ANONYMOUS is not a super user: other brokers' replica fetches, which come as User:ANONYMOUS, need CLUSTER_ACTION on the cluster",
			"authorizer", b.cfg.String("authorizer.class.name"))
	}
	return acl.New(cfg, meta.Image).Authorize
}

// newFetchers builds the replica fetchers from the replica.* configs.
func (b *Broker) newFetchers(meta *metadata.Store, member *controller.Member) *replica.Fetchers {
	id := b.cfg.NodeID()
	return replica.NewFetchers(replica.FetcherConfig{
		NodeID:           id,
		BrokerEpoch:      func() int64 { return int64(member.Epoch()) },
		Transport:        peer.New(peer.Config{NodeID: id, Image: meta.Image, Listener: b.interBrokerListener()}),
		MaxBytes:         int32(b.cfg.Int("replica.fetch.max.bytes")),
		ResponseMaxBytes: int32(b.cfg.Int("replica.fetch.response.max.bytes")),
		MinBytes:         int32(b.cfg.Int("replica.fetch.min.bytes")),
		MaxWait:          time.Duration(b.cfg.Int64("replica.fetch.wait.max.ms")) * time.Millisecond,
		Backoff:          time.Duration(b.cfg.Int64("replica.fetch.backoff.ms")) * time.Millisecond,
		NumFetchers:      b.cfg.Int("num.replica.fetchers"),
		Logger:           b.logger.With("component", "replica-fetcher"),
	})
}

// interBrokerListener is inter.broker.listener.name: the listener of
// other brokers that this broker's replica fetchers dial; "" is each
// broker's first listener. The fetchers speak PLAINTEXT only so far.
func (b *Broker) interBrokerListener() string {
	if b.cfg.IsNull("inter.broker.listener.name") {
		return ""
	}
	return b.cfg.String("inter.broker.listener.name")
}

// listen binds every Kafka listener, secured as
// listener.security.protocol.map says (PLAINTEXT, SSL, SASL_PLAINTEXT or
// SASL_SSL), and the controller listener.
func (b *Broker) listen() error {
	protocols := b.cfg.SecurityProtocols()
	for _, l := range b.cfg.Listeners() {
		p, mapped := protocols[l.Name]
		controller := b.cfg.IsControllerListener(l)
		if !mapped && controller {
			p = "PLAINTEXT" // Kafka's default for an unmapped controller listener
		}
		if !mapped && !controller {
			b.closeListeners()
			return fmt.Errorf("listener %s has no security protocol in listener.security.protocol.map", l.Name)
		}
		if controller && p != "PLAINTEXT" {
			b.closeListeners()
			return fmt.Errorf("controller listener %s uses security protocol %q; only PLAINTEXT is supported for the controller so far", l.Name, p)
		}
		var sec *auth.Listener
		if !controller {
			var err error
			if sec, err = auth.NewListener(b.cfg, l.Name, p, b.scramCredential); err != nil {
				b.closeListeners()
				return err
			}
		}
		ln, err := net.Listen("tcp", l.Addr())
		if err != nil {
			b.closeListeners()
			return fmt.Errorf("cannot listen on %s: %w", l.Addr(), err)
		}
		if b.cfg.IsControllerListener(l) {
			if b.controllerLn != nil {
				ln.Close()
				b.closeListeners()
				return errors.New("listeners has more than one controller listener")
			}
			b.controllerLn = ln
			continue
		}
		b.listeners = append(b.listeners, ln)
		b.kafkaListeners = append(b.kafkaListeners, l)
		b.security = append(b.security, sec)
		b.Addrs = append(b.Addrs, ln.Addr().String())
	}
	if len(b.listeners) == 0 && b.cfg.Roles().Broker {
		b.closeListeners()
		return errors.New("no listener for clients is configured in listeners")
	}
	return nil
}

// endpoints returns the listeners clients are told to use, one per Kafka
// listener: its advertised listener of the same name, else the bound
// address (so port 0 in tests advertises the real port).
func (b *Broker) endpoints() ([]metadata.Endpoint, error) {
	var out []metadata.Endpoint
	for i, l := range b.kafkaListeners {
		e := metadata.Endpoint{Name: l.Name}
		for _, a := range b.cfg.AdvertisedListeners() {
			if a.Name == l.Name && a.Port != 0 {
				e.Host, e.Port = a.Host, int32(a.Port)
			}
		}
		if e.Port == 0 {
			_, port, err := net.SplitHostPort(b.Addrs[i])
			if err != nil {
				return nil, err
			}
			p, _ := strconv.Atoi(port)
			e.Host, e.Port = l.Host, int32(p)
		}
		if wildcardHost(e.Host) {
			// Kafka advertises the machine's name for a listener bound
			// to every interface: other brokers' clients must reach it.
			name, err := os.Hostname()
			if err != nil {
				return nil, fmt.Errorf("listener %s binds every interface and the host name is unknown: %w; set advertised.listeners", l.Name, err)
			}
			e.Host = name
		}
		out = append(out, e)
	}
	return out, nil
}

// httpListeners returns http.listeners. Left at its default, the HTTP
// listener takes the host of the first listener, so that brokers on
// 127.0.0.1, 127.0.0.2 and 127.0.0.3 of one machine do not all claim
// 127.0.0.1:9644.
func (b *Broker) httpListeners() []string {
	addrs := b.cfg.List("http.listeners")
	ls := b.cfg.Listeners()
	if b.cfg.Source("http.listeners") != config.SourceDefault || len(ls) == 0 || len(addrs) != 1 {
		return addrs
	}
	_, port, err := net.SplitHostPort(addrs[0])
	if err != nil {
		return addrs
	}
	return []string{net.JoinHostPort(ls[0].Host, port)}
}

// wildcardHost reports whether host names every interface rather than
// one a client can connect to.
func wildcardHost(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::" || host == "[::]"
}

// background runs the periodic flush, retention and checkpoints.
func (b *Broker) background() {
	defer b.wg.Done()
	flush := time.NewTicker(flushTick)
	checkpoint := time.NewTicker(checkpointTick)
	highWatermarks := time.NewTicker(highWatermarkTick)
	defer highWatermarks.Stop()
	retention := time.NewTicker(time.Duration(b.cfg.Int64("log.retention.check.interval.ms")) * time.Millisecond)
	defer flush.Stop()
	defer checkpoint.Stop()
	defer retention.Stop()
	b.wg.Add(1)
	go b.cleanLoop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-flush.C:
			b.replicas.FlushDue(now)
		case now := <-retention.C:
			b.replicas.ApplyRetention(now)
		case <-checkpoint.C:
			if err := b.replicas.Checkpoint(); err != nil {
				b.logger.Error("recovery point checkpoint", "err", err)
			}
		case <-highWatermarks.C:
			if err := b.replicas.CheckpointHighWatermarks(); err != nil {
				b.logger.Error("high watermark checkpoint", "err", err)
			}
		}
	}
}

// cleanLoop is the log cleaner thread: it compacts the due logs, then
// sleeps log.cleaner.backoff.ms. It runs apart from retention and flushes
// because one clean may take long.
func (b *Broker) cleanLoop() {
	defer b.wg.Done()
	if !b.cfg.Bool("log.cleaner.enable") {
		return
	}
	cleaner := log.NewCleaner(log.CleanerConfig{
		DedupeBufferBytes: b.cfg.Int64("log.cleaner.dedupe.buffer.size"),
		IOBufferBytes:     b.cfg.Int("log.cleaner.io.buffer.size"),
		IOBytesPerSecond:  b.cfg.Float64("log.cleaner.io.max.bytes.per.second"),
		Logger:            b.logger,
	})
	backoff := time.NewTicker(max(time.Duration(b.cfg.Int64("log.cleaner.backoff.ms"))*time.Millisecond, time.Millisecond))
	defer backoff.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-backoff.C:
			b.replicas.CleanAll(cleaner, now)
		}
	}
}

func (b *Broker) closeListeners() {
	for _, ln := range b.listeners {
		ln.Close()
	}
	if b.controllerLn != nil {
		b.controllerLn.Close()
	}
}

// reconcileLoop opens and removes partitions as the metadata changes:
// topics created or deleted through other brokers, and leaders moved. It
// also counts the ISR changes of the partitions led here between the
// images it sees.
func (b *Broker) reconcileLoop() {
	defer b.wg.Done()
	seen := b.quorum.store.Image()
	for {
		select {
		case <-b.stop:
			return
		case <-b.quorum.store.Changed():
			im := b.quorum.store.Image()
			b.metrics.ISRChanged(admin.ISRChanges(seen, im, b.cfg.NodeID()))
			seen = im
			if err := b.topics.Reconcile(); err != nil {
				b.logger.Error("reconcile partitions with the metadata", "err", err)
			}
			b.groups.Reconcile()
		}
	}
}

// Close stops accepting, closes connections, fsyncs and closes every log,
// and marks the dirs cleanly shut down.
func (b *Broker) Close() error {
	b.once.Do(func() {
		b.quorum.shutdown()
		close(b.stop)
		b.http.Close()
		b.closeListeners()
		if b.server == nil { // a controller alone
			b.closeErr = b.quorum.close()
			return
		}
		b.server.Close()
		// No fetch may append once the logs begin to close.
		b.fetchers.Close()
		b.wg.Wait()
		b.groups.Close()
		b.closeErr = errors.Join(b.replicas.Close(), b.quorum.close())
	})
	return b.closeErr
}

// scramCredential finds a SCRAM user's credential in the metadata image,
// for the listeners' SCRAM mechanisms; none before the store is open.
func (b *Broker) scramCredential(mechanism, user string) (auth.ScramCredential, bool) {
	meta := b.scramMeta.Load()
	if meta == nil {
		return auth.ScramCredential{}, false
	}
	c, ok := meta.Image().ScramCredential(user, mechanism)
	if !ok {
		return auth.ScramCredential{}, false
	}
	return auth.ScramCredential{Salt: c.Salt, Iterations: int(c.Iterations), StoredKey: c.StoredKey, ServerKey: c.ServerKey}, true
}
