package supervisor

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// PreparedFolders keeps, for each state folder whose tasks are started
// in a burst (below), one staging folder made ahead: hidden, with every file a
// new task's record always has, empty. A start renames it to its
// staging name and writes the record into those files, in place.
//
// Why: making a folder and a dozen files is most of what bg_run waits
// for once the supervisor is a spare one. Each new inode costs 0.1 to
// 0.3 ms on an ext4 that tasks churn (the kernel's inode allocator
// searches past recently deleted ones), and writing into a file that
// exists costs a few microseconds. The files are made after a call has
// been answered, when nobody waits (Fill), as a spare supervisor is
// started.
//
// A folder made ahead is given to a start only while it is younger than
// preparedFresh, and its time is set to the start's: the reaper removes
// staging folders older than stagingGrace, and must never remove one a
// start uses. One that grew too old is removed, and another is made the
// next time a start asks for one. Every method is safe for concurrent
// use, and a nil *PreparedFolders prepares nothing.
//
// A folder is made ahead only for a state folder whose starts come in a
// burst: a second start within preparedFresh of the one before (an
// agent starting a project's servers, a test suite's runs). A script
// that starts one task in a temporary state folder and removes the
// folder once answered would otherwise race the folder made after its
// call (a trial's finding).
type PreparedFolders struct {
	mu      sync.Mutex
	m       map[string]preparedFolder // by state folder
	discard []string                  // folders too old to use, to remove
	closed  bool
}

// preparedFolder is a state folder's folder made ahead: path is "" while
// none is (a start took it, or it is being made, or none is wanted).
type preparedFolder struct {
	path   string
	made   time.Time // before the folder was made: its age is never less than this says
	making bool
	wanted bool      // by a burst of starts: Fill makes one
	asked  time.Time // the last start's
}

// stagingGrace is how old a staging folder must be before the reaper
// takes it for a start or restart that died mid-way.
const stagingGrace = time.Minute

// preparedFresh is how old a folder made ahead may be and still be
// used: well within stagingGrace, so that no reaper that looked at it
// before its time was set found it old.
const preparedFresh = stagingGrace * 3 / 4

// preparedPrefix names the folders made ahead: a staging folder whose
// name is no task id, which the reaper removes when it is old.
const preparedPrefix = ".staging-ahead-"

// preparedFiles are the files every new task's record has, whatever its
// request: Start's record, the blank capture_error, the supervisor's and
// the command's pids (Supervisor.start), and the supervisor's log. A
// file in this list that a task did not write would be read as written
// empty: TestPreparedStartWritesEveryFile guards the list.
var preparedFiles = [...]string{
	fileCommand, fileLabel, fileCwd, fileTimeout, fileStartedAt, fileStatus,
	fileCaptureError, fileWatchdog, fileWatchdogStart, filePID, filePIDStart,
	FileSupervisorLog,
}

// NewPreparedFolders returns PreparedFolders that hold no folder yet.
func NewPreparedFolders() *PreparedFolders {
	return &PreparedFolders{m: map[string]preparedFolder{}}
}

// take returns the folder made ahead for the state folder dir, its time
// set to now, or "" when none is ready, fresh and intact. dir wants one
// for its next start (Fill) when this start took one, or came soon
// after the one before.
func (p *PreparedFolders) take(dir string) string {
	if p == nil || !renameNoReplaceWorks {
		return ""
	}
	dir = filepath.Clean(dir) // One folder however its path is spelled ("/x/", "/x/.").
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ""
	}
	f := p.m[dir]
	now := time.Now()
	burst := !f.asked.IsZero() && now.Sub(f.asked) < preparedFresh
	f.asked = now
	if f.making {
		p.m[dir] = f
		return "" // Its Fill records it when done, for the next start.
	}
	path, made := f.path, f.made
	f.path, f.made, f.wanted = "", time.Time{}, burst
	defer func() { p.m[dir] = f }()
	if path == "" {
		return ""
	}
	if now.Sub(made) >= preparedFresh || !preparedIntact(path) {
		p.discard = append(p.discard, path)
		return ""
	}
	if err := os.Chtimes(path, now, now); err != nil {
		p.discard = append(p.discard, path) // Gone, most likely.
		return ""
	}
	f.wanted = true // Used: the burst goes on.
	return path
}

// Fill removes the folders too old to use or no longer intact, and makes
// one ahead for each state folder that wants one (see take). Best
// effort: a state folder it cannot make one in starts its tasks as
// without it.
func (p *PreparedFolders) Fill() {
	p.mu.Lock()
	gone := p.discard
	p.discard = nil
	var dirs []string
	for dir, f := range p.m {
		if f.wanted && f.path == "" && !f.making && !p.closed {
			dirs = append(dirs, dir)
			f.making, f.wanted = true, false
			p.m[dir] = f
		}
	}
	p.mu.Unlock()
	for _, path := range gone {
		_ = os.RemoveAll(path) // Best effort: the reaper removes what is left.
	}
	for _, dir := range dirs {
		made := time.Now()
		path, err := prepareStaging(dir)
		p.mu.Lock()
		closed := p.closed
		f := p.m[dir]
		f.making = false
		if err == nil && !closed {
			f.path, f.made = path, made
		} // Else not again until a start asks.
		p.m[dir] = f
		p.mu.Unlock()
		if err == nil && closed {
			_ = os.RemoveAll(path) // Best effort, as above.
		}
	}
}

// Close removes the folders made ahead, and makes no more.
func (p *PreparedFolders) Close() {
	p.mu.Lock()
	p.closed = true
	gone := p.discard
	p.discard = nil
	for dir, f := range p.m {
		if f.path != "" {
			gone = append(gone, f.path)
			delete(p.m, dir)
		}
	}
	p.mu.Unlock()
	for _, path := range gone {
		_ = os.RemoveAll(path) // Best effort: the reaper removes what is left.
	}
}

// preparedIntact reports whether the folder made ahead at path is as
// prepareStaging left it: a folder of the user's own (not a symbolic
// link), holding preparedFiles and nothing else, each a plain file.
// Anything else (a file replaced by a FIFO, whose opening would hang the
// start, or by a symbolic link; a file planted, which would become part
// of the task) was not made here: the start makes its own folder. What
// the files hold is not read: they are opened without following links
// and without waiting (writeMeta), and a same-user process that writes
// into them can as well write into the task's folder later.
func preparedIntact(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() || trusted(path, fi) != nil {
		return false
	}
	ents, err := os.ReadDir(path)
	if err != nil || len(ents) != len(preparedFiles) {
		return false
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !slices.Contains(preparedFiles[:], e.Name()) {
			return false
		}
	}
	return true
}

// prepareStaging makes a folder ahead in the state folder dir, with
// preparedFiles in it, empty.
func prepareStaging(dir string) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("%s%08x", preparedPrefix, rand.Uint32()))
	if err := os.Mkdir(path, 0o700); err != nil {
		return "", fmt.Errorf("prepare a staging folder: %w", err)
	}
	for _, name := range preparedFiles {
		fd, err := unix.Open(filepath.Join(path, name), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err != nil {
			_ = os.RemoveAll(path) // Best effort: the reaper removes what is left.
			return "", fmt.Errorf("prepare a staging folder: %s: %w", name, err)
		}
		_ = unix.Close(fd) // Nothing written.
	}
	return path, nil
}
