// Package e2e runs real sluice processes and real Kafka clients against
// them: franz-go in-process, and kcat and the Python clients as
// subprocesses.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	exited  chan struct{}
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
	b.cmd = exec.Command(binary, "serve")
	b.cmd.Env = append(os.Environ(), b.Env...)
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	b.cmd.Stderr = &lockedWriter{b}
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.exited = make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			b.write(line + "\n")
			if strings.HasPrefix(line, "sluice listening on") {
				select {
				case ready <- line:
				default:
				}
			}
		}
	}()
	go func() {
		b.cmd.Wait()
		close(b.exited)
	}()
	select {
	case <-ready:
	case <-b.exited:
		b.t.Fatalf("sluice exited at start:\n%s", b.Output())
	case <-time.After(30 * time.Second):
		b.t.Fatalf("sluice did not start in 30s:\n%s", b.Output())
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

// testContext is a context bounded by d and the test's end.
func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
