// Package e2e runs real sluice processes and real Kafka clients against
// them: franz-go in-process, and kcat and the Python clients as
// subprocesses.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the sluice binary built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/sluice")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Broker is a sluice process under test.
type Broker struct {
	t       testing.TB
	Addr    string
	DataDir string
	Env     []string
	cmd     *exec.Cmd
	mu      sync.Mutex
	output  strings.Builder
	exited  chan struct{} // closed when the process launched last has exited
	ready   chan struct{} // closed when it printed "sluice listening on"

	// Prefix is a command the binary runs under, e.g. ip netns exec NAME
	// (it must exec the binary, so that the process is sluice itself).
	Prefix []string
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartBroker starts sluice on a free port with a temporary data dir,
// configured through the KAFKA_ environment as users do. extraEnv adds
// KAFKA_ settings. The process is stopped when the test ends.
func StartBroker(t testing.TB, extraEnv ...string) *Broker {
	t.Helper()
	b := &Broker{t: t, DataDir: t.TempDir()}
	port := freePort(t)
	b.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	b.Env = append([]string{
		"KAFKA_LISTENERS=PLAINTEXT://" + b.Addr,
		"KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://" + b.Addr,
		"KAFKA_LOG_DIRS=" + b.DataDir,
		// Any free port, so parallel brokers never meet on 9644.
		"KAFKA_HTTP_LISTENERS=127.0.0.1:0",
	}, extraEnv...)
	b.Start()
	t.Cleanup(func() { b.Stop() })
	return b
}

// Start (re)starts the process with the same settings and waits until it
// accepts connections.
func (b *Broker) Start() {
	b.t.Helper()
	b.Launch()
	if err := b.WaitReady(30 * time.Second); err != nil {
		b.t.Fatal(err)
	}
}

// Launch (re)starts the process with the same settings and returns at
// once, so that several processes (the nodes of a cluster, which cannot
// become ready alone) can start together; WaitReady then waits for each.
func (b *Broker) Launch() {
	b.t.Helper()
	exited := make(chan struct{})
	ready := make(chan struct{})
	b.exited, b.ready = exited, ready
	args := append(slices.Clone(b.Prefix), binary, "serve")
	b.cmd = exec.Command(args[0], args[1:]...)
	b.cmd.Env = append(os.Environ(), b.Env...)
	// Writers that are not files make Wait return only after everything
	// the process printed was copied, so the last words of a process that
	// exits at start are always in Output.
	b.cmd.Stdout = &stdoutWriter{b: b, ready: ready}
	b.cmd.Stderr = &lockedWriter{b}
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	go func() {
		b.cmd.Wait()
		close(exited)
	}()
}

// WaitReady waits until the process launched last printed its ready line.
// The error carries what the process printed when it exited first or was
// not ready within d.
func (b *Broker) WaitReady(d time.Duration) error {
	select {
	case <-b.ready: // ready wins over a deadline that has already passed
		return nil
	default:
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-b.ready:
		return nil
	case <-b.exited:
		return fmt.Errorf("sluice exited at start:\n%s", b.Output())
	case <-timer.C:
		return fmt.Errorf("sluice did not start in %v:\n%s", d, b.Output())
	}
}

// Stop sends SIGTERM and waits for a clean exit.
func (b *Broker) Stop() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	select {
	case <-b.exited:
		return
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
		b.cmd.Process.Kill()
		<-b.exited
		b.t.Errorf("sluice did not stop within 30s of SIGTERM:\n%s", b.Output())
	}
}

// Kill sends SIGKILL: a crash.
func (b *Broker) Kill() {
	b.cmd.Process.Kill()
	<-b.exited
}

// ExitCode returns the process's exit code after it stopped.
func (b *Broker) ExitCode() int { return b.cmd.ProcessState.ExitCode() }

func (b *Broker) write(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.output.Len() < 1<<20 {
		b.output.WriteString(s)
	}
}

// Output returns what the process printed so far.
func (b *Broker) Output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.output.String()
}

type lockedWriter struct{ b *Broker }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.b.write(string(p))
	return len(p), nil
}

var _ io.Writer = (*lockedWriter)(nil)

// readyLineBytesMax bounds the unfinished line stdoutWriter keeps while it
// looks for the ready line.
const readyLineBytesMax = 64 << 10

// stdoutWriter records the process's stdout and closes ready at the first
// line starting with "sluice listening on". exec calls Write from one
// goroutine, so line needs no lock.
type stdoutWriter struct {
	b     *Broker
	ready chan struct{}
	line  []byte // the unfinished line; nil once ready is closed
	seen  bool
}

func (w *stdoutWriter) Write(p []byte) (int, error) {
	w.b.write(string(p))
	if w.seen {
		return len(p), nil
	}
	w.line = append(w.line, p...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			break
		}
		if bytes.HasPrefix(w.line[:i], []byte("sluice listening on")) {
			w.seen, w.line = true, nil
			close(w.ready)
			return len(p), nil
		}
		w.line = w.line[i+1:]
	}
	if len(w.line) > readyLineBytesMax {
		w.line = w.line[len(w.line)-readyLineBytesMax:]
	}
	return len(p), nil
}

// testContext is a context bounded by d and the test's end.
func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
