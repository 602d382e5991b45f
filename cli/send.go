package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// cliSend types into an interactive task: the words after its id are
// the text.
func cliSend(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	pf := declareParams(fs, toolbox.SendTool(), "task_id", "text")
	noEnter := fs.Bool("no-enter", false, "the same as --enter=false")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return ErrUsage
	}
	id, err := resolveRef(ctx, a, pos[0])
	if err != nil {
		return err
	}
	pf.set("task_id", id)
	if len(pos) > 1 {
		pf.set("text", strings.Join(pos[1:], " "))
	}
	if *noEnter {
		pf.set("enter", false)
		if len(pos) == 1 && !pf.given("key") {
			return fmt.Errorf("nothing to type: give TEXT or --key KEY, or leave out --no-enter")
		}
	}
	r, err := toolbox.Invoke[toolbox.SendResult](ctx, a, pf.tool, pf.params())
	if err != nil {
		return err
	}
	// The tool's message names the agents' next call; a person reads
	// the answer with logs.
	fmt.Fprintf(a.Stdout, "Typed %s into %s. Its answer: bgtask logs %s -n 20 (or -f to follow)\n", toolbox.ByteCount(r.Sent), toolbox.Printable(pos[0]), shellWord(pos[0]))
	return nil
}

// hintRef is how a printed command names a task: its label as one shell
// word, or its id when there is no label of its own, the label would read
// as an option (bgtask logs -n -f), or it holds what a terminal would not
// print as typed (escape sequences: never printed raw).
func hintRef(label, id string) string {
	if label == "" || label == id || strings.HasPrefix(label, "-") || toolbox.Printable(label) != label {
		return id
	}
	return shellWord(label)
}

// shellWord is s as one word for a POSIX shell: as it is when that is
// safe, else single-quoted.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
