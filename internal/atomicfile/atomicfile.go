// Package atomicfile replaces files so that a reader sees the old content
// or the new, never a part: the content goes to a temporary file in the
// same folder, which is then renamed over the target. Task records,
// indexes, read cursors, notices and the installer's files are all
// written this way.
//
// It does not fsync: the rename orders the replacement for readers, not
// for a power cut, after which a file may hold the old content.
package atomicfile

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data, with permissions perm exactly (the
// umask does not apply).
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, bytes.NewReader(data), perm)
}

// Write replaces path with what r yields, with permissions perm. When r
// or the disk fails, path is left as it was and the temporary file is
// removed.
func Write(path string, r io.Reader, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = io.Copy(f, r)
	if err == nil && perm != 0o600 { // CreateTemp made it 0600.
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp) // Best effort: the error below is what matters.
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
