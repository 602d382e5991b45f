package top

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// writeFinished writes a finished task in the original tool's layout
// (one file per field, no JSON), as an earlier version, a script or a
// person may have left it: nothing vetted its label.
func writeFinished(t *testing.T, a *toolbox.App, n int, label string) string {
	t.Helper()
	id := fmt.Sprintf("task-%d-%04d", time.Now().Unix()-int64(100-n), n)
	dir := filepath.Join(a.Store.Dir, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"status": "completed", "exit_code": "0", "command": "npm test",
		"label": label, "timeout": "0", "stdout": fmt.Sprintf("line of %d\n", n), "stderr": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// settle plays Bubble Tea's loop for cmd and all that follows from it,
// except timers: it returns the model and how many ticks were set, each
// the next turn of a refresh loop. The cursor's blinks are dropped.
func settle(m model, cmd tea.Cmd) (model, int) {
	ticks := 0
	for queue := []tea.Cmd{cmd}; len(queue) > 0; queue = queue[1:] {
		if queue[0] == nil {
			continue
		}
		switch msg := queue[0]().(type) {
		case tickMsg:
			ticks++
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case refreshMsg, actionMsg:
			next, c := m.Update(msg)
			m = next.(model)
			queue = append(queue, c)
		}
	}
	return m, ticks
}

// One refresh loop runs, however many keys are pressed: a key refreshes
// once and sets no timer of its own. Before, each refresh a key asked
// for started one more loop that never ended (9 keys, 10 loops: ten
// times the refreshes).
func TestKeysStartNoRefreshLoop(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	for i := range 3 {
		writeFinished(t, a, i, fmt.Sprintf("job-%d", i))
	}
	m := newModel(context.Background(), a, time.Millisecond, io.Discard)
	m, ticks := settle(m, m.Init())
	if ticks != 1 || len(m.tasks) != 3 {
		t.Fatalf("start: %d ticks set, %d tasks listed; want 1 and 3", ticks, len(m.tasks))
	}
	for _, k := range []struct {
		name string
		key  tea.KeyMsg
	}{
		{"down", tea.KeyMsg{Type: tea.KeyDown}},
		{"down", tea.KeyMsg{Type: tea.KeyDown}},
		{"up", tea.KeyMsg{Type: tea.KeyUp}},
		{"v (digest)", tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("v")}},
		{"v (filter)", tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("v")}},
		{"typing", tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("line")}},
		{"enter", tea.KeyMsg{Type: tea.KeyEnter}},
		{"/", tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/")}},
		{"esc", tea.KeyMsg{Type: tea.KeyEsc}},
		{"v (tail)", tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("v")}},
		{"s", tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("s")}},
	} {
		next, cmd := m.Update(k.key)
		if m, ticks = settle(next.(model), cmd); ticks != 0 {
			t.Errorf("key %s set %d ticks, want 0: one more refresh loop", k.name, ticks)
		}
		if !m.editing && m.logTitle != m.selected {
			t.Errorf("after key %s the log pane shows %q, want the selected %q", k.name, m.logTitle, m.selected)
		}
	}
	if m.view != viewTail || m.message == "" {
		t.Fatalf("after the keys: view %v, message %q; want tail and the stop's outcome", m.view, m.message)
	}
	// A refresh asked for before the selection moved is not shown after:
	// its log is another task's.
	stale := m.refresh(false)
	next, cmd := m.Update(tea.KeyMsg{Type: tea.KeyDown})
	m, _ = settle(next.(model), cmd)
	next, _ = m.Update(stale())
	if got := next.(model).logTitle; got != m.selected {
		t.Errorf("a late refresh made the log pane show %q, want the selected %q", got, m.selected)
	}
	// The loop itself goes on: each tick sets the next one, no more.
	for range 3 {
		if m, ticks = settle(m, func() tea.Msg { return tickMsg{} }); ticks != 1 {
			t.Fatalf("a tick set %d ticks, want 1", ticks)
		}
	}
}

// A label no check vetted (a task of the original layout) is shown
// escaped, in the table, the log pane's title and the footer: an escape
// sequence in it (OSC 0 sets the window's title) never reaches the
// terminal.
func TestLabelIsShownEscaped(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	writeFinished(t, a, 0, "\x1b]0;pwned\x07evil")
	m := newModel(context.Background(), a, time.Millisecond, io.Discard)
	m, _ = settle(m, m.Init())
	next, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("s")})
	m, _ = settle(next.(model), cmd)
	m.width = 200
	screen := m.View()
	if strings.Contains(screen, "\x1b]") || strings.Contains(screen, "\x07") {
		t.Fatalf("the label's escape sequence reached the screen: %q", screen)
	}
	for _, want := range []string{`\x1b]0;pwned\aevil · tail`, `stop \x1b]0;pwned\aevil:`, `\x1b]0;pwned\a…`} {
		if !strings.Contains(screen, want) {
			t.Errorf("the screen does not show %q: %q", want, screen)
		}
	}
}

// "/" starts a new search, as in less: typing does not add to the last
// one (a product trial found it did), and esc gives the last one back.
// The header counts every task, not only those listed.
func TestSlashStartsANewFilter(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	for i := range 3 {
		writeFinished(t, a, i, fmt.Sprintf("job-%d", i))
	}
	m := newModel(context.Background(), a, time.Millisecond, io.Discard)
	m, _ = settle(m, m.Init())
	press := func(keys ...tea.KeyMsg) {
		for _, k := range keys {
			next, cmd := m.Update(k)
			m, _ = settle(next.(model), cmd)
		}
	}
	runes := func(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }
	enter, esc := tea.KeyMsg{Type: tea.KeyEnter}, tea.KeyMsg{Type: tea.KeyEsc}
	press(runes("/"), runes("line"), enter)
	press(runes("/"), runes("err"), enter)
	if got := m.filter.Value(); got != "err" {
		t.Errorf("after / line, / err: filter %q, want err", got)
	}
	press(runes("/"), runes("zzz"), esc)
	if got := m.filter.Value(); got != "err" || m.view != viewFilter {
		t.Errorf("after / zzz esc: filter %q, view %v; want err, the filter view", got, m.view)
	}
	if m.summary.Total != 3 || !strings.Contains(m.View(), "bgtask top: 3 tasks, 0 running") {
		t.Errorf("summary %+v; header:\n%s", m.summary, m.View())
	}
}
