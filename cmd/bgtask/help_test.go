package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
)

// agentWords are the agent protocol's words, which a person's help must
// not use: the tools' names (bg_send: people type bgtask send), their
// parameters as an agent writes them (task_id=, since=true, wait_port:
// people type --wait-port), their answers (ready=true, wait_left) and
// MCP's limits ("Over MCP"). A JSON path in an example (.task_id) is
// what a script reads, and is allowed.
var agentWords = []*regexp.Regexp{
	regexp.MustCompile(`\bbg_(run|status|output|stop|send)\b`),
	regexp.MustCompile(`(^|[^.\w-])[a-z]+(_[a-z]+)+\b`), // a snake_case parameter name
	regexp.MustCompile(`(^|[^-\w])[a-z_]+=(true|false)\b`),
	regexp.MustCompile(`\b(task_id|ready|wait_left|since|view|raw)=`),
	regexp.MustCompile(`(?i)\bover MCP\b`),
	regexp.MustCompile(`(?i)\btool call\b`),
}

// allowedSnake are snake_case words the command line itself takes.
var allowedSnake = map[string]bool{"on_failure": true}

// Every command's --help (and the overview) is in the command line's
// words: run with the full set of commands, as bgtask itself is.
func TestHelpInPeoplesWords(t *testing.T) {
	t.Parallel()
	extra := fullCommands()
	var overview bytes.Buffer
	cli.Main([]string{"bgtask", "--help"}, strings.NewReader(""), &overview, &overview, extra...)
	names := regexp.MustCompile(`(?m)^  bgtask ([a-z]+) `).FindAllStringSubmatch(overview.String(), -1)
	if len(names) < 15 {
		t.Fatalf("the overview lists %d commands:\n%s", len(names), overview.String())
	}
	helps := map[string]string{"--help": overview.String()}
	for _, m := range names {
		var out bytes.Buffer
		if code := cli.Main([]string{"bgtask", m[1], "--help"}, strings.NewReader(""), &out, &out, extra...); code != 0 {
			t.Errorf("bgtask %s --help: exit %d\n%s", m[1], code, out.String())
		}
		helps[m[1]+" --help"] = out.String()
		var viaHelp bytes.Buffer // bgtask help CMD is bgtask CMD --help.
		if code := cli.Main([]string{"bgtask", "help", m[1]}, strings.NewReader(""), &viaHelp, &viaHelp, extra...); code != 0 || viaHelp.String() != out.String() {
			t.Errorf("bgtask help %s: exit %d, and not its --help:\n%s", m[1], code, viaHelp.String())
		}
	}
	for what, text := range helps {
		for _, line := range strings.Split(text, "\n") {
			for _, m := range agentWordsIn(line) {
				t.Errorf("bgtask %s speaks the agent protocol (%q):\n  %s", what, m, strings.TrimSpace(line))
			}
		}
	}
}

// agentWordsIn returns the agent protocol's words in line.
func agentWordsIn(line string) []string {
	var found []string
	for _, re := range agentWords {
		for _, m := range re.FindAllString(line, -1) {
			if allowedSnake[strings.TrimLeftFunc(m, func(r rune) bool { return r < 'a' || r > 'z' })] {
				continue
			}
			found = append(found, strings.TrimSpace(m))
		}
	}
	return found
}
