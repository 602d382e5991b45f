package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// palette colours the CLI's output for people: on when the output is a
// terminal, off when it is piped or redirected, and off whenever NO_COLOR
// is set (https://no-color.org) or TERM is dumb. FORCE_COLOR turns it on
// anywhere. The agent tools never colour anything.
type palette struct{ on bool }

func paletteFor(a *toolbox.App, w io.Writer) palette {
	if a.Getenv("NO_COLOR") != "" || a.Getenv("TERM") == "dumb" {
		return palette{}
	}
	if a.Getenv("FORCE_COLOR") != "" {
		return palette{on: true}
	}
	return palette{on: isTerminal(w)}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// SGR colours, all of one length so that a coloured column stays aligned.
const (
	sgrRed     = "\x1b[31m"
	sgrGreen   = "\x1b[32m"
	sgrYellow  = "\x1b[33m"
	sgrDefault = "\x1b[39m"
	sgrReset   = "\x1b[0m"
)

// paint wraps s in colour when the palette is on.
func (p palette) paint(sgr, s string) string {
	if !p.on {
		return s
	}
	return sgr + s + sgrReset
}

// status colours a task status: green runs or succeeded, red failed,
// yellow was stopped. Every status, and the column header, takes the same
// number of bytes of codes, so tabwriter keeps the columns aligned.
func (p palette) status(s string) string { return p.statusText(s, s) }

// statusText is text in the colour of status s.
func (p palette) statusText(s, text string) string {
	switch s {
	case "running", "completed":
		return p.paint(sgrGreen, text)
	case "failed", "timeout", "reaped":
		return p.paint(sgrRed, text)
	case "killed":
		return p.paint(sgrYellow, text)
	}
	return p.paint(sgrDefault, text)
}

// StatusText is a task's status as people read it in a table: a failed
// task with its exit code, `failed 1`, as pm2 shows it.
func StatusText(status string, exitCode *int) string {
	if status == "failed" && exitCode != nil {
		return fmt.Sprintf("%s %d", status, *exitCode)
	}
	return status
}

// AutoKillText is a task's auto-kill as people read it in a table: the
// countdown, or NOT ENFORCED when its supervisor is gone (the advice, in
// the agents' words in the summary, is said apart: see cliList).
func AutoKillText(t toolbox.TaskSummary) string {
	if t.Supervisor != "" {
		return "NOT ENFORCED"
	}
	return t.AutoKill
}

// stripper is where raw task output goes: as written on a terminal, its
// escape sequences removed when the palette is off.
func (p palette) stripper(w io.Writer) io.Writer {
	if p.on {
		return w
	}
	return capture.NewEscapeStripper(w)
}

// logWriter is where `bgtask logs` writes a task's raw output for w,
// rendered (capture.Renderer) whether w is a terminal, a pipe or a file:
// the program's cursor moves and clears must neither move or blank the
// reader's terminal nor leave screenfuls of blank lines, spinner frames or
// cursor codes in a file. Colours stay when pal is on. Its flush writes
// what is final, and close the rest. Writes go to target, which the
// caller may point elsewhere for a while (see logPrinter's -n).
func logWriter(pal palette, target *switchWriter) (out io.Writer, flush, close func() error) {
	r := capture.NewRenderer(pal.stripper(target))
	return r, r.Flush, r.Close
}

// switchWriter writes to w, which may change between writes.
type switchWriter struct{ w io.Writer }

func (s *switchWriter) Write(p []byte) (int, error) { return s.w.Write(p) }
