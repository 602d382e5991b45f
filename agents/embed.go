// Package agents holds the guidance for agents using the background-task
// tools: AGENTS.md, and the same advice in plain sentences for the MCP
// server's instructions, embedded so that an installed bgtask has them
// without the repository at hand.
package agents

import _ "embed"

//go:embed AGENTS.md
var guidance string

//go:embed instructions.txt
var instructions string

// Guidance returns AGENTS.md: the block `bgtask install` keeps in
// ~/.config/agents/AGENTS.md.
func Guidance() string { return guidance }

// Instructions returns the MCP server's instructions: AGENTS.md's advice
// in plain sentences, without markdown, since clients such as Codex show
// them as they are (as the description of the server's tools).
func Instructions() string { return instructions }
