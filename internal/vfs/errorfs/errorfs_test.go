package errorfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/internal/vfs"
)

func create(t *testing.T, e *FS, path string) vfs.File {
	t.Helper()
	f, err := e.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestNth: a rule lets Nth-1 matching calls through, then fails the Nth
// and, with Times 0, every later one; Times bounds the failures.
func TestNth(t *testing.T) {
	for _, c := range []struct {
		name       string
		nth, times int
		want       []bool // fails, per call
	}{
		{"first and on", 0, 0, []bool{true, true, true}},
		{"third and on", 3, 0, []bool{false, false, true, true, true}},
		{"second once", 2, 1, []bool{false, true, false, false}},
		{"twice from the first", 1, 2, []bool{true, true, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := Wrap(vfs.Default)
			f := create(t, e, filepath.Join(t.TempDir(), "a.log"))
			in := e.Inject(Rule{Op: OpSync, Nth: c.nth, Times: c.times})
			fired := 0
			for i, want := range c.want {
				err := f.Sync()
				if got := err != nil; got != want {
					t.Fatalf("call %d: err %v, want failure %v", i+1, err, want)
				}
				if err != nil {
					fired++
					if !errors.Is(err, ErrInjected) {
						t.Fatalf("call %d: %v is not ErrInjected", i+1, err)
					}
				}
			}
			if in.Fired() != fired {
				t.Fatalf("Fired() = %d, want %d", in.Fired(), fired)
			}
		})
	}
}

// TestMatch: a rule fails only its operation, on paths its pattern
// matches: a pattern without a separator matches base names.
func TestMatch(t *testing.T) {
	dir := t.TempDir()
	e := Wrap(vfs.Default)
	e.Inject(Rule{Op: OpSync, Path: "*.log"})
	e.Inject(Rule{Op: OpRename, Path: filepath.Join(dir, "sub", "*")})
	log, index := create(t, e, filepath.Join(dir, "0.log")), create(t, e, filepath.Join(dir, "0.index"))
	if err := log.Sync(); !errors.Is(err, ErrInjected) {
		t.Fatalf("sync .log: %v, want injected", err)
	}
	var pe *fs.PathError
	if err := log.Sync(); !errors.As(err, &pe) || pe.Op != "sync" || pe.Path != log.Name() {
		t.Fatalf("sync .log: %v, want a PathError naming the op and file", err)
	}
	if err := index.Sync(); err != nil {
		t.Fatalf("sync .index: %v", err)
	}
	if _, err := log.Write([]byte("x")); err != nil {
		t.Fatalf("write .log: %v", err)
	}
	if err := e.Rename(log.Name(), log.Name()+".x"); err != nil {
		t.Fatalf("rename outside sub: %v", err)
	}
	if err := e.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	inSub := filepath.Join(dir, "sub", "f")
	create(t, e, inSub)
	if err := e.Rename(inSub, inSub+"2"); !errors.Is(err, ErrInjected) {
		t.Fatalf("rename in sub: %v, want injected", err)
	}
	if _, err := os.Stat(inSub); err != nil {
		t.Fatalf("a failed rename moved the file: %v", err)
	}
}

// TestShortWrite: a failing write with WriteBytes writes that prefix, and
// never the whole buffer.
func TestShortWrite(t *testing.T) {
	for _, c := range []struct{ writeBytes, want int }{{0, 0}, {3, 3}, {100, 9}} {
		e := Wrap(vfs.Default)
		path := filepath.Join(t.TempDir(), "f")
		f := create(t, e, path)
		in := e.Inject(Rule{Op: OpWrite, WriteBytes: c.writeBytes, Err: os.ErrDeadlineExceeded})
		n, err := f.WriteAt([]byte("0123456789"), 0)
		if n != c.want || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("WriteBytes %d: wrote %d (%v), want %d and the rule's error", c.writeBytes, n, err, c.want)
		}
		in.Remove()
		if b, _ := os.ReadFile(path); len(b) != c.want {
			t.Fatalf("WriteBytes %d: file holds %d bytes, want %d", c.writeBytes, len(b), c.want)
		}
		if _, err := f.Write([]byte("ab")); err != nil {
			t.Fatalf("write after Remove: %v", err)
		}
	}
}

// TestOps: every FS and File operation can be failed, and passes through
// untouched when no rule matches.
func TestOps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	calls := map[Op]func(e *FS) error{
		OpCreate:  func(e *FS) error { return errOnly(e.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)) },
		OpOpen:    func(e *FS) error { return errOnly(e.Open(path)) },
		OpRemove:  func(e *FS) error { return e.Remove(filepath.Join(dir, "absent")) },
		OpMkdir:   func(e *FS) error { return e.MkdirAll(filepath.Join(dir, "d"), 0o755) },
		OpList:    func(e *FS) error { return errOnly(e.ReadDir(dir)) },
		OpStat:    func(e *FS) error { return errOnly(e.Stat(path)) },
		OpSyncDir: func(e *FS) error { return e.SyncDir(dir) },
		OpRead: func(e *FS) error {
			return fileOp(e, path, func(f vfs.File) error { return errOnly(f.ReadAt(make([]byte, 1), 0)) })
		},
		OpTruncate: func(e *FS) error { return fileOp(e, path, func(f vfs.File) error { return f.Truncate(1) }) },
		OpFileStat: func(e *FS) error { return fileOp(e, path, func(f vfs.File) error { return errOnly(f.Stat()) }) },
		OpClose:    func(e *FS) error { return fileOp(e, path, func(f vfs.File) error { return f.Close() }) },
	}
	if err := os.WriteFile(path, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	for op, call := range calls {
		e := Wrap(vfs.Default)
		if err := call(e); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%v without a rule: %v", op, err)
		}
		e.Inject(Rule{Op: op})
		if err := call(e); !errors.Is(err, ErrInjected) {
			t.Fatalf("%v with a rule: %v, want injected", op, err)
		}
	}
}

func errOnly[T any](_ T, err error) error { return err }

// fileOp opens path and runs op on it; close errors other than op's are
// ignored.
func fileOp(e *FS, path string, op func(vfs.File) error) error {
	f, err := e.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return op(f)
}

// TestNoOSFile: files of an errorfs hide the *os.File, so sendfile paths
// fall back to reads the rules see.
func TestNoOSFile(t *testing.T) {
	f := create(t, Wrap(vfs.Default), filepath.Join(t.TempDir(), "f"))
	if f.OSFile() != nil {
		t.Fatal("OSFile() is not nil")
	}
}

// TestResetAndRemove: rules out of force fail nothing and count nothing.
func TestResetAndRemove(t *testing.T) {
	e := Wrap(vfs.Default)
	f := create(t, e, filepath.Join(t.TempDir(), "f"))
	a := e.Inject(Rule{Op: OpSync})
	b := e.Inject(Rule{Op: OpSync})
	f.Sync()
	if a.Fired() != 1 || b.Fired() != 0 {
		t.Fatalf("fired %d and %d: the first failing rule decides", a.Fired(), b.Fired())
	}
	a.Remove()
	f.Sync()
	if b.Fired() != 1 {
		t.Fatalf("after Remove, the next rule fired %d", b.Fired())
	}
	e.Reset()
	if err := f.Sync(); err != nil || b.Fired() != 1 {
		t.Fatalf("after Reset: %v, fired %d", err, b.Fired())
	}
}
