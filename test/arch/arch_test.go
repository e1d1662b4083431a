// Package arch checks the dependency rules the package docs state, so a
// change that smears a concern back across packages fails a test instead
// of waiting for a review to notice.
package arch

import (
	"bufio"
	"go/build"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/sluice-dev/sluice/"

// root is the repository root, found from this file's place in it.
func root(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// imports lists the packages that dir's non-test files import.
func imports(t *testing.T, dir string) []string {
	t.Helper()
	p, err := build.ImportDir(filepath.Join(root(t), dir), 0)
	if err != nil {
		t.Fatalf("read package %s: %v", dir, err)
	}
	return p.Imports
}

// TestForbiddenImports: handler is protocol translation only (no files,
// no log, no quorum), console reaches the broker through the admin API,
// and the pure metadata core has no transport.
func TestForbiddenImports(t *testing.T) {
	rules := []struct {
		dir       string
		forbidden []string
	}{
		{"internal/handler", []string{"os", "syscall", module + "internal/log", module + "internal/quorum"}},
		{"internal/console", []string{module + "internal/handler"}},
		{"internal/server", []string{module + "internal/replica", module + "internal/metadata"}},
		{"internal/metadata", []string{"net/http", "net", module + "internal/quorum"}},
		{"internal/record", []string{"os", module + "internal/log"}},
	}
	for _, r := range rules {
		got := imports(t, r.dir)
		for _, f := range r.forbidden {
			if slices.Contains(got, f) {
				t.Errorf("%s imports %s", r.dir, f)
			}
		}
	}
}

// TestCRCTableOnlyInRecord: every RecordBatch is built and checked by
// record; quorum's own WAL frames are the one other CRC-32C user.
func TestCRCTableOnlyInRecord(t *testing.T) {
	allowed := []string{"internal/record", "internal/quorum"}
	base := root(t)
	filepath.WalkDir(filepath.Join(base, "internal"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(base, filepath.Dir(path))
		if slices.Contains(allowed, filepath.ToSlash(rel)) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "crc32.Castagnoli") {
			t.Errorf("%s builds a CRC-32C table; batches are checksummed by internal/record", path)
		}
		return nil
	})
}

// cmdLinesMax bounds cmd/sluice: main and serve wiring, no command logic.
const cmdLinesMax = 600

// TestCmdIsThin: the commands live in internal packages with tests.
func TestCmdIsThin(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root(t), "cmd", "sluice", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			lines++
		}
		fh.Close()
	}
	if lines > cmdLinesMax {
		t.Errorf("cmd/sluice has %d lines; keep it to main and serve wiring (at most %d)", lines, cmdLinesMax)
	}
}

// TestTestHelpersStayInTests: the shared test helpers are imported only by
// tests, so nothing a test assembles leaks into the binary.
func TestTestHelpersStayInTests(t *testing.T) {
	base := root(t)
	for _, top := range []string{"internal", "cmd"} {
		filepath.WalkDir(filepath.Join(base, top), func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(base, path)
			rel = filepath.ToSlash(rel)
			if strings.HasPrefix(rel, "internal/testutil") {
				return filepath.SkipDir
			}
			p, err := build.ImportDir(path, 0)
			if err != nil {
				return nil // a folder without Go files
			}
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, module+"internal/testutil") {
					t.Errorf("%s imports %s outside its tests", rel, imp)
				}
			}
			return nil
		})
	}
}
