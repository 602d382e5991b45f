package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/toolboxtest"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// runCLIPiped runs bgtask with args in-process, its stdout and stderr
// real pipes (as `bgtask logs web | less` or `> file` give it), and
// returns what came through them.
func runCLIPiped(t *testing.T, a *toolbox.App, args ...string) (stdout, stderr []byte, code toolbox.ExitCode) {
	t.Helper()
	read := func() (*os.File, chan []byte) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(r) // Until the writer closes.
			_ = r.Close()
			got <- b
		}()
		return w, got
	}
	wOut, gotOut := read()
	wErr, gotErr := read()
	a.Stdout, a.Stderr = wOut, wErr
	code = Run(context.Background(), a, "bgtask", args)
	_ = wOut.Close()
	_ = wErr.Close()
	return <-gotOut, <-gotErr, code
}

// cursorCodes are escape sequences that move the cursor or erase: none
// may reach a pipe. sgr is a colour.
var (
	cursorCodes = regexp.MustCompile(`\x1b\[[0-9;?]*[A-HJKSTfhlsu]`)
	sgr         = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	spinner     = regexp.MustCompile(`[\x{2800}-\x{28FF}]`) // braille: npm's, npx's and ora's spinner frames
)

// checkClean fails on what a person must not find in a piped log: a run
// of more than one blank line (a clear-screen's padding), spinner frames,
// cursor codes, and colours unless wanted.
func checkClean(t *testing.T, what string, b []byte, colours bool) {
	t.Helper()
	if bytes.Contains(b, []byte("\n\n\n")) || bytes.HasPrefix(b, []byte("\n\n")) {
		t.Errorf("%s has a run of blank lines:\n%q", what, b)
	}
	if m := spinner.Find(b); m != nil {
		t.Errorf("%s has spinner debris %q:\n%s", what, m, b)
	}
	if m := cursorCodes.Find(b); m != nil {
		t.Errorf("%s has the cursor code %q", what, m)
	}
	if hasSGR := sgr.Match(b); hasSGR != colours {
		t.Errorf("%s: colours %v, want %v", what, hasSGR, colours)
	}
	if !colours && bytes.IndexByte(b, 0x1b) >= 0 {
		t.Errorf("%s has an escape code: %q", what, b)
	}
}

// `bgtask logs` into a pipe, on real Vite 7 output (testdata/vite7: three
// clear-screens, npx's spinner frame, a transform error): the same lines
// as on a terminal, with no blank runs, spinner debris or cursor codes,
// colours only with --color=always; -n counts the lines shown; --raw
// gives the bytes as written.
func TestLogsIntoAPipeAreClean(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	dir, err := filepath.Abs(filepath.Join("testdata", "vite7"))
	if err != nil {
		t.Fatal(err)
	}
	r := toolboxtest.StartTask(t, a, map[string]any{"label": "vite", "command": "cat '" + dir + "/stdout'; cat '" + dir + "/stderr' >&2"})
	task := tasktest.WaitEnd(t, a.Store, r.TaskID)
	rawOut, err := os.ReadFile(filepath.Join(task.Dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	rawErr, err := os.ReadFile(filepath.Join(task.Dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	// The recording holds what the test is about.
	if !bytes.Contains(rawOut, []byte("\n\n\n\n\x1b[1;1H\x1b[0J")) || !spinner.Match(rawErr) {
		t.Fatalf("the task's logs lack Vite's clear-screens or npx's spinner:\n%q\n%q", rawOut, rawErr)
	}

	out, errOut, code := runCLIPiped(t, a, "logs", "vite")
	if code != toolbox.ExitOK {
		t.Fatalf("logs vite: exit %d: %s", code, errOut)
	}
	checkClean(t, "logs vite (stdout)", out, false)
	checkClean(t, "logs vite (stderr)", errOut, false)
	for _, want := range []string{"VITE v7.3.8", "Local:   http://localhost:5199/", "page reload err.ts", "server restarted."} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("logs vite lacks %q:\n%s", want, out)
		}
	}
	if !bytes.HasPrefix(errOut, []byte("2:29:42 AM [vite] Internal server error: Transform failed")) || !bytes.Contains(errOut, []byte(`ERROR: Unexpected ";"`)) {
		t.Errorf("logs vite's stderr:\n%s", errOut)
	}
	whole := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")

	// -n counts lines as shown: the last 5 of the whole, not the last 5
	// newlines of the log (a clear-screen's padding).
	out, errOut, code = runCLIPiped(t, a, "logs", "vite", "-n", "5")
	if code != toolbox.ExitOK {
		t.Fatalf("logs vite -n 5: exit %d", code)
	}
	checkClean(t, "logs vite -n 5", out, false)
	if want := strings.Join(whole[len(whole)-5:], "\n") + "\n"; string(out) != want {
		t.Errorf("logs vite -n 5:\n%q\nwant\n%q", out, want)
	}
	if n := bytes.Count(errOut, []byte("\n")); n != 5 {
		t.Errorf("logs vite -n 5 printed %d stderr lines:\n%s", n, errOut)
	}

	// -f on the ended task: the same, then how it ended.
	out, errOut, _ = runCLIPiped(t, a, "logs", "vite", "-f")
	checkClean(t, "logs vite -f", out, false)
	checkClean(t, "logs vite -f (stderr)", errOut, false)
	if !bytes.HasSuffix(errOut, []byte("[vite ended: completed, exit 0]\n")) {
		t.Errorf("logs -f's end line: %q", errOut[max(0, len(errOut)-80):])
	}

	// Colours only when asked for, and still no cursor codes.
	out, _, _ = runCLIPiped(t, a, "logs", "vite", "--color=always")
	checkClean(t, "logs vite --color=always", out, true)
	out, _, _ = runCLIPiped(t, a, "logs", "vite", "--color", "never")
	checkClean(t, "logs vite --color never", out, false)
	if _, errOut, code := runCLIPiped(t, a, "logs", "vite", "--color", "sometimes"); code == toolbox.ExitOK || !bytes.Contains(errOut, []byte("auto, always or never")) {
		t.Errorf("--color sometimes: exit %d, %s", code, errOut)
	}

	// --raw: the bytes as written.
	out, errOut, _ = runCLIPiped(t, a, "logs", "vite", "--raw")
	if !bytes.Equal(out, rawOut) || !bytes.Equal(errOut, rawErr) {
		t.Errorf("logs --raw is not byte-exact: %d/%d bytes, want %d/%d", len(out), len(errOut), len(rawOut), len(rawErr))
	}
}

// ls shows a failed task's exit code, as pm2 does: `failed 3`.
func TestLsShowsExitCode(t *testing.T) {
	t.Parallel()
	a := toolboxtest.NewApp(t)
	r := toolboxtest.StartTask(t, a, map[string]any{"label": "broken", "command": "exit 3"})
	tasktest.WaitEnd(t, a.Store, r.TaskID)
	out, _, code := runCLI(t, a, "ls")
	if code != toolbox.ExitOK || !regexp.MustCompile(`broken +failed 3 `).MatchString(out) {
		t.Errorf("ls: exit %d\n%s", code, out)
	}
}
