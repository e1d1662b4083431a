// Package console serves the broker's HTTP listener (http.listeners):
// Prometheus metrics on /metrics, liveness and readiness on /healthz and
// /readyz, the JSON admin API under /api/v1/ (documented in
// docs/http-api.md), and the web console, plain HTML, CSS and JavaScript
// embedded in the binary, on /.
//
// The listener is bound before the broker recovers its partitions, so
// /healthz answers and /readyz says "starting" during a long recovery;
// the admin API answers 503 until SetReady hands it the broker.
package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-dev/sluice/internal/log"
	"github.com/sluice-dev/sluice/internal/metrics"
)

const (
	// readHeaderTimeout and the other server limits bound what a slow or
	// idle HTTP client holds.
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 2 * time.Minute
	headerBytesMax    = 64 << 10
	// scrapeTimeout bounds one /metrics scrape.
	scrapeTimeout = 10 * time.Second
	// shutdownTimeout is how long Close waits for requests in progress.
	shutdownTimeout = 5 * time.Second
)

// Config is what the HTTP server needs before the broker is ready.
type Config struct {
	Metrics *metrics.Metrics // required: /metrics serves its registry
	Logger  *slog.Logger
	Version string // shown in the overview; "" for the build's own
}

// Server is the broker's HTTP server.
type Server struct {
	cfg     Config
	started time.Time
	http    *http.Server
	sampler *sampler

	broker atomic.Pointer[brokerBox] // nil until SetReady
	// controllerOnly is set on a node without a broker: whether the
	// quorum has a leader.
	controllerOnly atomic.Pointer[func() bool]

	mu        sync.Mutex // guards listeners and addrs
	listeners []net.Listener
	addrs     []string
	wg        sync.WaitGroup
}

// brokerBox lets an interface value sit in an atomic.Pointer.
type brokerBox struct{ Broker }

// New returns a server that is not yet listening.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Version == "" {
		cfg.Version = buildVersion()
	}
	s := &Server{cfg: cfg, started: time.Now(), sampler: newSampler(cfg.Metrics)}
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    headerBytesMax,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Listen binds every address (host:port; port 0 picks a free one) and
// starts serving. On error nothing is left bound.
func (s *Server) Listen(addrs []string) error {
	var bound []net.Listener
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range bound {
				l.Close()
			}
			return fmt.Errorf("cannot listen on http.listeners address %s: %w", a, err)
		}
		bound = append(bound, ln)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ln := range bound {
		s.listeners = append(s.listeners, ln)
		s.addrs = append(s.addrs, ln.Addr().String())
		s.cfg.Logger.Info("http listening", "addr", ln.Addr().String())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.cfg.Logger.Error("http listener stopped", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
	if len(bound) > 0 {
		s.sampler.start()
	}
	return nil
}

// Addrs returns the bound addresses, in the order given to Listen.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.addrs...)
}

// SetReady hands the server the broker once its partitions are loaded
// and its Kafka listeners bound: /readyz turns 200 and the API answers.
func (s *Server) SetReady(b Broker) { s.broker.Store(&brokerBox{b}) }

// SetControllerOnly marks a node that runs only a controller: /readyz
// answers 200 while quorum reports a leader; the API, which needs a
// broker, keeps answering 503.
func (s *Server) SetControllerOnly(quorum func() bool) { s.controllerOnly.Store(&quorum) }

// ready returns the broker, or nil while starting.
func (s *Server) ready() Broker {
	if box := s.broker.Load(); box != nil {
		return box.Broker
	}
	return nil
}

// Close stops serving, giving requests in progress a moment to finish.
func (s *Server) Close() error {
	s.broker.Store(nil)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	s.wg.Wait()
	s.sampler.stop()
	return err
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Metrics.Registry(), promhttp.HandlerOpts{
		Timeout:           scrapeTimeout,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if quorum := s.controllerOnly.Load(); quorum != nil {
			if (*quorum)() {
				writeText(w, http.StatusOK, "ready (controller only)\n")
			} else {
				writeText(w, http.StatusServiceUnavailable, "no controller quorum yet\n")
			}
			return
		}
		if s.ready() == nil {
			writeText(w, http.StatusServiceUnavailable, "starting: partitions are being loaded\n")
			return
		}
		writeText(w, http.StatusOK, "ready\n"+storageDetail())
	})
	s.apiRoutes(mux)
	mux.Handle("/", staticHandler())
	return mux
}

// storageDetail is what /readyz adds about logs the disk stopped: one
// line each for partitions refusing writes for want of space or files and
// for partitions failed until restart; empty when there are none. The node
// stays ready (200): it still serves reads and every other partition, and
// refused writes resume by themselves.
func storageDetail() string {
	var b strings.Builder
	if n := log.RefusingWrites(); n > 0 {
		fmt.Fprintf(&b, "storage: %d partitions refuse writes: the file system is out of space or files (KAFKA_STORAGE_ERROR until there is room)\n", n)
	}
	if n := log.FailedLogs(); n > 0 {
		fmt.Fprintf(&b, "storage: %d partitions failed on a disk error and refuse writes until restart\n", n)
	}
	return b.String()
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(text))
}
