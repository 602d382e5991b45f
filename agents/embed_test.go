package agents

import (
	"regexp"
	"strings"
	"testing"
)

// The MCP server's instructions are plain sentences: clients such as Codex
// show them as they are, so a markdown heading, list, code block or code
// span would reach the model as raw markup.
func TestInstructionsArePlainSentences(t *testing.T) {
	text := Instructions()
	if strings.TrimSpace(text) == "" {
		t.Fatal("no instructions")
	}
	markup := regexp.MustCompile("^\\s*(#|[-*+] |\\d+\\. |>|\\|)|`|\\*\\*|\\]\\(")
	for i, line := range strings.Split(text, "\n") {
		if markup.MatchString(line) {
			t.Errorf("instructions.txt:%d is markdown: %q", i+1, line)
		}
	}
	for _, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if !strings.HasSuffix(p, ".") {
			t.Errorf("a paragraph that is not a sentence: %q", p)
		}
	}
}
