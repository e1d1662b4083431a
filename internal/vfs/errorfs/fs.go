package errorfs

import (
	"os"
	"sync"

	"github.com/sluice-dev/sluice/internal/vfs"
)

// FS is a vfs.FS that fails the operations its rules name and passes the
// rest to the FS it wraps.
type FS struct {
	inner vfs.FS

	mu    sync.Mutex // guards rules and every Injection's counters
	rules []*Injection
}

var _ vfs.FS = (*FS)(nil)

// Wrap returns an FS over inner with no rule in force.
func Wrap(inner vfs.FS) *FS { return &FS{inner: inner} }

// fail returns the injected error for op on path, or nil.
func (e *FS) fail(op Op, path string) error {
	if f := e.check(op, path); f != nil {
		return f.err
	}
	return nil
}

// OpenFile is vfs.FS.OpenFile; it counts as OpCreate when flag creates.
func (e *FS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	op := OpOpen
	if flag&os.O_CREATE != 0 {
		op = OpCreate
	}
	if err := e.fail(op, name); err != nil {
		return nil, err
	}
	f, err := e.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &file{fs: e, inner: f}, nil
}

// Open is vfs.FS.Open.
func (e *FS) Open(name string) (vfs.File, error) {
	if err := e.fail(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := e.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &file{fs: e, inner: f}, nil
}

// Rename is vfs.FS.Rename, matched by oldpath.
func (e *FS) Rename(oldpath, newpath string) error {
	if err := e.fail(OpRename, oldpath); err != nil {
		return err
	}
	return e.inner.Rename(oldpath, newpath)
}

// Remove is vfs.FS.Remove.
func (e *FS) Remove(name string) error {
	if err := e.fail(OpRemove, name); err != nil {
		return err
	}
	return e.inner.Remove(name)
}

// MkdirAll is vfs.FS.MkdirAll.
func (e *FS) MkdirAll(dir string, perm os.FileMode) error {
	if err := e.fail(OpMkdir, dir); err != nil {
		return err
	}
	return e.inner.MkdirAll(dir, perm)
}

// ReadDir is vfs.FS.ReadDir.
func (e *FS) ReadDir(dir string) ([]os.DirEntry, error) {
	if err := e.fail(OpList, dir); err != nil {
		return nil, err
	}
	return e.inner.ReadDir(dir)
}

// Stat is vfs.FS.Stat.
func (e *FS) Stat(name string) (os.FileInfo, error) {
	if err := e.fail(OpStat, name); err != nil {
		return nil, err
	}
	return e.inner.Stat(name)
}

// SyncDir is vfs.FS.SyncDir.
func (e *FS) SyncDir(dir string) error {
	if err := e.fail(OpSyncDir, dir); err != nil {
		return err
	}
	return e.inner.SyncDir(dir)
}

// file is a vfs.File whose operations the FS's rules may fail.
type file struct {
	fs    *FS
	inner vfs.File
}

func (f *file) Read(p []byte) (int, error) {
	if err := f.fs.fail(OpRead, f.inner.Name()); err != nil {
		return 0, err
	}
	return f.inner.Read(p)
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.fail(OpRead, f.inner.Name()); err != nil {
		return 0, err
	}
	return f.inner.ReadAt(p, off)
}

// Write fails, after writing a prefix if the rule says so.
func (f *file) Write(p []byte) (int, error) {
	if fl := f.fs.check(OpWrite, f.inner.Name()); fl != nil {
		n, err := f.inner.Write(p[:shortLen(fl, p)])
		if err != nil {
			return n, err
		}
		return n, fl.err
	}
	return f.inner.Write(p)
}

// WriteAt fails, after writing a prefix if the rule says so.
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if fl := f.fs.check(OpWrite, f.inner.Name()); fl != nil {
		n, err := f.inner.WriteAt(p[:shortLen(fl, p)], off)
		if err != nil {
			return n, err
		}
		return n, fl.err
	}
	return f.inner.WriteAt(p, off)
}

// shortLen is how much of p a failing write writes: never all of it, so
// the caller always sees a short write.
func shortLen(fl *failure, p []byte) int {
	return max(0, min(fl.writeBytes, len(p)-1))
}

func (f *file) Sync() error {
	if err := f.fs.fail(OpSync, f.inner.Name()); err != nil {
		return err
	}
	return f.inner.Sync()
}

func (f *file) Truncate(size int64) error {
	if err := f.fs.fail(OpTruncate, f.inner.Name()); err != nil {
		return err
	}
	return f.inner.Truncate(size)
}

// Close closes the file even when a rule fails it, as close(2) does: the
// descriptor is gone whatever it returns.
func (f *file) Close() error {
	injected := f.fs.fail(OpClose, f.inner.Name())
	err := f.inner.Close()
	if injected != nil {
		return injected
	}
	return err
}

func (f *file) Stat() (os.FileInfo, error) {
	if err := f.fs.fail(OpFileStat, f.inner.Name()); err != nil {
		return nil, err
	}
	return f.inner.Stat()
}

func (f *file) Name() string { return f.inner.Name() }

// OSFile is nil: every read must pass through the rules.
func (f *file) OSFile() *os.File { return nil }
