package log

import (
	"container/list"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/sluice-dev/sluice/internal/vfs"
)

// DefaultOpenFilesMax is the default of log.open.files.max: how many
// segment files the broker keeps open at once, well below common open-file
// limits (ulimit -n of 65,536 or more on servers) so connections and
// everything else keep their share.
const DefaultOpenFilesMax = 4096

// FileCache bounds the segment files a broker keeps open. Every segment
// file is a cachedFile: opened on first use, kept open while somebody uses
// it, and closed, least recently used first, when more than the limit are
// open and nobody uses it. The active segment's files are in use for as
// long as the segment is active (pinned), and so is a file a read is
// going through or a Section holds; those are never closed by the cache,
// so the number of open files may pass the limit by what is in use.
//
// One FileCache is shared by every log of a broker (OpenOptions.Files).
type FileCache struct {
	mu sync.Mutex // guards the fields below and every cachedFile's state
	// filesMax is the limit of open files; below 1 it is taken as 1.
	filesMax int
	// idle lists the open files nobody uses, most recently used first.
	idle list.List
	open int // files open, in use or idle

	hits, misses, evictions atomic.Int64
}

// NewFileCache returns a cache keeping at most filesMax files open that
// nobody uses (DefaultOpenFilesMax when filesMax < 1).
func NewFileCache(filesMax int) *FileCache {
	if filesMax < 1 {
		filesMax = DefaultOpenFilesMax
	}
	return &FileCache{filesMax: filesMax}
}

// defaultFileCache serves the logs opened without OpenOptions.Files.
var defaultFileCache = NewFileCache(DefaultOpenFilesMax)

// FileCacheStats is a snapshot of a FileCache's counters, for /metrics.
type FileCacheStats struct {
	OpenFiles int   // files open now, in use or idle
	FilesMax  int   // the configured limit
	Hits      int64 // uses that found the file open
	Misses    int64 // uses that opened the file
	Evictions int64 // idle files closed to stay within the limit
}

// Stats returns the cache's counters.
func (c *FileCache) Stats() FileCacheStats {
	c.mu.Lock()
	open := c.open
	c.mu.Unlock()
	return FileCacheStats{OpenFiles: open, FilesMax: c.filesMax,
		Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load()}
}

// cachedFile is a segment file opened on demand through a FileCache. It is
// a vfs.File: each call opens the file if needed and holds it for the
// call's duration. Name is the path the segment knows it by; once the
// file is renamed (to .deleted) movedTo tells it where to reopen.
type cachedFile struct {
	cache *FileCache
	fs    vfs.FS
	name  string
	flag  int // reopen flags: os.O_RDWR, never create

	// The fields below are guarded by cache.mu.
	path   string   // where the file is now
	f      vfs.File // nil while closed
	users  int      // calls in progress, Sections and the active pin
	idle   *list.Element
	closed bool // Close was called: close f once users is 0
}

// newCachedFile returns a cachedFile for name, open if f is not nil (a
// file just created is kept open: it is about to be written).
func (c *FileCache) newCachedFile(fs vfs.FS, name string, f vfs.File) *cachedFile {
	cf := &cachedFile{cache: c, fs: fs, name: name, path: name, flag: os.O_RDWR, f: f}
	if f != nil {
		c.mu.Lock()
		c.open++
		cf.idle = c.idle.PushFront(cf)
		c.evictLocked()
		c.mu.Unlock()
	}
	return cf
}

// acquire opens the file if needed and returns it, held until release.
func (cf *cachedFile) acquire() (vfs.File, error) {
	c := cf.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf.closed {
		return nil, fmt.Errorf("%w: %s is closed", os.ErrClosed, cf.name)
	}
	if cf.f == nil {
		c.misses.Add(1)
		// Opened under the cache's lock, so the count never passes the
		// limit by racing opens; an open is a few microseconds.
		f, err := cf.fs.OpenFile(cf.path, cf.flag, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", cf.path, err)
		}
		cf.f = f
		c.open++
	} else {
		c.hits.Add(1)
	}
	if cf.idle != nil {
		c.idle.Remove(cf.idle)
		cf.idle = nil
	}
	cf.users++
	c.evictLocked()
	return cf.f, nil
}

// release ends a use that acquire began.
func (cf *cachedFile) release() {
	c := cf.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	cf.users--
	if cf.users < 0 {
		panic(fmt.Sprintf("log: file %s released more often than acquired", cf.name))
	}
	if cf.users > 0 {
		return
	}
	if cf.closed {
		cf.closeLocked()
		return
	}
	cf.idle = c.idle.PushFront(cf)
	c.evictLocked()
}

// evictLocked closes idle files, least recently used first, while more
// than the limit are open. REQUIRES: c.mu.
func (c *FileCache) evictLocked() {
	for c.open > c.filesMax {
		back := c.idle.Back()
		if back == nil {
			return // everything open is in use
		}
		cf := back.Value.(*cachedFile)
		c.evictions.Add(1)
		cf.closeLocked()
	}
}

// closeLocked closes the open file of a cachedFile nobody uses. Its error
// is dropped: the file was synced (an inactive segment), or only read.
// REQUIRES: cache.mu, users == 0.
func (cf *cachedFile) closeLocked() error {
	if cf.idle != nil {
		cf.cache.idle.Remove(cf.idle)
		cf.idle = nil
	}
	if cf.f == nil {
		return nil
	}
	err := cf.f.Close()
	cf.f = nil
	cf.cache.open--
	return err
}

// movedTo records that the file was renamed to path, where a later open
// finds it (a read of a deleted segment within its delete delay).
func (cf *cachedFile) movedTo(path string) {
	cf.cache.mu.Lock()
	cf.path = path
	cf.cache.mu.Unlock()
}

// Close closes the file now, or when its last user releases it.
func (cf *cachedFile) Close() error {
	c := cf.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf.closed {
		return nil
	}
	cf.closed = true
	if cf.users > 0 {
		return nil
	}
	return cf.closeLocked()
}

// with runs fn on the open file, held for the call.
func (cf *cachedFile) with(fn func(f vfs.File) error) error {
	f, err := cf.acquire()
	if err != nil {
		return err
	}
	defer cf.release()
	return fn(f)
}

// ReadAt implements vfs.File.
func (cf *cachedFile) ReadAt(p []byte, off int64) (n int, err error) {
	err = cf.with(func(f vfs.File) error { n, err = f.ReadAt(p, off); return err })
	return n, err
}

// WriteAt implements vfs.File.
func (cf *cachedFile) WriteAt(p []byte, off int64) (n int, err error) {
	err = cf.with(func(f vfs.File) error { n, err = f.WriteAt(p, off); return err })
	return n, err
}

// Read implements vfs.File; segment files are read at explicit positions
// only, so the file's own offset is not kept across reopens.
func (cf *cachedFile) Read(p []byte) (n int, err error) {
	err = cf.with(func(f vfs.File) error { n, err = f.Read(p); return err })
	return n, err
}

// Write implements vfs.File; see Read.
func (cf *cachedFile) Write(p []byte) (n int, err error) {
	err = cf.with(func(f vfs.File) error { n, err = f.Write(p); return err })
	return n, err
}

// Sync implements vfs.File.
func (cf *cachedFile) Sync() error { return cf.with(func(f vfs.File) error { return f.Sync() }) }

// Truncate implements vfs.File.
func (cf *cachedFile) Truncate(size int64) error {
	return cf.with(func(f vfs.File) error { return f.Truncate(size) })
}

// Stat implements vfs.File, without opening the file when it is closed.
func (cf *cachedFile) Stat() (os.FileInfo, error) {
	cf.cache.mu.Lock()
	path, open := cf.path, cf.f != nil
	cf.cache.mu.Unlock()
	if !open {
		return cf.fs.Stat(path)
	}
	var st os.FileInfo
	err := cf.with(func(f vfs.File) (err error) { st, err = f.Stat(); return err })
	return st, err
}

// Name implements vfs.File: the path the segment was opened with.
func (cf *cachedFile) Name() string { return cf.name }

// OSFile implements vfs.File. The *os.File is valid only while held: a
// Section holds it (pinned) and returns it from its own handle instead.
func (cf *cachedFile) OSFile() *os.File {
	cf.cache.mu.Lock()
	defer cf.cache.mu.Unlock()
	if cf.f == nil {
		return nil
	}
	return cf.f.OSFile()
}

// movedTo tells f, if it is a cachedFile, that it was renamed to path.
func noteMoved(f vfs.File, path string) {
	if cf, ok := f.(*cachedFile); ok {
		cf.movedTo(path)
	}
}
