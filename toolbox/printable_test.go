package toolbox

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Labels are short printable text: escapes (OSC 0 sets the window title,
// OSC 52 writes the clipboard), NUL, newlines and 3,000 characters are
// refused, naming the parameter, and nothing is started.
func TestLabelsAreValidated(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	for name, label := range map[string]string{
		"OSC 0": "web\x1b]0;pwned\x07", "OSC 52": "\x1b]52;c;ZXZpbA==\x07", "NUL": "a\x00b", "newline": "a\nb",
		"long": strings.Repeat("x", 3000), "invalid UTF-8": "a\xffb",
	} {
		_, err := a.Call(t.Context(), RunTool(), []byte(fmt.Sprintf(`{"command":"true","label":%s}`, jsonString(label))))
		var ie *InputError
		if !errors.As(err, &ie) || ie.Param != "label" {
			t.Errorf("%s: %v, want an error naming label", name, err)
		}
	}
	// A refused character is shown as itself, escaped: the C1 CSI is
	// \u009b, not its first byte read as Latin-1 (Â).
	for label, want := range map[string]string{"a\u009bb": `\u009b at byte 1`, "a\xffb": `\ufffd at byte 1`, "a\x1b[31m": `\x1b at byte 1`, "a\u200bb": `\u200b at byte 1`} {
		_, err := a.Call(t.Context(), RunTool(), []byte(fmt.Sprintf(`{"command":"true","label":%s}`, jsonString(label))))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "Â") {
			t.Errorf("label %q: %v, want it to name %s", label, err, want)
		}
	}
	if err := checkLabel("a\xffb"); err == nil || !strings.Contains(err.Error(), `\xff at byte 1`) {
		t.Errorf("invalid UTF-8: %v, want it to name \\xff", err)
	}
	if tasks, _ := a.Store.List(); len(tasks) != 0 {
		t.Fatalf("%d tasks started with bad labels", len(tasks))
	}
	// A label that is a task id, of a task here or not, is refused: an
	// id names one task wherever a label could go.
	r := startTask(t, a, map[string]any{"command": "true"})
	for _, label := range []string{r.TaskID, "task-1795463206-7fbbf9c9"} {
		_, err := a.Call(t.Context(), RunTool(), []byte(fmt.Sprintf(`{"command":"true","label":%q}`, label)))
		var ie *InputError
		if !errors.As(err, &ie) || ie.Param != "label" || !strings.Contains(err.Error(), "is a task id") {
			t.Errorf("label %q: %v, want an error saying it is a task id", label, err)
		}
	}
	if tasks, _ := a.Store.List(); len(tasks) != 1 {
		t.Fatalf("%d tasks, want the one started with no label", len(tasks))
	}
	for _, ok := range []string{"web", "API server (dev)", "測試", strings.Repeat("é", MaxLabelLen)} {
		if err := checkLabel(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
