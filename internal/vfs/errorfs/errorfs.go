// Package errorfs wraps a vfs.FS and makes chosen operations fail, so tests
// can show what the code above does when a disk fails at a precise point:
// the third fsync of a segment, every rename in a directory, a write that
// stops halfway.
//
// It owns the rules and their matching; it never changes what the wrapped
// FS stores except as a rule says (a short write writes its prefix), so a
// test can reopen the same directory with vfs.Default afterwards and see
// what a restart would see.
//
// A rule matches an operation kind and a path pattern; it lets the first
// Nth-1 matching calls through and fails the Nth, then every later one, or
// only Times of them:
//
//	fs := errorfs.Wrap(vfs.Default)
//	fsync := fs.Inject(errorfs.Rule{Op: errorfs.OpSync, Path: "*.log", Nth: 3})
//	... // the third fsync of a .log file and every one after it fail
//	fsync.Fired() // how many calls failed
//
// Files it opens return nil from OSFile, so a reader that would use
// sendfile(2) copies through ReadAt instead, where rules see it.
package errorfs

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"path/filepath"
	"strings"
)

// ErrInjected is the error a rule returns unless it names its own.
var ErrInjected = errors.New("errorfs: injected error")

// Op is a kind of file-system operation a rule can fail.
type Op int

// The operations; File operations are those on an open file.
const (
	OpCreate   Op = iota // OpenFile with os.O_CREATE
	OpOpen               // Open, or OpenFile without os.O_CREATE
	OpRename             // matched by the old path
	OpRemove             //
	OpMkdir              // MkdirAll
	OpList               // ReadDir
	OpStat               // FS.Stat
	OpSyncDir            // SyncDir, matched by the directory
	OpRead               // File.Read and File.ReadAt
	OpWrite              // File.Write and File.WriteAt
	OpSync               // File.Sync
	OpTruncate           // File.Truncate
	OpClose              // File.Close: the file is closed all the same
	OpFileStat           // File.Stat
	opCount
)

var opNames = [opCount]string{
	"create", "open", "rename", "remove", "mkdir", "list", "stat", "syncdir",
	"read", "write", "sync", "truncate", "close", "filestat",
}

func (op Op) String() string {
	if op < 0 || op >= opCount {
		return fmt.Sprintf("Op(%d)", int(op))
	}
	return opNames[op]
}

// Rule says which operations fail and how.
type Rule struct {
	Op Op
	// Path is a filepath.Match pattern. Without a separator it matches the
	// base name ("*.log"), with one the whole path; empty matches all.
	Path string
	// Nth is the first matching call that fails, counting from 1; 0 is 1.
	Nth int
	// Times is how many calls fail from the Nth on; 0 is every one.
	Times int
	// Err is returned (wrapped in *fs.PathError); nil is ErrInjected.
	Err error
	// WriteBytes, for OpWrite, is how much of the buffer is written before
	// the error: a short write, as a full disk gives. 0 writes nothing; it
	// is capped at one byte short of the buffer.
	WriteBytes int
}

// Injection is a rule in force. Its methods are safe to call while the FS
// is in use.
type Injection struct {
	fs    *FS
	rule  Rule
	seen  int // matching calls so far; guarded by fs.mu
	fired int // calls failed so far; guarded by fs.mu
}

// Fired returns how many calls the rule has failed.
func (in *Injection) Fired() int {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	return in.fired
}

// Remove takes the rule out of force.
func (in *Injection) Remove() {
	in.fs.mu.Lock()
	defer in.fs.mu.Unlock()
	for i, r := range in.fs.rules {
		if r == in {
			in.fs.rules = append(in.fs.rules[:i:i], in.fs.rules[i+1:]...)
			return
		}
	}
}

// matches reports whether the rule applies to op on path.
func (r *Rule) matches(op Op, path string) bool {
	if r.Op != op {
		return false
	}
	if r.Path == "" {
		return true
	}
	name := path
	if !strings.ContainsRune(r.Path, filepath.Separator) {
		name = filepath.Base(path)
	}
	ok, err := filepath.Match(r.Path, name)
	if err != nil {
		panic(fmt.Sprintf("errorfs: bad path pattern %q: %v", r.Path, err))
	}
	return ok
}

// decideLocked counts a call against the rule and reports whether it fails.
// REQUIRES: fs.mu.
func (in *Injection) decideLocked() bool {
	in.seen++
	nth := max(in.rule.Nth, 1)
	if in.seen < nth || in.rule.Times > 0 && in.fired >= in.rule.Times {
		return false
	}
	in.fired++
	return true
}

// failure is what check returns for a failing call.
type failure struct {
	err        error
	writeBytes int
}

// Inject puts a rule in force. Rules are checked in the order injected;
// the first that fails a call decides it, and later rules do not count it.
func (e *FS) Inject(r Rule) *Injection {
	if r.Path != "" {
		if _, err := filepath.Match(r.Path, ""); err != nil {
			panic(fmt.Sprintf("errorfs: bad path pattern %q: %v", r.Path, err))
		}
	}
	in := &Injection{fs: e, rule: r}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = append(e.rules, in)
	return in
}

// Reset takes every rule out of force.
func (e *FS) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rules = nil
}

// check returns the failure for op on path, or nil to let it through.
func (e *FS) check(op Op, path string) *failure {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, in := range e.rules {
		if !in.rule.matches(op, path) {
			continue
		}
		if in.decideLocked() {
			err := in.rule.Err
			if err == nil {
				err = ErrInjected
			}
			return &failure{err: &iofs.PathError{Op: op.String(), Path: path, Err: err}, writeBytes: in.rule.WriteBytes}
		}
	}
	return nil
}
