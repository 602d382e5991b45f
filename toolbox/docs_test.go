package toolbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/agents"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/tasktest"
	"github.com/amp-bg-tasks/amp-bg-tasks/skill"
)

// The docs agents read are tested like code: every line in their code
// blocks is a tool call, written `bg_output task_id="<web>" tail=20`, and
// every one of them is run against real tasks.

// docCall is one tool call from a doc's code block.
type docCall struct {
	line   int
	text   string
	tool   *Tool
	params map[string]any
}

// parseDocCalls returns the tool calls in md's fenced code blocks. Any
// other line in a code block, except # comments, is an error: an example
// the test cannot run is not allowed in.
func parseDocCalls(md string) ([]docCall, error) {
	var calls []docCall
	inBlock := false
	for i, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock || trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		c, err := parseDocCall(trimmed)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q: %w", i+1, trimmed, err)
		}
		c.line = i + 1
		calls = append(calls, c)
	}
	if inBlock {
		return nil, fmt.Errorf("unclosed code block")
	}
	return calls, nil
}

// parseDocCall parses `tool key=value ...`: a value is "double-quoted"
// (with \" and \\ escapes) or a bare word, which is a number, a boolean or
// else a string. A # after a space starts a comment.
func parseDocCall(s string) (docCall, error) {
	c := docCall{text: s, params: map[string]any{}}
	name, rest, _ := strings.Cut(s, " ")
	c.tool = ToolByCommand(name)
	if c.tool == nil || c.tool.Name != name {
		return c, fmt.Errorf("%q is not a tool", name)
	}
	for rest = strings.TrimSpace(rest); rest != "" && !strings.HasPrefix(rest, "#"); rest = strings.TrimSpace(rest) {
		key, after, ok := strings.Cut(rest, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \"") {
			return c, fmt.Errorf("want key=value at %q", rest)
		}
		if _, dup := c.params[key]; dup {
			return c, fmt.Errorf("%s given twice", key)
		}
		if strings.HasPrefix(after, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				b.WriteByte(after[i])
			}
			if i == len(after) {
				return c, fmt.Errorf("unterminated quote in %s", key)
			}
			c.params[key], rest = b.String(), after[i+1:]
			if rest != "" && rest[0] != ' ' {
				return c, fmt.Errorf("want a space after %s's value", key)
			}
			continue
		}
		word, tail, _ := strings.Cut(after, " ")
		if word == "" {
			return c, fmt.Errorf("%s has no value", key)
		}
		var v any = word
		if f, err := strconv.ParseFloat(word, 64); err == nil {
			v = f
		} else if b, err := strconv.ParseBool(word); err == nil {
			v = b
		}
		c.params[key], rest = v, tail
	}
	return c, nil
}

func TestDocsParseCall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line    string
		want    map[string]any
		wantErr string
	}{
		{`bg_status`, map[string]any{}, ""},
		{`bg_run command="npm run dev" label="web"`, map[string]any{"command": "npm run dev", "label": "web"}, ""},
		{`bg_run command="echo \"hi\" \\ there" timeout=0`, map[string]any{"command": `echo "hi" \ there`, "timeout": 0.0}, ""},
		{`bg_output task_id="<web>" filter="a|b c" raw=true tail=5 # comment`, map[string]any{"task_id": "<web>", "filter": "a|b c", "raw": true, "tail": 5.0}, ""},
		{`bg_output task_id=<web>  since=false`, map[string]any{"task_id": "<web>", "since": false}, ""},
		{`bg-run command="x"`, nil, "not a tool"},
		{`npm run dev`, nil, "not a tool"},
		{`bg_run command="x`, nil, "unterminated"},
		{`bg_run command="x"label="y"`, nil, "want a space"},
		{`bg_run command`, nil, "want key=value"},
		{`bg_run command= label="x"`, nil, "no value"},
		{`bg_run label="a" label="b"`, nil, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c, err := parseDocCall(tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.params, tt.want) {
				t.Errorf("params %v, want %v", c.params, tt.want)
			}
		})
	}
}

func TestDocsExamplesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs every documented example (20 s and more)")
	}
	t.Parallel()
	for _, doc := range []struct{ name, md string }{
		{"agents/AGENTS.md", agents.Guidance()},
		{"skill/SKILL.md", skill.Markdown()},
	} {
		t.Run(doc.name, func(t *testing.T) {
			t.Parallel()
			calls, err := parseDocCalls(doc.md)
			if err != nil {
				t.Fatal(err)
			}
			if len(calls) == 0 {
				t.Fatal("no tool calls found")
			}
			a := newTestApp(t)
			ids := map[string]string{} // label -> the latest task of that label
			for _, c := range calls {
				params := map[string]any{}
				for k, v := range c.params {
					params[k] = v
				}
				if w, ok := params["wait_seconds"].(float64); ok && w > 0.3 {
					params["wait_seconds"] = 0.3 // The stand-in serves no port: do not wait long for one.
				}
				if _, ok := params["wait_seconds"]; !ok && (params["wait_port"] != nil || params["wait_url"] != nil || params["wait_for"] != nil) {
					params["wait_seconds"] = 0.3
				}
				if svc, ok := params["service"].(string); ok && c.tool.Name == "bg_run" {
					// The project's file the example assumes, declaring
					// the stand-in under the service's name.
					procfile := filepath.Join(a.Wd, "Procfile")
					if b, _ := os.ReadFile(procfile); !strings.Contains("\n"+string(b), "\n"+svc+":") {
						f, err := os.OpenFile(procfile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
						if err != nil {
							t.Fatal(err)
						}
						_, err = fmt.Fprintf(f, "%s: %s\n", svc, tasktest.DevServerCommand)
						if err = errors.Join(err, f.Close()); err != nil {
							t.Fatal(err)
						}
					}
				} else if c.tool.Name == "bg_run" {
					params["command"] = tasktest.DevServerCommand
					// Here, not on the example's host: the remote tests
					// (package remote's sshd) prove the round trip.
					delete(params, "host")
					if dir, ok := params["cwd"].(string); ok && !filepath.IsAbs(dir) {
						// The project layout the example assumes.
						if err := os.MkdirAll(filepath.Join(a.Wd, dir), 0o755); err != nil {
							t.Fatal(err)
						}
					}
				}
				if ref, ok := params["task_id"].(string); ok {
					label, ok := strings.CutPrefix(ref, "<")
					label, ok2 := strings.CutSuffix(label, ">")
					if !ok || !ok2 || ids[label] == "" {
						t.Fatalf("%s:%d: task_id %q must be <label> of a task an earlier example started", doc.name, c.line, ref)
					}
					params["task_id"] = ids[label]
				}
				raw, err := json.Marshal(params)
				if err != nil {
					t.Fatal(err)
				}
				out, err := a.Execute(t.Context(), c.tool, raw)
				if err != nil {
					t.Fatalf("%s:%d: %s: %v", doc.name, c.line, c.text, err)
				}
				var res map[string]any
				if err := json.Unmarshal(out, &res); err != nil {
					t.Fatalf("%s:%d: %s: answer is not a JSON object: %v\n%s", doc.name, c.line, c.text, err, out)
				}
				if c.tool.Name == "bg_run" {
					id := res["task_id"].(string)
					ids[res["label"].(string)] = id
					// Let it print, so that the reads that follow have
					// something to clean and filter.
					tasktest.WaitFor(t, id+" output", func() bool {
						task, err := a.Store.Load(id)
						if err != nil {
							return false
						}
						b, err := os.ReadFile(filepath.Join(task.Dir, "stderr"))
						return err == nil && len(b) > 0
					})
				}
				t.Logf("%s:%d: %s\n  -> %.300s", doc.name, c.line, c.text, out)
			}
		})
	}
}

// The skill is the reference: every parameter of every tool appears in at
// least one of its examples, so a new parameter cannot go undocumented.
func TestDocsCoverEveryParameter(t *testing.T) {
	t.Parallel()
	calls, err := parseDocCalls(skill.Markdown())
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range Tools() {
		for _, p := range tool.Params {
			if !slices.ContainsFunc(calls, func(c docCall) bool { _, ok := c.params[p.Name]; return c.tool.Name == tool.Name && ok }) {
				t.Errorf("skill/SKILL.md has no example of %s %s=", tool.Name, p.Name)
			}
		}
	}
	for _, tool := range Tools() {
		if !strings.Contains(agents.Guidance(), tool.Name) {
			t.Errorf("agents/AGENTS.md does not mention %s", tool.Name)
		}
	}
}

// The docs name the tools as agents see them: the skill counts them right
// and lists each one; an MCP-prefixed name is the one Amp and Codex show
// for the server the installer registers (bg-tasks: mcp__bg_tasks__bg_run,
// the hyphen made an underscore); the server's instructions name them all.
func TestDocsNameTheTools(t *testing.T) {
	counts := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}
	n := len(Tools())
	m := regexp.MustCompile(`(?m)^(\w+) tools keep`).FindStringSubmatch(skill.Markdown())
	if m == nil || n >= len(counts) || !strings.EqualFold(m[1], counts[n]) {
		t.Errorf("skill/SKILL.md counts the tools as %q, want %q", m, counts[min(n, len(counts)-1)])
	}
	prefixed := regexp.MustCompile(`mcp__[\w-]+__\w+`)
	docs := []struct{ name, text string }{{"skill/SKILL.md", skill.Markdown()}, {"agents/AGENTS.md", agents.Guidance()}}
	for name, text := range readDocs(t) {
		docs = append(docs, struct{ name, text string }{name, text})
	}
	for _, doc := range docs {
		for _, name := range prefixed.FindAllString(doc.text, -1) {
			tool, ok := strings.CutPrefix(name, "mcp__bg_tasks__")
			if !ok || ToolByCommand(tool) == nil {
				t.Errorf("%s names %s; Amp and Codex show mcp__bg_tasks__<tool>", doc.name, name)
			}
		}
	}
	for _, tool := range Tools() {
		if !strings.Contains(skill.Markdown(), "| `"+tool.Name+"` |") {
			t.Errorf("skill/SKILL.md's table of tools has no row for %s", tool.Name)
		}
		if !strings.Contains(agents.Instructions(), tool.Name) {
			t.Errorf("agents/instructions.txt does not mention %s", tool.Name)
		}
	}
}

// readDocs returns the README and every page under docs/, by their paths
// from the repository's root.
func readDocs(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no docs/*.md found")
	}
	docs := map[string]string{}
	for _, p := range append(paths, filepath.Join("..", "README.md")) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs[filepath.ToSlash(strings.TrimPrefix(p, ".."+string(filepath.Separator)))] = string(b)
	}
	return docs
}

// The README is what a newcomer reads in five minutes; the reference is in
// docs/, and every relative link in either leads to a file that exists.
func TestDocsREADMEIsShortAndLinksResolve(t *testing.T) {
	t.Parallel()
	docs := readDocs(t)
	if n := strings.Count(docs["README.md"], "\n"); n > 300 {
		t.Errorf("README.md has %d lines; keep it to 300 and move reference material to docs/", n)
	}
	link := regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`)
	for name, text := range docs {
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := filepath.Join("..", filepath.Dir(name), m[1])
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s links to %s, which does not exist", name, m[1])
			}
		}
	}
	for name := range docs {
		if name != "README.md" && !strings.Contains(docs["README.md"], "]("+name+")") {
			t.Errorf("README.md's table of contents does not link %s", name)
		}
	}
}
