package installer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
)

// Reading and replacing files that belong to the user.

// readUserFile reads a file the user owns, "" if there is none yet, and
// its permissions to keep.
func readUserFile(path string) (string, fs.FileMode, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0o644, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return string(b), fi.Mode().Perm(), nil
}

// writeUserFile replaces the content of a file the user owns. A symlink
// (a profile kept in a dotfiles repository) is written through, not
// replaced by a file.
func writeUserFile(path, content string, mode fs.FileMode) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return atomicfile.Write(path, strings.NewReader(content), mode)
}
