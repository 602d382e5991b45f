package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/amp-bg-tasks/amp-bg-tasks/notify"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// cliRun starts a task: every bg_run parameter is a flag, the command
// comes after them (its own flags are its own: bgtask run -- ls -la).
// The task id alone goes to stdout (id=$(bgtask run ...)), the rest to
// stderr.
func cliRun(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	pf := declareParams(fs, toolbox.RunTool(), "command")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return ErrUsage
	}
	pf.set("command", shellJoin(fs.Args()))
	r, err := toolbox.Invoke[toolbox.RunResult](ctx, a, pf.tool, pf.params())
	var taken *toolbox.LabelTakenError
	if errors.As(err, &taken) {
		label, _ := pf.params()["label"].(string)
		return fmt.Errorf("%s: follow it with bgtask logs %s -f, or add --replace to stop it and start this one", taken.What, label)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, r.TaskID)
	// For a person: what runs, and what to type next (not the agent's
	// tool syntax the message carries).
	ref := hintRef(r.Label, r.TaskID)
	kill := "no auto-kill"
	if r.TimeoutMinutes > 0 {
		kill = "auto-kill in " + notify.FormatTimeout(supervisor.Minutes(r.TimeoutMinutes))
	}
	where := ""
	if r.Host != "" {
		where = " on " + r.Host
	}
	name := r.Label
	if name == "" {
		name = r.TaskID
	}
	fmt.Fprintf(a.Stderr, "Started %s%s (pid %d, %s). Follow it: bgtask logs %s -f   Stop it: bgtask stop %s\n", toolbox.Printable(name), where, r.PID, kill, ref, ref)
	return printWait(a, r, ref)
}

// printWait tells a person how a run's wait ended; a wait that did not
// end ready (or, without a condition, a task that did not succeed) is an
// error, so that `bgtask run --wait-port 3000 ... && curl` holds.
func printWait(a *toolbox.App, r toolbox.RunResult, ref string) error {
	printStreams(r.Stdout, r.Stderr, a.Stderr, a.Stderr)
	switch {
	case r.WaitResult != nil && r.Ready:
		what := "ready"
		switch {
		case r.Matched != "":
			what += ": " + r.Matched
		case r.Port != 0:
			what += fmt.Sprintf(": listening on port %d", r.Port)
		case r.HTTPStatus != 0:
			what += fmt.Sprintf(": HTTP %d", r.HTTPStatus)
		}
		fmt.Fprintf(a.Stderr, "%s is %s\n", ref, what)
	case r.WaitResult != nil && r.TimedOut:
		return fmt.Errorf("%s is still running after the wait, not ready (bgtask logs %s -f)", ref, ref)
	case r.WaitResult != nil:
		return fmt.Errorf("%s ended (%s) before it was ready%s", ref, endedAs(r.Status, r.ExitCode, palette{}), portHeld(r.Message))
	case r.Status != supervisor.StatusRunning && r.Status != "" && r.Status != supervisor.StatusCompleted:
		return fmt.Errorf("%s ended (%s)", ref, endedAs(r.Status, r.ExitCode, palette{}))
	case r.Status == supervisor.StatusCompleted:
		fmt.Fprintf(a.Stderr, "%s ended (%s)\n", ref, endedAs(r.Status, r.ExitCode, palette{}))
	}
	return nil
}

// portHeld is the hint a run's answer carries when the port it could not
// bind is held by another task of ours (see App.portHint), in the
// command line's words: "; Port 3000 is held by your task ...", or "".
// TestMessagesInPeoplesWords (cmd/bgtask) sees that it is found.
func portHeld(msg string) string {
	if m := portHeldHint().FindString(msg); m != "" {
		return "; " + peopleWords(m)
	}
	return ""
}

var portHeldHint = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`Port \d+ is held by your task .*$`)
})

// shellJoin turns argv back into one bash command line. A single argument
// is taken as a command line already (bgtask run -- 'npm run dev | tee x').
func shellJoin(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	quoted := make([]string, len(args))
	for i, s := range args {
		if s != "" && strings.IndexFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			quoted[i] = s
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
