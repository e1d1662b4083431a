package testutil

import (
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	start := time.Now()
	n := 0
	if !WaitFor(time.Second, func() bool { n++; return n == 3 }) {
		t.Fatal("WaitFor gave up on a condition that holds on the third poll")
	}
	if WaitFor(30*time.Millisecond, func() bool { return false }) {
		t.Fatal("WaitFor reported a condition that never holds")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("WaitFor took far longer than its timeouts")
	}
}
