package vfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// WriteFileSync replaces path atomically and durably: a temporary file is
// written and fsynced, renamed over path, and the directory fsynced, so a
// crash leaves either the old or the new content, never a mix.
func WriteFileSync(fs FS, path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fs.Rename(tmp, path); err != nil {
		return err
	}
	return fs.SyncDir(filepath.Dir(path))
}

// ReadFile reads a whole file, as os.ReadFile.
func ReadFile(fs FS, name string) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// ReadAll reads a whole open file from position 0 without moving its
// offset: ReadAt up to the size Stat gives.
func ReadAll(f File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, st.Size())
	n, err := f.ReadAt(b, 0)
	if errors.Is(err, io.EOF) && n == len(b) {
		err = nil
	}
	return b[:n], err
}
