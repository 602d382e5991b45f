// Package skill holds the background-tasks agent skill, embedded so that an
// installed bgtask can write it without the repository at hand.
package skill

import _ "embed"

//go:embed SKILL.md
var markdown string

// Markdown returns SKILL.md, which `bgtask install` writes to
// ~/.config/agents/skills/background-tasks/SKILL.md.
func Markdown() string { return markdown }
