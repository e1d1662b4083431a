// Package vfs is the file-system seam of the broker's durable files: the
// partition log (internal/log) does all its file I/O through FS, so tests
// can put an error-injecting FS (vfs/errorfs) in front of the disk and show
// what the log does when fsync, write or rename fail.
//
// It owns the interfaces, the OS implementation (Default) and the few
// idioms built on them (WriteFileSync, SyncDir, ReadFile). It knows nothing
// of segments or offsets, and must not: callers name their own files.
//
// The interfaces are as small as the log needs, and shaped like package os
// so the OS implementation is a thin shim: an FS method costs one interface
// call on top of the system call, which the log's benchmarks do not see.
//
// Zero-copy reads: Fetch sends segment bytes with sendfile(2), which needs
// a file descriptor. File.OSFile returns the *os.File beneath when there is
// one (the OS FS) and nil otherwise (an injecting FS, whose reads must pass
// through it); callers fall back to copying through ReadAt on nil.
package vfs

import (
	"io"
	"os"
)

// FS is the file system the log works on. Paths are OS paths; errors are
// those package os returns (wrapped in *fs.PathError or *os.LinkError), so
// errors.Is(err, fs.ErrNotExist) works the same on every implementation.
type FS interface {
	// OpenFile is os.OpenFile: flag decides create (os.O_CREATE, with
	// os.O_EXCL for a file that must be new), truncate and access mode.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Open opens name read-only, as os.Open.
	Open(name string) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	MkdirAll(dir string, perm os.FileMode) error
	// ReadDir lists dir sorted by file name, as os.ReadDir.
	ReadDir(dir string) ([]os.DirEntry, error)
	Stat(name string) (os.FileInfo, error)
	// SyncDir fsyncs a directory so that entries created, renamed or
	// removed in it survive a power loss.
	SyncDir(dir string) error
}

// File is an open file. ReadAt and WriteAt may be called concurrently at
// different positions, as on *os.File; Read and Write use the file's own
// offset and are for files one goroutine owns.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	// Name is the path the file was opened with.
	Name() string
	// OSFile returns the *os.File beneath, for sendfile(2), or nil when
	// the implementation must see every read.
	OSFile() *os.File
}

// Default is the operating system's file system.
var Default FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Rename(oldpath, newpath string) error        { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                    { return os.Remove(name) }
func (osFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }
func (osFS) ReadDir(dir string) ([]os.DirEntry, error)   { return os.ReadDir(dir) }
func (osFS) Stat(name string) (os.FileInfo, error)       { return os.Stat(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// osFile is an *os.File; embedding keeps every call direct.
type osFile struct{ *os.File }

func (f osFile) OSFile() *os.File { return f.File }
