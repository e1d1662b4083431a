package testutil

import (
	"context"
	"sync/atomic"
)

// StuckLog is a metadata log (metadata.Log) that accepts every proposal and
// commits none, as a quorum that lost its majority after electing this
// node: tests of what waits for a commit use it to show the wait ends.
type StuckLog struct {
	// LeaderID is the node the log names as leader.
	LeaderID int32
	// Proposals counts what it was asked to commit.
	Proposals atomic.Int32
}

// Propose counts the proposal and drops it.
func (l *StuckLog) Propose(context.Context, []byte) error {
	l.Proposals.Add(1)
	return nil
}

// Leader is LeaderID.
func (l *StuckLog) Leader() int32 { return l.LeaderID }
