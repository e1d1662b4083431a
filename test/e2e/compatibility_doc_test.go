package e2e

// docs/compatibility.md names, for each client and tool row, the test that
// shows its result. This keeps the two in step: every test the document
// cites exists here, and every Java tool test is cited, so a renamed or new
// test cannot leave the matrix behind.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docTestName matches a test function name cited in the document.
var docTestName = regexp.MustCompile(`\bTest[A-Z]\w*`)

// TestCompatibilityDocCitesRealTests checks the test names in
// docs/compatibility.md against the test functions of this package.
func TestCompatibilityDocCitesRealTests(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "compatibility.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
				tests[fn.Name.Name] = true
			}
		}
	}
	cited := map[string]bool{}
	for _, name := range docTestName.FindAllString(string(doc), -1) {
		cited[name] = true
		if !tests[name] {
			t.Errorf("docs/compatibility.md cites %s, which is not a test in test/e2e", name)
		}
	}
	for name := range tests {
		if strings.HasPrefix(name, "TestJava") && !cited[name] {
			t.Errorf("%s is not cited in docs/compatibility.md: add its rows to the matrix", name)
		}
	}
}
