package matrix

import (
	"os"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/lab/inventory"
)

// TestREADME keeps the README's inventory, matrix and suite formats equal
// to the examples the tests load.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, ex := range map[string]string{"inventory.Example": inventory.Example, "matrix.Example": Example, "matrix.SuiteExample": SuiteExample} {
		if !strings.Contains(string(b), "```yaml\n"+ex+"```\n") {
			t.Errorf("README.md does not show %s as it is: copy it into the lab section's yaml block", name)
		}
	}
}
