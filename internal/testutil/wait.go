package testutil

import (
	"testing"
	"time"
)

// pollInterval is how often Eventually re-checks its condition: short
// enough that tests do not idle, long enough not to spin a core.
const pollInterval = 10 * time.Millisecond

// Eventually polls cond until it holds, failing the test with what when
// timeout passes first. Use it instead of a fixed sleep wherever a test
// waits for something to happen.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !WaitFor(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// WaitFor polls cond until it holds or timeout passes, and reports which.
// It is for the cases where a timeout is not a failure, and for helpers
// outside a test goroutine (t.Fatal must not be called there).
func WaitFor(timeout time.Duration, cond func() bool) bool {
	return WaitForEvery(timeout, pollInterval, cond)
}

// WaitForEvery is WaitFor re-checking every interval instead of
// pollInterval: for conditions that cost round trips to other processes,
// which a tight poll would load. cond is always checked at least once.
func WaitForEvery(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}
