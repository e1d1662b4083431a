// Package fsutil holds the few file-system idioms every durable file in the
// broker needs, on the operating system's file system. The log, whose file
// system tests replace, uses the same idioms through internal/vfs.
package fsutil

import "github.com/sluice-dev/sluice/internal/vfs"

// WriteFileSync replaces path atomically and durably: a temporary file is
// written and fsynced, renamed over path, and the directory fsynced, so a
// crash leaves either the old or the new content, never a mix.
func WriteFileSync(path string, data []byte) error {
	return vfs.WriteFileSync(vfs.Default, path, data)
}

// SyncDir fsyncs a directory so that entries created, renamed or removed
// in it survive a power loss.
func SyncDir(dir string) error { return vfs.Default.SyncDir(dir) }
