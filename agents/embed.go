// Package agents holds the AGENTS.md guidance for the background-task
// tools, embedded so that an installed bgtask can write it without the
// repository at hand.
package agents

import _ "embed"

//go:embed AGENTS.md
var guidance string

// Guidance returns AGENTS.md: the block `bgtask install` keeps in
// ~/.config/agents/AGENTS.md, and the instructions the MCP server gives
// its clients.
func Guidance() string { return guidance }
