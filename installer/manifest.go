package installer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
)

// The install record that --uninstall follows.

// manifest is the record of an install, kept in
// ~/.config/amp-bg-tasks/install.json. Reruns add to it, so that it lists
// what every install since the first one did.
type manifest struct {
	Files  []installedFile  `json:"files"`  // the binary, links, the skill
	Blocks []installedBlock `json:"blocks"` // marked blocks in the user's files
	// Created lists the files and folders that did not exist before:
	// folders are removed once empty, block files once only the block
	// is gone.
	Created []string `json:"created"`
	// Agents lists the agent configurations our MCP server was
	// registered in.
	Agents []installedAgent `json:"agents,omitempty"`
}

type installedFile struct {
	Path string `json:"path"`
	Link string `json:"link,omitempty"` // a symlink's target
}

type installedBlock struct {
	Path     string `json:"path"`
	Markdown bool   `json:"markdown,omitempty"` // HTML comment markers, else shell ones
	// AddedNewline is set when the file did not end with a newline and
	// the install added one before the block.
	AddedNewline bool `json:"added_newline,omitempty"`
}

func loadManifest(path string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return m, fmt.Errorf("read install record %s: %w", path, err)
	}
	return m, nil
}

func (m *manifest) save(path string, o *owner) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("save install record: %w", err)
	}
	if err := atomicfile.Write(path, bytes.NewReader(append(b, '\n')), 0o644); err != nil {
		return err
	}
	return o.chown(path)
}

func (m *manifest) empty() bool {
	return len(m.Files) == 0 && len(m.Blocks) == 0 && len(m.Created) == 0 && len(m.Agents) == 0
}

func (m *manifest) created(path string) {
	if !slices.Contains(m.Created, path) {
		m.Created = append(m.Created, path)
	}
}

func (m *manifest) file(path, link string) {
	i := slices.IndexFunc(m.Files, func(f installedFile) bool { return f.Path == path })
	if i < 0 {
		m.Files = append(m.Files, installedFile{Path: path, Link: link})
		return
	}
	m.Files[i].Link = link
}

func (m *manifest) block(path string, markdown, addedNewline bool) {
	i := slices.IndexFunc(m.Blocks, func(b installedBlock) bool { return b.Path == path })
	if i < 0 {
		m.Blocks = append(m.Blocks, installedBlock{Path: path, Markdown: markdown, AddedNewline: addedNewline})
		return
	}
	// A rerun finds its block in place; the first install knew the file
	// as the user left it.
	m.Blocks[i].AddedNewline = m.Blocks[i].AddedNewline || addedNewline
}
