package quorum

import (
	"context"
	"fmt"
	"log/slog"
)

// raftLogger sends etcd raft's log lines to slog. raft's Info lines narrate
// every vote and term change; they go to Debug, since the core logs leader
// changes itself. raft calls Fatal and Panic only for broken invariants of
// its own; both panic, because exiting the process from inside a library
// hides the stack.
type raftLogger struct {
	logger *slog.Logger
}

func (l raftLogger) Debug(v ...any) { l.debug(func() string { return fmt.Sprint(v...) }) }
func (l raftLogger) Debugf(format string, v ...any) {
	l.debug(func() string { return fmt.Sprintf(format, v...) })
}
func (l raftLogger) Info(v ...any) { l.debug(func() string { return fmt.Sprint(v...) }) }
func (l raftLogger) Infof(format string, v ...any) {
	l.debug(func() string { return fmt.Sprintf(format, v...) })
}
func (l raftLogger) Warning(v ...any) { l.logger.Warn(fmt.Sprint(v...)) }
func (l raftLogger) Warningf(format string, v ...any) {
	l.logger.Warn(fmt.Sprintf(format, v...))
}
func (l raftLogger) Error(v ...any)                 { l.logger.Error(fmt.Sprint(v...)) }
func (l raftLogger) Errorf(format string, v ...any) { l.logger.Error(fmt.Sprintf(format, v...)) }
func (l raftLogger) Fatal(v ...any)                 { l.fail(fmt.Sprint(v...)) }
func (l raftLogger) Fatalf(format string, v ...any) { l.fail(fmt.Sprintf(format, v...)) }
func (l raftLogger) Panic(v ...any)                 { l.fail(fmt.Sprint(v...)) }
func (l raftLogger) Panicf(format string, v ...any) { l.fail(fmt.Sprintf(format, v...)) }

// debug formats only when debug logging is on: raft logs on hot paths.
func (l raftLogger) debug(msg func() string) {
	if l.logger.Enabled(context.Background(), slog.LevelDebug) {
		l.logger.Debug(msg())
	}
}

func (l raftLogger) fail(msg string) {
	l.logger.Error(msg)
	panic("raft: " + msg)
}
