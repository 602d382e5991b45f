package toolbox

// A reader's memory of the ends it was told: what makes each end a notice
// once per reader (see notices.go), kept in <state>/.notices/.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// noticeState is one reader's memory, in <state>/.notices/<reader>: when it
// first called (tasks that ended before are old news), then the ends it
// has been told about, one per line: a task's id and the second it ended
// at (see endKey). Ends the store's listing dates before that first call
// are left out: old news by date.
type noticeState struct {
	path  string
	since time.Time
	seen  []string
	// lines is the file's line count as read, and whole whether it ended
	// its last line: what an append needs to know (see saveOver).
	lines int
	whole bool
}

func (a *App) noticePath(ctx context.Context) string {
	reader := "default"
	if id := a.reader(ctx); id != "" {
		reader = "thread-" + taskid.FileName(id)
	}
	return filepath.Join(a.Store.Dir, ".notices", reader)
}

// familyNoticePath is the memory shared by the sessions of one client
// (see WithSession), "" when the caller is not such a session.
func (a *App) familyNoticePath(ctx context.Context) string {
	s, ok := ctx.Value(sessionKey{}).(session)
	if !ok || a.reader(ctx) != s.reader() {
		return "" // A thread id in the environment names the reader.
	}
	return filepath.Join(a.Store.Dir, ".notices", "client-"+taskid.FileName(s.client))
}

// ForgetSession removes what a session that has ended kept in the state
// folder besides its cursors (its notice memory): the client's memory
// carries on.
func (a *App) ForgetSession(ctx context.Context) {
	if a.familyNoticePath(ctx) != "" {
		_ = os.Remove(a.noticePath(ctx)) // Best effort: a leftover costs a small file.
	}
}

// endMemory is what a reader was told of ended tasks, as one call of
// notices finds and changes it.
type endMemory struct {
	own    *noticeState
	family *noticeState // The client's memory (see WithSession); nil for other readers.
	first  bool         // The reader's first call: every end so far is old news.
	keep   []string     // Told before, and still on disk.
	seen   []string     // Ended now and told by this call.
	loaded []string     // own's ends as read, to find what parallel calls of the reader add
	// noticed is the memory's key of each notice this call found, by task.
	noticed map[string]string
}

// loadEndMemory reads the reader's memory and, for a client's session,
// the client's. A first call starts the reader's memory at now.
func (a *App) loadEndMemory(ctx context.Context, now time.Time) (*endMemory, error) {
	st, err := loadNoticeState(a.noticePath(ctx))
	if err != nil {
		return nil, err
	}
	m := &endMemory{own: st, noticed: map[string]string{}}
	if path := a.familyNoticePath(ctx); path != "" {
		if m.family, err = loadNoticeState(path); err != nil {
			return nil, err
		}
		if st.since.IsZero() && !m.family.since.IsZero() {
			// A new session of a client seen before: it is told what
			// ended since, and not yet told to any session of it.
			st.since, st.seen = m.family.since, slices.Clone(m.family.seen)
		}
	}
	m.first = st.since.IsZero()
	if m.first {
		st.since = now
	}
	m.loaded = slices.Clone(st.seen)
	return m, nil
}

// endKey is how a reader's memory names one end of task id: with the
// second it ended at, so that the end of a task run again under its id
// (bgtask restart) is news again; the id alone when that time is not
// known, as in memories written before.
func endKey(id string, at time.Time) string {
	if at.IsZero() {
		return id
	}
	return id + " " + strconv.FormatInt(at.Unix(), 10)
}

// keyID is the task id of a memory's key.
func keyID(key string) string {
	id, _, _ := strings.Cut(key, " ")
	return id
}

// toldEnd reports whether keys, a reader's memory of task r, hold r's
// current end: the id alone (an end whose time was not known), or the
// second it ended at, which only a dated key needs read.
func (a *App) toldEnd(r supervisor.TaskRef, keys []string) bool {
	if slices.Contains(keys, r.ID) {
		return true
	}
	at := r.FinishedAt
	if at.IsZero() {
		at = a.Store.EndedAt(r.ID) // Not in the ended index yet: one small file.
	}
	return !at.IsZero() && slices.Contains(keys, endKey(r.ID, at))
}

// rememberEnds saves the memory m with the ends in known added, and adds
// them to the client's memory too. telling are the notices the call is
// about to give; it returns those no parallel call of the same reader
// told meanwhile: the memory is read again and saved under a lock, so
// that of parallel calls (agents make them) one tells each end.
func (a *App) rememberEnds(m *endMemory, known []string, telling []Notice) ([]Notice, error) {
	remembered := func(id string) bool {
		return slices.ContainsFunc(m.seen, func(k string) bool { return keyID(k) == id }) ||
			slices.ContainsFunc(m.keep, func(k string) bool { return keyID(k) == id })
	}
	for _, id := range known {
		if !remembered(id) {
			m.seen = append(m.seen, id)
		}
	}
	if !m.first && len(m.seen) == 0 && len(m.keep) == len(m.own.seen) {
		return telling, nil // Nothing new to remember, nothing to tell.
	}
	unlock, err := supervisor.LockFolder(filepath.Dir(m.own.path))
	if err != nil {
		return nil, err
	}
	defer unlock()
	now, err := loadNoticeState(m.own.path)
	if err != nil {
		return nil, err
	}
	// What parallel calls added since this one read the memory: told.
	loaded := make(map[string]bool, len(m.loaded)) // A set: a long session's memory holds hundreds of keys.
	for _, k := range m.loaded {
		loaded[k] = true
	}
	added := slices.DeleteFunc(slices.Clone(now.seen), func(k string) bool { return loaded[k] })
	telling = slices.DeleteFunc(telling, func(n Notice) bool { return slices.Contains(added, m.noticed[n.TaskID]) })
	m.own.seen = append(m.keep, m.seen...)
	for _, k := range added {
		if !slices.Contains(m.own.seen, k) {
			m.own.seen = append(m.own.seen, k)
		}
	}
	if m.first && !now.since.IsZero() && now.since.Before(m.own.since) {
		m.own.since = now.since // A parallel first call's start stands.
	}
	if err := m.own.saveOver(now); err != nil || m.family == nil {
		return telling, err
	}
	return telling, a.shareWithFamily(m.own, m.family)
}

// shareWithFamily adds what the session with memory own was told to its
// client's memory family: what any of its sessions was told. It drops
// from family the ids neither told to own nor still on disk.
func (a *App) shareWithFamily(own, family *noticeState) error {
	// Read again just before, so that parallel sessions add up.
	var onDisk *noticeState
	if again, err := loadNoticeState(family.path); err == nil {
		family, onDisk = again, again.clone()
	}
	if family.since.IsZero() {
		family.since = own.since
	}
	for _, k := range own.seen {
		if !slices.Contains(family.seen, k) {
			family.seen = append(family.seen, k)
		}
	}
	family.seen = slices.DeleteFunc(family.seen, func(k string) bool { return !slices.Contains(own.seen, k) && !a.taskExists(keyID(k)) })
	return family.saveOver(onDisk)
}

func loadNoticeState(path string) (*noticeState, error) {
	st := &noticeState{path: path}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read notices state: %w", err)
	}
	st.whole = len(b) > 0 && b[len(b)-1] == '\n'
	sc := bufio.NewScanner(bytes.NewReader(b))
	for i := 0; sc.Scan(); i++ {
		st.lines++
		line := strings.TrimSpace(sc.Text())
		if i == 0 {
			st.since, _ = time.Parse(time.RFC3339Nano, line)
			continue
		}
		if validKey(line) {
			st.seen = append(st.seen, line)
		}
	}
	return st, nil
}

// validKey reports whether a memory's line is an end's key: a task id,
// alone or with the second it ended at.
func validKey(line string) bool {
	id, at, dated := strings.Cut(line, " ")
	if taskid.ValidID(id) != nil {
		return false
	}
	if !dated {
		return true
	}
	n, err := strconv.ParseInt(at, 10, 64)
	return err == nil && n > 0
}

func (st *noticeState) clone() *noticeState {
	c := *st
	c.seen = slices.Clone(st.seen)
	return &c
}

// saveOver saves st, read as onDisk from the same file under the lock
// the caller holds (nil: not read). When the keys st adds are all that
// changed, it appends them: a write of a few bytes, where replacing the
// file costs a new file and a rename over the old one (0.57 ms against
// 0.03 ms on ext4 on this project's test VM, on every call that tells
// an end). A memory that drops keys is written whole.
func (st *noticeState) saveOver(onDisk *noticeState) error {
	if onDisk == nil || !onDisk.whole || !st.since.Equal(onDisk.since) || onDisk.lines != len(onDisk.seen)+1 {
		return st.save() // Another start, or lines no reader takes (written whole, they go).
	}
	// Sets, not slices: a long session's memory holds hundreds of keys.
	has := func(keys []string) map[string]bool {
		m := make(map[string]bool, len(keys))
		for _, k := range keys {
			m[k] = true
		}
		return m
	}
	mine, theirs := has(st.seen), has(onDisk.seen)
	for k := range theirs {
		if !mine[k] {
			return st.save()
		}
	}
	var add strings.Builder
	for _, k := range st.seen {
		if !theirs[k] {
			add.WriteString(k + "\n")
			theirs[k] = true // Once, should st hold it twice.
		}
	}
	if add.Len() == 0 {
		return nil
	}
	f, err := os.OpenFile(st.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return st.save() // Gone meanwhile: written whole.
	}
	_, err = f.WriteString(add.String()) // One write: the keys appear together.
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("save notices state: %w", err)
	}
	return nil
}

func (st *noticeState) save() error {
	if err := os.MkdirAll(filepath.Dir(st.path), 0o700); err != nil {
		return fmt.Errorf("save notices state: %w", err)
	}
	var b strings.Builder
	b.WriteString(st.since.UTC().Format(time.RFC3339Nano) + "\n")
	for _, id := range st.seen {
		b.WriteString(id + "\n")
	}
	return atomicfile.WriteFile(st.path, []byte(b.String()), 0o600)
}
