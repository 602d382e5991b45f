package capture

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// numbered returns lines "event <word> <i>" for i in [from, to): words
// differ, so nothing collapses even when cleaning is on.
func numbered(from, to int) []string {
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"}
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("event %s%d %d", words[i%len(words)], i, i))
	}
	return out
}

func writeLines(t *testing.T, w *Writer, lines []string) {
	t.Helper()
	if _, err := w.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		t.Fatal(err)
	}
}

func sinceRead(t *testing.T, dir, reader string) ReadResult {
	t.Helper()
	res, err := Read(dir, "stdout", ReadOptions{Since: true, Reader: reader, Clean: Options{Raw: true, MaxLines: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSinceReadsEachLineOnceAcrossRotations(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{MaxBytes: 700, Backups: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	var got []string
	n := 0
	for batch := 1; batch <= 40; batch++ {
		k := 1 + batch%9
		writeLines(t, w, numbered(n, n+k))
		n += k
		res := sinceRead(t, dir, "")
		if res.Unread != 0 {
			t.Fatalf("batch %d: %d lines rotated away unread, reads were frequent enough", batch, res.Unread)
		}
		got = append(got, res.Lines...)
		if res.Cursor != int64(n) || res.TotalLines != int64(n) {
			t.Fatalf("batch %d: cursor %d, total %d; want %d", batch, res.Cursor, res.TotalLines, n)
		}
	}
	if want := numbered(0, n); !slices.Equal(got, want) {
		t.Fatalf("since reads returned %d lines, want each of %d exactly once:\n%q", len(got), len(want), got)
	}
	// lumberjack deletes old backups from a goroutine of its own: wait
	// for it before judging whether rotation deleted any.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		names, _ := backups(dir, "stdout")
		idx, _ := ReadIndex(dir, "stdout")
		if segmentCount(idx) > len(names) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("test did not make rotation delete segments (%d indexed, %d on disk)", segmentCount(idx), len(names))
		}
	}
}

func TestSinceReadSaysWhatRotationTookUnread(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{MaxBytes: 500, Backups: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	writeLines(t, w, numbered(0, 5))
	if res := sinceRead(t, dir, ""); len(res.Lines) != 5 {
		t.Fatalf("first read: %q", res.Lines)
	}
	writeLines(t, w, numbered(5, 400)) // Many rotations, only 2 kept.
	res := sinceRead(t, dir, "")
	if res.Unread <= 0 || res.Lines[0] != fmt.Sprintf("[... %d lines rotated away unread ...]", res.Unread) {
		t.Fatalf("no unread marker: unread %d, first line %q", res.Unread, res.Lines[0])
	}
	// After the marker: a possibly cut first line, then every line to the end.
	rest := res.Lines[1:]
	want := numbered(5, 400)
	tail := want[len(want)-len(rest)+1:]
	if !slices.Equal(rest[1:], tail) || !strings.HasSuffix(want[len(want)-len(rest)], rest[0]) {
		t.Fatalf("lines after the marker are not the stream's end: %q...", rest[:3])
	}
	// Lines before the marker's count plus those shown cover the stream.
	if int64(len(rest))+res.Unread != 400-5+1 && int64(len(rest))+res.Unread != 400-5 {
		t.Fatalf("%d unread + %d shown does not add up to the %d new lines", res.Unread, len(rest), 395)
	}
}

// A line without newline is held back while it may still be written, and
// shown once the output has been quiet (a prompt); either way no read shows
// the head of a line that a later read shows again whole.
func TestPartialLineHeldBackThenShownOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, _ := NewWriter(dir, "stdout", WriterOptions{})
	defer func() { _ = w.Close() }()
	_, _ = w.Write([]byte("ready\n126"))
	res := sinceRead(t, dir, "")
	if !slices.Equal(res.Lines, []string{"ready"}) || res.Cursor != 1 || res.TotalLines != 1 {
		t.Fatalf("read during the line: %q cursor %d total %d, want only the complete line", res.Lines, res.Cursor, res.TotalLines)
	}
	_, _ = w.Write([]byte("6626\nPassword: "))
	if res := sinceRead(t, dir, ""); !slices.Equal(res.Lines, []string{"1266626"}) {
		t.Fatalf("read after the line was completed: %q, want it whole once", res.Lines)
	}
	// Quiet: the prompt is shown, once; not to a reader that asked for
	// a longer quiet.
	quiet := time.Now().Add(-2 * PartialQuiet)
	if err := os.Chtimes(filepath.Join(dir, "stdout"), quiet, quiet); err != nil {
		t.Fatal(err)
	}
	if res, err := Read(dir, "stdout", ReadOptions{Quiet: time.Hour, Clean: Options{Raw: true, MaxLines: 10}}); err != nil || res.QuietPartial || slices.Contains(res.Lines, "Password: ") {
		t.Fatalf("read asking for an hour's quiet: %q %v, want the prompt held back", res.Lines, err)
	}
	if res := sinceRead(t, dir, ""); !slices.Equal(res.Lines, []string{"Password: "}) {
		t.Fatalf("read of a quiet prompt: %q", res.Lines)
	}
	_, _ = w.Write([]byte("accepted\nnext\n"))
	if res := sinceRead(t, dir, ""); !slices.Equal(res.Lines, []string{"accepted", "next"}) {
		t.Fatalf("read after the answer: %q, want the prompt not again", res.Lines)
	}
	// The writer is done: a last line without newline is final.
	_, _ = w.Write([]byte("bye"))
	res, err := Read(dir, "stdout", ReadOptions{Since: true, WriterDone: true, Clean: Options{Raw: true}})
	if err != nil || !slices.Equal(res.Lines, []string{"bye"}) {
		t.Fatalf("read of an ended stream: %q %v", res.Lines, err)
	}
}

func TestReadersKeepTheirOwnCursors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, _ := NewWriter(dir, "stdout", WriterOptions{})
	defer func() { _ = w.Close() }()
	writeLines(t, w, numbered(0, 3))
	a1, b1 := sinceRead(t, dir, "T-thread-a"), sinceRead(t, dir, "T-thread-b")
	writeLines(t, w, numbered(3, 5))
	a2 := sinceRead(t, dir, "T-thread-a")
	b2 := sinceRead(t, dir, "T-thread-b")
	d := sinceRead(t, dir, "")
	if len(a1.Lines) != 3 || len(b1.Lines) != 3 || !slices.Equal(a2.Lines, numbered(3, 5)) || !slices.Equal(b2.Lines, numbered(3, 5)) || len(d.Lines) != 5 {
		t.Fatalf("a %q %q, b %q %q, default %q", a1.Lines, a2.Lines, b1.Lines, b2.Lines, d.Lines)
	}
	for _, name := range []string{".cursor_stdout", ".cursor_stdout.T-thread-a", ".cursor_stdout.T-thread-b"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("cursor file %s: %v", name, err)
		}
	}
}

// People copy task folders and write plain files: no index, no backups.
func TestReadPlainFolderWithoutIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	for _, l := range numbered(0, 500) {
		b.WriteString(l + "\r\n") // Terminal line ends, as a capture tool writes them.
	}
	if err := os.WriteFile(filepath.Join(dir, "stdout"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Read(dir, "stdout", ReadOptions{Tail: 3})
	if err != nil || !slices.Equal(res.Lines, numbered(497, 500)) || res.TotalLines != 500 {
		t.Fatalf("tail 3: %q total %d err %v", res.Lines, res.TotalLines, err)
	}
	res, err = Read(dir, "stdout", ReadOptions{Clean: Options{MaxLines: 10}})
	if err != nil || len(res.Lines) != 10 || res.Lines[0] != OmittedMarker(491) || res.Lines[9] != numbered(499, 500)[0] {
		t.Fatalf("newest 10: %q err %v", res.Lines, err)
	}
	// Two lines with different words: lines equal but for their numbers
	// would rightly collapse into one.
	res, err = Read(dir, "stdout", ReadOptions{Clean: Options{Filter: `^event (alpha14|charlie86) `, MaxLines: 100}})
	want := []string{"event alpha14 14", "event charlie86 86"}
	if err != nil || !slices.Equal(res.Lines, want) {
		t.Fatalf("filtered full read: %q err %v, want %q", res.Lines, err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, ".cursor_stdout")); err == nil {
		t.Error("a read with since=false wrote a cursor")
	}
}

func TestReadRejectsBadRegexBeforeMovingCursor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "stdout"), []byte("x\n"), 0o600)
	_, err := Read(dir, "stdout", ReadOptions{Since: true, Clean: Options{Filter: "("}})
	if err == nil || !strings.Contains(err.Error(), "filter") {
		t.Fatalf("err %v, want one naming filter", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".cursor_stdout")); err == nil {
		t.Error("a failed read moved the cursor")
	}
}

// max_lines=1 asks for the newest line, and gets it: the marker of what
// came before used to take its place and be all the answer.
func TestOneLineReadShowsTheNewest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{MaxBytes: 1 << 20, Backups: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	var lines []string
	for i := range 3000 {
		lines = append(lines, fmt.Sprintf("step %d of 3000", i+1))
	}
	writeLines(t, w, lines)
	for _, o := range []ReadOptions{
		{Clean: Options{MaxLines: 1}},
		{Clean: Options{MaxLines: 1, Raw: true}},
		{Since: true, Clean: Options{MaxLines: 1}},
	} {
		res, err := Read(dir, "stdout", o)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Lines) != 1 || res.Lines[0] != "step 3000 of 3000" {
			t.Errorf("%+v: %q", o, res.Lines)
		}
	}
}

// TestPromptWithFileTimeInTheFuture: after the clock steps back (or a VM
// is restored), a log's time is in the future; a prompt in it is shown
// and reported once the file has been still for PartialQuiet, not when
// the clock catches up.
func TestPromptWithFileTimeInTheFuture(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stdout")
	if err := os.WriteFile(path, []byte("starting\nName? "), 0o600); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	res, err := Read(dir, "stdout", ReadOptions{Clean: Options{MaxLines: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.QuietPartial || !slices.Contains(res.Lines, "Name?") {
		t.Fatalf("a still prompt with a file time in the future is held back: %+v", res)
	}
	if WrittenWithin(path, time.Second) {
		t.Fatal("a still file with a time in the future counts as written within a second")
	}
	// A file time just written, in the present, is recent.
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !WrittenWithin(path, time.Minute) {
		t.Fatal("a file just written does not count as written within a minute")
	}
}

// TestMalformedIndexLineCostsOnlyTheIndex: a damaged line in the segment
// index (by hand, by a disk) does not make the log unreadable: it is read
// from the files on disk, every line there, with a warning.
func TestMalformedIndexLineCostsOnlyTheIndex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{MaxBytes: 500, Backups: 5})
	if err != nil {
		t.Fatal(err)
	}
	writeLines(t, w, numbered(0, 40))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	idx, err := os.ReadFile(indexPath(dir, "stdout"))
	if err != nil || len(idx) == 0 {
		t.Fatalf("no index to damage: %v", err)
	}
	if err := os.WriteFile(indexPath(dir, "stdout"), append([]byte("garbage line\n"), idx...), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Read(dir, "stdout", ReadOptions{Clean: Options{Raw: true, MaxLines: 1000}})
	if err != nil {
		t.Fatalf("a malformed index line makes the log unreadable: %v", err)
	}
	if !slices.Equal(res.Lines, numbered(0, 40)) || !strings.Contains(res.Warning, "malformed") {
		t.Fatalf("lines %d, warning %q", len(res.Lines), res.Warning)
	}
}

// TestDeletedMiddleSegmentCostsItsOwnLines: a rotated segment deleted by
// hand from the middle of a still log costs exactly its lines, said by a
// marker; the older segments still on disk are read.
func TestDeletedMiddleSegmentCostsItsOwnLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := NewWriter(dir, "stdout", WriterOptions{MaxBytes: 400, Backups: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Lines of 20 bytes: segments of 400 end at a line's end.
	var all []string
	for i := range 70 {
		all = append(all, fmt.Sprintf("line %014d", i))
	}
	writeLines(t, w, all)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	index, err := ReadIndex(dir, "stdout")
	if err != nil || len(index) < 2 || index[1].Cut {
		t.Fatalf("want 2 rotated segments or more, ending at a line's end: %v %+v", err, index)
	}
	mid := index[1]
	if err := os.Remove(filepath.Join(dir, mid.Name)); err != nil {
		t.Fatal(err)
	}
	// The log has been still for a minute.
	names, _ := filepath.Glob(filepath.Join(dir, "stdout*"))
	for _, n := range names {
		old := time.Now().Add(-time.Minute)
		if err := os.Chtimes(n, old, old); err != nil {
			t.Fatal(err)
		}
	}
	first := index[0].Lines
	want := append(append(slices.Clone(all[:first]), DeletedMarker(mid.Lines)), all[first+mid.Lines:]...)
	res, err := Read(dir, "stdout", ReadOptions{Clean: Options{Raw: true, MaxLines: 1000}})
	if err != nil || !slices.Equal(res.Lines, want) {
		t.Fatalf("%v: got %d lines:\n%s\nwant %d", err, len(res.Lines), strings.Join(res.Lines, "\n"), len(want))
	}
	since, err := Read(dir, "stdout", ReadOptions{Since: true, Clean: Options{Raw: true, MaxLines: 1000}})
	if err != nil || !slices.Equal(since.Lines, want) || since.Cursor != int64(len(all)) {
		t.Fatalf("since-read: %v, cursor %d, %d lines", err, since.Cursor, len(since.Lines))
	}
	tail, err := Read(dir, "stdout", ReadOptions{Tail: 5, Clean: Options{Raw: true}})
	if err != nil || !slices.Equal(tail.Lines, all[len(all)-5:]) {
		t.Fatalf("tail: %v %q", err, tail.Lines)
	}
	clean, err := Read(dir, "stdout", ReadOptions{Clean: Options{MaxLines: 1000}})
	if err != nil || !slices.Contains(clean.Lines, DeletedMarker(mid.Lines)) || !slices.Contains(clean.Lines, all[0]) {
		t.Fatalf("cleaned read: %v %q", err, clean.Lines)
	}
}

// A since-read's move of the cursor can be undone by a caller that could
// not deliver its lines, unless a later read moved the cursor on.
func TestUndoCursor(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(s string) {
		f, err := os.OpenFile(filepath.Join(dir, "stdout"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.WriteString(s)
		_ = f.Close()
	}
	read := func() ReadResult {
		t.Helper()
		r, err := Read(dir, "stdout", ReadOptions{Since: true, Reader: "r", WriterDone: true, Clean: Options{Raw: true, MaxLines: 100}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	write("a\nb\n")
	first := read()
	if ok, err := UndoCursor(dir, *first.Moved); !ok || err != nil || first.Moved.From != nil {
		t.Fatalf("undo of a first read: %v %v %+v", ok, err, first.Moved)
	}
	if again := read(); strings.Join(again.Lines, ",") != "a,b" {
		t.Fatalf("after undoing the first read: %q", again.Lines)
	}
	write("c\n")
	r := read()
	if strings.Join(r.Lines, ",") != "c" || r.Moved.From == nil {
		t.Fatalf("since-read: %q %+v", r.Lines, r.Moved)
	}
	if ok, err := UndoCursor(dir, *r.Moved); !ok || err != nil {
		t.Fatalf("undo: %v %v", ok, err)
	}
	r = read()
	if strings.Join(r.Lines, ",") != "c" {
		t.Fatalf("the undone lines are not read again: %q", r.Lines)
	}
	write("d\n")
	later := read() // Another call of the reader took d.
	if ok, _ := UndoCursor(dir, *r.Moved); ok || strings.Join(later.Lines, ",") != "d" {
		t.Errorf("undid a move that a later read went past (%v), or %q", ok, later.Lines)
	}
}
