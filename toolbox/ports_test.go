package toolbox

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/stack/compose"
)

// A service whose readiness probe's port another program already serves
// is not started: its state names the holder, which is not signalled.
func TestServiceRefusesATakenProbePort(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	a.ParseStack = compose.Parse
	l := listenFree(t)
	defer func() { _ = l.Close() }()
	port := l.Addr().(*net.TCPAddr).Port
	file := fmt.Sprintf(`processes:
  web:
    command: sleep 600
    readiness_probe:
      http_get:
        host: 127.0.0.1
        port: %d
`, port)
	if err := os.WriteFile(filepath.Join(a.Wd, "process-compose.yaml"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := a.Call(t.Context(), RunTool(), []byte(`{"service":"web","wait_seconds":10}`))
	r, _ := res.(RunResult)
	if len(r.Services) != 1 || !strings.Contains(r.Services[0].Note, fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(r.Services[0].Note, "readiness_probe of web") {
		t.Errorf("a service on a taken probe port: %+v, %v", r.Services, err)
	}
	if tasks, _ := a.Store.List(); len(tasks) != 0 {
		t.Errorf("%d tasks started", len(tasks))
	}
}
