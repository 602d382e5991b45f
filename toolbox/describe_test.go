package toolbox

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The describe output is the tools' public interface: a change to it must
// be deliberate (go test ./toolbox -run Golden -update) and show in review.
func TestDescribeGolden(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for _, tool := range Tools() {
		var out bytes.Buffer
		a.Stdout = &out
		if code := a.ServeToolbox(t.Context(), tool, "describe"); code != ExitOK {
			t.Fatalf("%s: exit %d", tool.Name, code)
		}
		golden := filepath.Join("testdata", "describe", tool.Name+".json")
		if *update {
			if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s describe differs from %s:\n%s", tool.Name, golden, out.Bytes())
		}
	}
}
