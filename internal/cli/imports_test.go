package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestClientsDoNotImportTheBroker checks the promise of the package docs:
// the CLI and the load generator reach brokers through the Kafka protocol
// only, so they import no sluice package but internal/kclient.
func TestClientsDoNotImportTheBroker(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list imports with")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".", "../bench", "../kclient").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{"internal/cli": true, "internal/bench": true, "internal/kclient": true}
	for _, pkg := range strings.Fields(string(out)) {
		rel, ours := strings.CutPrefix(pkg, "github.com/sluice-dev/sluice/")
		if ours && !allowed[rel] {
			t.Errorf("the client commands depend on %s", pkg)
		}
	}
}
