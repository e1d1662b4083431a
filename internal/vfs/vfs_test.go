package vfs

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDefault: the OS FS exposes the *os.File sendfile needs, and
// WriteFileSync and ReadFile round-trip through it.
func TestDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := WriteFileSync(Default, path, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	b, err := ReadFile(Default, path)
	if err != nil || string(b) != "abc" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	f, err := Default.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.OSFile() == nil || f.OSFile().Name() != path {
		t.Fatalf("OSFile() = %v, want the open file", f.OSFile())
	}
	if b, err := ReadAll(f); err != nil || string(b) != "abc" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
}
