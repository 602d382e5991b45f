package installer

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Reading and replacing files that belong to the user, and to the agents
// that rewrite their own settings while they run.
//
// A file is replaced through a temporary file in its folder and a rename,
// so that nobody ever reads half of it. The new file keeps the old one's
// mode, owner and group (the install may run as root on a user's home);
// it is synced to disk before the rename. Just before the rename the file
// is read again: if its content changed since the edit started (Claude
// Code writes ~/.claude.json while it runs), the edit is done again on the
// new content, so the agent's write is not lost. A short window between
// that check and the rename remains: no lock is shared with the agents.
//
// Not touched, with a message saying why:
//   - a read-only file (no owner write bit): the user made it so;
//   - a file with more than one hard link: a rename would split the
//     links (the other name keeps the old content), and writing in place
//     could leave a half-written file to a reader. Register by hand.
//
// A symlink (a dotfile kept in a dotfiles repository) is followed: its
// target is edited and the link stays.

// errLeftAlone marks a file the installer will not edit; the message says
// why and the caller says what to do instead.
type errLeftAlone struct{ msg string }

func (e *errLeftAlone) Error() string { return e.msg }

// attempts bounds how often an edit is redone because the file kept
// changing under it.
const attempts = 5

// owner is who owns what the install creates: the home's owner, when the
// install runs as root on someone else's home; nil otherwise (new files
// are the running user's, as usual).
type owner struct{ uid, gid int }

// homeOwner returns the owner new files in home get.
func homeOwner(home string) *owner {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(home)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	return &owner{uid: int(st.Uid), gid: int(st.Gid)}
}

// chown gives path (not what it links to) to o.
func (o *owner) chown(path string) error {
	if o == nil {
		return nil
	}
	if err := os.Lchown(path, o.uid, o.gid); err != nil {
		return fmt.Errorf("give %s to the home's owner: %w", path, err)
	}
	return nil
}

// userFile is one file being edited.
type userFile struct {
	path string // the real path, symlinks followed
	// beforeReplace, when set (tests), runs between the edit and the
	// check that the file did not change meanwhile.
	beforeReplace func()
	owner         *owner // for a new file
	newMode       fs.FileMode
}

// edit replaces the file's content by edit(current), redoing the edit
// when the file changes meanwhile. edit gets nil for a missing file and
// returns the content to write; written is false when it is unchanged.
func (u userFile) edit(edit func(cur []byte, exists bool) ([]byte, error)) (written bool, err error) {
	path := u.path
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	for range attempts {
		cur, fi, err := readCurrent(path)
		if err != nil {
			return false, err
		}
		if fi != nil {
			if err := checkEditable(path, fi); err != nil {
				return false, err
			}
		}
		next, err := edit(cur, fi != nil)
		if err != nil {
			return false, err
		}
		if fi != nil && bytes.Equal(next, cur) {
			return false, nil
		}
		tmp, err := u.writeTemp(path, next, fi)
		if err != nil {
			return false, err
		}
		if u.beforeReplace != nil {
			u.beforeReplace()
		}
		now, nowFi, err := readCurrent(path)
		if err != nil || (nowFi == nil) != (fi == nil) || !bytes.Equal(now, cur) {
			_ = os.Remove(tmp) // Best effort: the edit is redone.
			if err != nil {
				return false, err
			}
			continue
		}
		if err := os.Rename(tmp, path); err != nil {
			_ = os.Remove(tmp) // Best effort: the rename error is what matters.
			return false, fmt.Errorf("replace %s: %w", path, err)
		}
		syncDir(filepath.Dir(path))
		return true, nil
	}
	return false, fmt.Errorf("%s changed %d times while it was being edited: run the install again when the program writing it is idle", path, attempts)
}

// readCurrent reads path; nil, nil, nil when there is none.
func readCurrent(path string) ([]byte, fs.FileInfo, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, fi, nil
}

// checkEditable refuses, with a reason, files the installer leaves alone.
func checkEditable(path string, fi fs.FileInfo) error {
	if fi.Mode().Perm()&0o200 == 0 {
		return &errLeftAlone{fmt.Sprintf("%s is read-only (mode %04o): left as it is", path, fi.Mode().Perm())}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return &errLeftAlone{fmt.Sprintf("%s has %d hard links: left as it is (replacing it would split them)", path, st.Nlink)}
	}
	return nil
}

// writeTemp writes content to a new file beside path with the mode and
// owner path has (or, for a new file, u's), synced to disk.
func (u userFile) writeTemp(path string, content []byte, fi fs.FileInfo) (tmp string, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	tmp = f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()      // Best effort: err is what matters.
			_ = os.Remove(tmp) // Best effort.
		}
	}()
	if _, err = f.Write(content); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	mode, uid, gid := u.newMode, -1, -1
	if u.owner != nil {
		uid, gid = u.owner.uid, u.owner.gid
	}
	if fi != nil {
		mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	if err = f.Chmod(mode); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if uid != -1 && (uid != os.Geteuid() || gid != os.Getegid()) {
		if err = f.Chown(uid, gid); err != nil {
			return "", fmt.Errorf("write %s: keep its owner: %w", path, err)
		}
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return tmp, nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()  // Best effort: the rename is done either way.
	_ = d.Close() // Read only.
}
