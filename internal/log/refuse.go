package log

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-dev/sluice/internal/kafkaerr"
)

// ErrWriteRefused is returned by an append the file system refused for
// want of a resource (ENOSPC, EDQUOT, EMFILE, ENFILE) before any byte of
// it was accepted: the partial write was cut back, so the log is intact
// and stays writable, and the next append tries again. Clients get
// KAFKA_STORAGE_ERROR, which they retry after a back-off, so writes
// resume by themselves once space or files are freed.
//
// It differs from a failed log (failLocked): a failed fsync may have
// dropped dirty pages, so nothing after the last good fsync can be
// trusted until recovery reads the files again; a refused write() never
// got that far.
var ErrWriteRefused = kafkaerr.New("the file system refused the write", kerr.KafkaStorageError)

// Counts of logs in this process, for /metrics and /readyz.
var (
	refusingLogs atomic.Int64 // logs whose last append was refused
	failedLogs   atomic.Int64 // logs failed until restart
)

// RefusingWrites is the number of open logs whose last append the file
// system refused (out of space or files); it drops as their appends
// succeed again.
func RefusingWrites() int64 { return refusingLogs.Load() }

// FailedLogs is the number of open logs that failed on a disk error and
// refuse appends until the broker restarts.
func FailedLogs() int64 { return failedLogs.Load() }

// isResourceLimit reports whether err is the system running out of
// something that may come back (space, quota, file descriptors), as
// opposed to a failing disk (EIO) whose state is unknown.
func isResourceLimit(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// refusal wraps err, a resource limit hit by op on path, as ErrWriteRefused.
func refusal(op, path string, err error) error {
	return fmt.Errorf("%w: %s %s: %w", ErrWriteRefused, op, path, err)
}

// refuseLocked records that an append was refused and returns err. The
// first refusal of a run logs one ERROR line naming the file and the
// limit; later ones stay quiet until an append succeeds. REQUIRES: l.mu.
func (l *Log) refuseLocked(err error) error {
	if !l.refusing {
		l.refusing = true
		refusingLogs.Add(1)
		l.logger.Error("the file system refused a write; appends fail with KAFKA_STORAGE_ERROR until it has room",
			"dir", l.dir, "err", err)
	}
	return err
}

// acceptedLocked ends a run of refusals after a successful append.
// REQUIRES: l.mu.
func (l *Log) acceptedLocked() {
	if l.refusing {
		l.refusing = false
		refusingLogs.Add(-1)
		l.logger.Info("the file system accepts writes again", "dir", l.dir)
	}
}

// forgetCountsLocked takes a closing log out of the process's counts.
// REQUIRES: l.mu.
func (l *Log) forgetCountsLocked() {
	if l.refusing {
		l.refusing = false
		refusingLogs.Add(-1)
	}
	if l.failed != nil {
		failedLogs.Add(-1)
	}
}
