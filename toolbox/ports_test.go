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

// The advice for a port our own task holds fits who asked: a command may
// replace the holder (label, replace=true); a service has no such
// parameters, so it is told to stop the holder and ask again.
func TestPortInUseAdviceFitsTheAsker(t *testing.T) {
	t.Parallel()
	h := PortHolder{Port: 5000, Ours: true, TaskID: "task-1700000000-0000000a", Label: "api", Status: "running", Cwd: "/p"}
	cmd := (&PortInUseError{Param: "wait_port", Port: 5000, Holders: []PortHolder{h}}).Error()
	svc := (&PortInUseError{Param: "PORT of web", Port: 5000, Holders: []PortHolder{h}, Service: "web"}).Error()
	if !strings.Contains(cmd, "replace=true") {
		t.Errorf("for a command: %s", cmd)
	}
	if strings.Contains(svc, "replace=true") || strings.Contains(svc, "label=") || !strings.Contains(svc, "bg_stop task_id="+h.TaskID+") and ask for web again") {
		t.Errorf("for a service: %s", svc)
	}
}
