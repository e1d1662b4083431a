package group

import "time"

// Clock is the coordinator's time source. Session, rebalance and initial
// delay timeouts are all scheduled through it, so the state machine tests
// drive time by hand instead of sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or, for a test clock, from
	// the call that advances time) once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled call that can be cancelled.
type Timer interface {
	// Stop cancels the call; it reports false if the call already ran or
	// was stopped. A call that raced with Stop is ignored by the
	// coordinator, which checks a per-timer token on every fire.
	Stop() bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

func msTime(ms int64) time.Time { return time.UnixMilli(ms) }

func msDuration(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }
