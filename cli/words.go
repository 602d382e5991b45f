package cli

import (
	"regexp"
	"strings"
	"sync"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// The tools word their errors for agents: a parameter as it is written in
// a call (interactive=true, wait_seconds=30), the next call to make
// (bg_output task_id=...). A person typed a command line, so the command
// line rewords what it passes on: TestMessagesInPeoplesWords (cmd/bgtask)
// runs the commands and fails on an agent's word in what they print.

// commandOf is the command a person types for each tool.
var commandOf = map[string]string{
	"bg_run": "run", "bg_status": "status", "bg_output": "logs", "bg_stop": "stop", "bg_send": "send",
}

// toolCall is a tool named in a message, with the task it is given:
// "bg_stop task_id=task-1-ab" or "bg_output".
var toolCall = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\bbg_(run|status|output|stop|send)\b(?: task_id=([\w.-]+))?`)
})

// paramSetting is a parameter as a call writes it: name=true,
// name="text", name=30.
var paramSetting = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\b([a-z]+(?:_[a-z]+)*)=(true|false|"[^"]*"|[^\s,;)]+)`)
})

// toolParams are the names of every tool's parameters.
var toolParams = sync.OnceValue(func() map[string]bool {
	names := map[string]bool{}
	for _, t := range toolbox.Tools() {
		for _, p := range t.Params {
			names[p.Name] = true
		}
	}
	return names
})

// peopleWords rewords msg, written for agents, in the command line's
// terms: "bg_stop task_id=X" is "bgtask stop X", "interactive=true" is
// "--interactive", "wait_seconds=30" is "--wait-seconds 30". What it
// does not know (a word that is no parameter) stays as it is.
func peopleWords(msg string) string {
	msg = toolCall().ReplaceAllStringFunc(msg, func(m string) string {
		sub := toolCall().FindStringSubmatch(m)
		cmd := "bgtask " + commandOf["bg_"+sub[1]]
		if sub[2] != "" {
			cmd += " " + sub[2]
		}
		return cmd
	})
	return paramSetting().ReplaceAllStringFunc(msg, func(m string) string {
		sub := paramSetting().FindStringSubmatch(m)
		name, val := sub[1], sub[2]
		switch {
		case !toolParams()[name]:
			return m
		case name == "task_id":
			return val // A task is an argument: bgtask logs X.
		}
		switch val {
		case "true":
			return cliName(name)
		case "false":
			return cliName(name) + "=false"
		}
		if strings.HasPrefix(val, `"`) {
			val = "'" + strings.Trim(val, `"`) + "'"
		}
		return cliName(name) + " " + val
	})
}
