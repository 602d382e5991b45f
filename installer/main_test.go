package installer

import (
	"encoding/json"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// The test binary also serves as bgtask (with install and doctor), as
// the toolbox entries and as a task's supervisor: see toolboxtest.Main.
func TestMain(m *testing.M) { toolboxtest.Main(m, nil, Commands()...) }

// jsonText is v as JSON text.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // Only maps and strings built by the tests.
	}
	return string(b)
}

// newApp is toolboxtest.NewApp with this package's commands.
func newApp(t *testing.T, env ...string) *toolbox.App {
	t.Helper()
	a := toolboxtest.NewApp(t, env...)
	a.Commands = Commands()
	return a
}
