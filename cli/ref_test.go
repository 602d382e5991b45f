package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// A label running here and on another host names neither: bgtask stop
// dup must not stop the local one while the remote one runs on (a
// product trial found it did, silently). One running place wins over
// ended ones; among ended ones the newest, here or there.
func TestLabelHereAndOnAHost(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	local := toolboxtest.StartTask(t, a, map[string]any{"command": "sleep 60", "label": "dup"})
	recs := remote.RecordsIn(a.Store.Dir)
	put := func(id, status string, started time.Time) {
		t.Helper()
		if err := recs.Put(remote.Record{ID: id, Host: "devbox", Label: "dup", Command: "sleep 60", Cwd: "/tmp", StartedAt: started, Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	remoteID := "task-1700000001-0badc0de"
	put(remoteID, supervisor.StatusRunning, time.Now())
	_, err := resolveRef(context.Background(), a, "dup")
	if err == nil || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), local.TaskID+" (in ") || !strings.Contains(err.Error(), remoteID+" (on devbox)") {
		t.Fatalf("a label running here and on devbox: %v", err)
	}
	// The remote one ended: the local one, the only one running.
	put(remoteID, supervisor.StatusCompleted, time.Now())
	if id, err := resolveRef(context.Background(), a, "dup"); err != nil || id != local.TaskID {
		t.Errorf("one running here: %s, %v; want %s", id, err, local.TaskID)
	}
	// A label of no task, here or there, is an error.
	if id, err := resolveRef(context.Background(), a, "other"); err == nil {
		t.Errorf("an unknown label resolved to %s", id)
	}
}
