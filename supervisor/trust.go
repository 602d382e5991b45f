package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrUntrusted reports a state or task folder that another user could
// have written: its records could name any process, and the reaper would
// signal it. Match with errors.Is; the error is an *UntrustedError.
var ErrUntrusted = errors.New("untrusted folder")

// UntrustedError says which folder is refused, why, and how to fix it.
type UntrustedError struct {
	Path string
	Why  string // "owned by uid 1001", "writable by group or others (mode 0777)"
	Fix  string // a command that makes it trusted
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("refusing %s: %s; fix it with: %s", e.Path, e.Why, e.Fix)
}

// Is makes errors.Is(err, ErrUntrusted) hold.
func (e *UntrustedError) Is(target error) bool { return target == ErrUntrusted }

// Check refuses a state folder that is not the caller's own or that
// group or others may write to. A folder that does not exist yet is fine:
// Start creates it 0700.
func (s Store) Check() error {
	_, err := s.checkStat()
	return err
}

// checkStat is Check that also returns what it read of the folder: nil
// when there is none yet.
func (s Store) checkStat() (fs.FileInfo, error) {
	fi, err := os.Stat(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("check state folder: %w", err)
	}
	return fi, trusted(s.Dir, fi)
}

// checkTaskDir refuses a task folder that is a symlink, not the caller's
// own, or writable by group or others.
func checkTaskDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &UntrustedError{Path: dir, Why: "not a folder (a symlink?)", Fix: "rm " + dir}
	}
	return trusted(dir, fi)
}

func trusted(path string, fi fs.FileInfo) error {
	if uid, ok := ownerUID(fi); ok && uid != os.Getuid() {
		return &UntrustedError{Path: path, Why: fmt.Sprintf("owned by uid %d, not by you (uid %d)", uid, os.Getuid()),
			Fix: fmt.Sprintf("point TASKS_DIR at a folder of your own, or sudo chown -R %d %s", os.Getuid(), path)}
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return &UntrustedError{Path: path, Why: fmt.Sprintf("writable by group or others (mode %04o)", m), Fix: "chmod 700 " + path}
	}
	return nil
}
