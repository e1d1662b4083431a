package testutil

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyNoLeaks runs a package's tests and then fails if any goroutine they
// started is still running. Call it from TestMain in every package whose
// code starts goroutines.
func VerifyNoLeaks(m *testing.M) {
	goleak.VerifyTestMain(m)
}
