package cli

import (
	"slices"
	"testing"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/callsock"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// The call server answers every toolbox entry, and only those: its
// client cannot link the toolbox to ask it, so the list is kept in
// callsock and checked here.
func TestCallServerAnswersEveryTool(t *testing.T) {
	t.Parallel()
	var tools []string
	for _, tool := range toolbox.Tools() {
		tools = append(tools, tool.Command())
	}
	slices.Sort(tools)
	entries := callsock.ToolEntries()
	slices.Sort(entries)
	if !slices.Equal(tools, entries) {
		t.Errorf("callsock routes %q, the toolbox has %q", entries, tools)
	}
}
