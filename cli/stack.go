package cli

import (
	"context"
	"encoding/json"
	"flag"

	"github.com/amp-bg-tasks/amp-bg-tasks/stack"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// StackCommand is the hidden `__stack FILE` command that prints the
// stack FILE declares as JSON (a toolbox.StackAnswer), parsing
// process-compose files with parse. The full bgtask has it, and with it
// parses those files in process (App.ParseStack); the lean build runs it
// to read one.
func StackCommand(parse stack.ParseFunc) Command {
	return Command{Name: toolbox.StackCommandName, Args: "FILE", Summary: "print a stack file as JSON (for the lean build)",
		parse: parse,
		Run: func(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
			if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
				return ErrUsage
			}
			return json.NewEncoder(a.Stdout).Encode(toolbox.StackFileAnswer(fs.Arg(0), a.Getenv, parse))
		}}
}

// stackParser is the process-compose parser cmds bring (StackCommand's),
// nil for none.
func stackParser(cmds []Command) stack.ParseFunc {
	for _, c := range cmds {
		if c.parse != nil {
			return c.parse
		}
	}
	return nil
}
