package main

import (
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/gocmd"
)

// bgtask-call's start is the floor of every call through the server, so
// it links the standard library's basics, callsock and what answers an
// idle reaper, nothing more: each package linked costs its
// initialisation and its page faults.
func TestLinksOnlyTheBasics(t *testing.T) {
	t.Parallel()
	out, err := gocmd.Command(t, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/amp-bg-tasks/amp-bg-tasks/"
	allowed := map[string]bool{module + "cmd/bgtask-call": true, module + "internal/callsock": true,
		// The reaper's everyday answer (reap.go).
		module + "internal/reaplist": true, module + "internal/statedir": true, module + "internal/smallfile": true,
		module + "internal/minutes": true}
	refused := []string{"fmt", "reflect", "net", "encoding/json", "regexp", "log", "os/exec", "context"}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, module) && !allowed[dep] {
			t.Errorf("bgtask-call links %s", dep)
		}
		if strings.Contains(dep, ".") && !strings.HasPrefix(dep, module) && !strings.HasPrefix(dep, "vendor/") {
			t.Errorf("bgtask-call links the dependency %s", dep)
		}
		for _, r := range refused {
			if dep == r {
				t.Errorf("bgtask-call links %s", dep)
			}
		}
	}
}
