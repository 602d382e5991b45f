package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
)

// Pos is a place in a logical stream: a byte offset and the number of
// newlines before it, both counted from the first byte ever written.
type Pos struct {
	Byte, Line int64
}

// ReadOptions say which lines of a stream to read and how to clean them.
type ReadOptions struct {
	Clean Options
	// Tail, when positive, limits the read to the last Tail lines (of the
	// new lines with Since).
	Tail int
	// Since reads only what arrived after the reader's cursor, and moves
	// the cursor. The first read of a reader returns the newest lines.
	Since bool
	// Reader names whose cursor Since uses: "" is the default cursor file
	// (.cursor_stdout, as the original tool named it); agents pass their
	// thread id so two threads do not take each other's lines.
	Reader string
	// WriterDone says the stream is complete (the task has ended): a last
	// line without newline is final and shown. Otherwise the writer may
	// be in the middle of it, and it is held back while the stream
	// changed within PartialQuiet: showing its head now would show it
	// again whole next time. Once the output has been quiet that long it
	// is shown (a prompt, a progress bar). A shown last line is consumed:
	// the next since-read goes on after it.
	WriterDone bool
	// Quiet is how long the stream must be unchanged before such a last
	// line is shown; 0 means PartialQuiet. A caller that must never see
	// a line in two parts (a test of exact order while its writer may
	// stall on a loaded machine) sets it long.
	Quiet time.Duration
}

// PartialQuiet is how long a live stream must be unchanged before a last
// line without newline is shown: a writer in the middle of a line writes
// its rest well within it, a prompt waits far longer.
const PartialQuiet = 300 * time.Millisecond

// ReadResult is what Read found.
type ReadResult struct {
	Lines []string
	// TotalLines counts the lines of the stream, a last line still
	// without newline included.
	TotalLines int64
	// Cursor is the reader's position in lines after this read: every
	// complete line before it has been returned (or filtered out).
	Cursor int64
	// Unread counts lines that were rotated away before this reader saw them.
	Unread int64
	// Remaining counts complete lines after Cursor: a raw since-read
	// that filled its page leaves them for the next read.
	Remaining int64
	// CursorErr is set when a since-read could not save the cursor: the
	// next read returns these lines again.
	CursorErr error
	// Moved is how a since-read moved the reader's cursor, for a caller
	// that could not deliver the lines to undo it (UndoCursor).
	Moved *CursorMove
	// Warning says what was wrong with the stream's files without
	// stopping the read (a malformed segment index).
	Warning string
	// QuietPartial is set when the stream ends with a line without
	// newline that this read did not hold back: the writer is done, or has
	// been quiet after it for PartialQuiet, which is how a prompt looks.
	// It is decided once per read, so it agrees with what Lines show.
	QuietPartial bool
}

// unreadMarker is the first line of a read that lost lines to rotation.
func unreadMarker(n int64) string {
	return fmt.Sprintf("[... %d lines rotated away unread ...]", n)
}

// Read reads one stream of the task folder dir from a consistent snapshot
// (see Stream): a writer however fast cannot make it fail or tear a line.
// Its cost follows what it returns: tail and first reads look at the end of
// the stream, Since reads start at the cursor (and clean at most the newest
// maxNewestWindow lines when far behind); only a full read with a filter
// scans it all, streaming. Since reads of one task folder are serialized,
// so two parallel calls of one reader never return the same line.
func Read(dir, stream string, o ReadOptions) (ReadResult, error) {
	if _, err := NewPipeline(o.Clean); err != nil {
		return ReadResult{}, err // Bad options: say so before touching the cursor.
	}
	if o.Since {
		unlock, err := lockCursors(dir)
		if err != nil {
			return ReadResult{}, err
		}
		defer unlock()
	}
	s, err := OpenStream(dir, stream)
	if err != nil {
		return ReadResult{}, err
	}
	defer func() { _ = s.Close() }() // Read only.
	return s.read(o)
}

// maxNewestWindow bounds the lines a since-read cleans when the reader is
// far behind: older new lines are counted as omitted, as the MaxLines cap
// would have omitted them anyway.
const maxNewestWindow = 262144

// farBehind is how many unread bytes make a cleaned since-read start at
// the newest maxNewestWindow lines instead of at the cursor.
const farBehind = 8 << 20

func (s *Stream) read(o ReadOptions) (ReadResult, error) {
	end := s.end()
	res := ReadResult{TotalLines: end.Line, Warning: s.note}
	// hold keeps a last line without newline out of the read: the writer
	// may be in the middle of it (see ReadOptions.WriterDone).
	hold := false
	if s.partial(end) {
		quiet := o.Quiet
		if quiet <= 0 {
			quiet = PartialQuiet
		}
		if !o.WriterDone && !s.quietSince(time.Now().Add(-quiet)) {
			hold = true
		} else {
			res.TotalLines++
			res.QuietPartial = true
		}
	}
	var cur Pos
	haveCursor := false
	if o.Since {
		c, ok, err := s.loadCursor(o.Reader)
		if err != nil {
			return res, err
		}
		cur, haveCursor = c, ok
	}
	var (
		c   cleaned
		err error
	)
	switch {
	case o.Clean.Digest:
		// A digest is of the whole retained stream, whatever the cursor;
		// a since-read still moves the cursor to the end.
		c, err = s.digest(o.Clean, end, hold)
		res.Unread = s.firstOnDisk().Line
	case haveCursor:
		from := cur
		if first := s.firstOnDisk(); from.Byte < first.Byte {
			res.Unread = first.Line - from.Line
			from = first
		}
		if o.Tail > 0 {
			if tailFrom, err := s.posOfLine(end.Line - int64(o.Tail)); err == nil && tailFrom.Byte > from.Byte {
				from = tailFrom
			}
		}
		if o.Clean.Raw {
			c, err = s.page(o.Clean, from, hold)
			break
		}
		var skipped int64
		if end.Byte-from.Byte > farBehind {
			from, skipped = s.newestWindow(from, end)
		}
		if c, err = s.cleanFrom(o.Clean, from, hold); err == nil && skipped > 0 {
			c.lines = markEarlier(c, o.Clean.maxLines(), skipped)
		}
	case o.Tail > 0:
		var from Pos
		if from, err = s.posOfLine(end.Line - int64(o.Tail)); err == nil {
			c, err = s.cleanFrom(o.Clean, from, hold)
		}
	case o.Clean.Filter != "" && !o.Since:
		first := s.firstOnDisk()
		c, err = s.cleanFrom(o.Clean, first, hold)
		res.Unread = first.Line
	default:
		c, err = s.newest(o.Clean, end.Line, hold)
	}
	if err != nil {
		return res, err
	}
	if res.Unread > 0 {
		c.lines = append([]string{unreadMarker(res.Unread)}, c.lines...)
	}
	res.Lines, res.Cursor = c.lines, c.end.Line
	res.Remaining = end.Line - c.end.Line
	if o.Since {
		// A read must not fail because a write does (a full disk): the
		// lines are returned, and the caller told the cursor stayed.
		res.CursorErr = s.saveCursor(o.Reader, c.end)
		if res.CursorErr == nil {
			res.Moved = &CursorMove{Stream: s.name, Reader: o.Reader, To: c.end}
			if haveCursor {
				res.Moved.From = &cur
			}
		}
	} else {
		res.Cursor, res.Remaining = end.Line, 0
	}
	return res, nil
}

// digest digests the newest maxNewestWindow lines on disk. A digest's
// lines skip the pipeline's tail, which bounds every other read in bytes
// (a page bounds itself, at a line's end): it is bounded here.
func (s *Stream) digest(o Options, end Pos, hold bool) (cleaned, error) {
	from, skipped := s.newestWindow(s.firstOnDisk(), end)
	c, err := s.cleanFrom(o, from, hold)
	if err == nil && skipped > 0 {
		c.lines = append([]string{OmittedMarker(int(skipped))}, c.lines...)
	}
	c.lines = boundBytes(c.lines)
	return c, err
}

// newestWindow moves from up to the start of the newest maxNewestWindow
// lines before end, and says how many lines that skipped.
func (s *Stream) newestWindow(from, end Pos) (Pos, int64) {
	if w, err := s.posOfLine(end.Line - maxNewestWindow); err == nil && w.Byte > from.Byte {
		return w, w.Line - from.Line
	}
	return from, 0
}

// maxLines is MaxLines with its default.
func (o Options) maxLines() int {
	if o.MaxLines <= 0 {
		return DefaultMaxLines
	}
	return o.MaxLines
}

// MaxAnswerBytes bounds the bytes of the lines one read returns for one
// stream, whatever max_lines and max_line_len allow (5000 lines of 65536
// characters, or raw lines of up to 1 MiB, would otherwise make answers
// of hundreds of megabytes). A read keeps the newest lines that fit and
// says how many earlier ones it left out; a raw since-read stops its page
// at the line that crosses the bound and leaves the rest for the next
// read. At least one line is always returned, cut at 1 MiB in raw mode.
const MaxAnswerBytes = 1 << 20

// markerRoom is what a tail keeps free of MaxAnswerBytes for the marker
// that says what the bound left out.
const markerRoom = 128

// BytesOmittedMarker is the line that stands for n earlier lines an answer
// left out to stay within MaxAnswerBytes.
func BytesOmittedMarker(n int) string {
	return fmt.Sprintf("[... %d earlier lines omitted: an answer holds at most %d bytes per stream ...]", n, MaxAnswerBytes)
}

// boundBytes keeps the newest lines whose bytes fit in MaxAnswerBytes (at
// least one), with a marker for those it left out in front.
func boundBytes(lines []string) []string {
	size, keep := 0, 0
	for i := len(lines) - 1; i >= 0; i-- {
		size += len(lines[i]) + 1
		if size > MaxAnswerBytes && keep > 0 {
			break
		}
		keep++
	}
	if keep == len(lines) {
		return lines
	}
	dropped := len(lines) - keep
	return append([]string{BytesOmittedMarker(dropped)}, lines[dropped:]...)
}

// errPageFull stops a page's copy once it has its lines.
var errPageFull = errors.New("page full")

// page reads the next MaxLines complete lines from `from`, oldest first: a
// raw since-read pages through the stream, every line delivered once, the
// rest left for the next read.
func (s *Stream) page(o Options, from Pos, hold bool) (cleaned, error) {
	p, err := NewPipeline(o)
	if err != nil {
		return cleaned{}, err
	}
	p.tail.maxBytes = 0 // the lineWriter bounds a page, at a line's end
	lw := &lineWriter{w: p, pos: from, limit: int64(o.maxLines()), byteLimit: MaxAnswerBytes, hold: hold}
	err = s.feed(lw, p)
	if err != nil && !errors.Is(err, errPageFull) {
		return cleaned{}, err
	}
	lines := p.Close()
	return cleaned{lines: lines, end: lw.pos}, nil
}

// newest returns the newest MaxLines cleaned lines, reading backwards in
// growing windows so that a long log costs what the answer needs: cleaning
// drops and collapses lines, so how many raw lines make MaxLines clean
// ones is only known by trying.
func (s *Stream) newest(o Options, total int64, hold bool) (cleaned, error) {
	want := o.maxLines()
	first := s.firstOnDisk()
	for window := int64(max(4*want, 256)); ; window = min(4*window, maxNewestWindow) {
		from, err := s.posOfLine(total - window)
		if err != nil {
			return cleaned{}, err
		}
		if from.Byte < first.Byte {
			from = first
		}
		c, err := s.cleanFrom(o, from, hold)
		if err != nil {
			return cleaned{}, err
		}
		atStart := from.Byte <= first.Byte
		// Collapsing can shrink any window to a few lines (a flood of
		// similar lines): past maxNewestWindow, what came before counts
		// as omitted rather than read.
		if len(c.lines) >= want || c.bytesFull || atStart || window >= maxNewestWindow {
			if !atStart || from.Line > 0 {
				c.lines = markEarlier(c, want, from.Line)
			}
			return c, nil
		}
	}
}

// markEarlier makes the first line say how many lines came before those
// shown: the lines before the window, plus those the pipeline's caps
// omitted inside it (its marker already stands in the first line then).
func markEarlier(c cleaned, max int, before int64) []string {
	lines := c.lines
	if before <= 0 || len(lines) == 0 || max == 1 && !c.bytesFull {
		return lines // max_lines=1: the newest line, no room for a marker
	}
	switch {
	case c.bytesFull:
		lines[0] = BytesOmittedMarker(int(before) + c.omitted)
	case c.omitted > 0:
		lines[0] = OmittedMarker(int(before) + c.omitted)
	case len(lines) >= max:
		lines[0] = OmittedMarker(int(before) + 1)
	default:
		lines = append([]string{OmittedMarker(int(before))}, lines...)
	}
	return lines
}

// cleaned is what one pass of the pipeline over the stream gave.
type cleaned struct {
	lines   []string
	omitted int // lines the MaxLines cap or the MaxAnswerBytes bound dropped
	// bytesFull: the bound in bytes dropped lines, so reading further
	// back cannot add any.
	bytesFull bool
	end       Pos // after the last byte fed
}

// cleanFrom runs the stream from `from` to its end through a pipeline. A
// last line without newline is held back with hold (the writer may be in
// the middle of it); otherwise it is shown and consumed: end is after it,
// so that it is never shown again whole.
func (s *Stream) cleanFrom(o Options, from Pos, hold bool) (cleaned, error) {
	p, err := NewPipeline(o)
	if err != nil {
		return cleaned{}, err
	}
	lw := &lineWriter{w: p, pos: from, hold: hold}
	if err := s.feed(lw, p); err != nil {
		return cleaned{}, err
	}
	lines := p.Close()
	return cleaned{lines: lines, omitted: p.Stats().LinesOmitted, bytesFull: p.tail.byBytes > 0, end: lw.pos}, nil
}

// DeletedMarker stands for the n lines of a rotated segment deleted from
// the middle of a log (by hand: lumberjack deletes the oldest).
func DeletedMarker(n int64) string {
	return fmt.Sprintf("[... %d lines of a deleted segment ...]", n)
}

// feed copies the stream from lw.pos to its end into lw. A deleted
// segment between segments still on disk (see snapshot) costs its own
// lines: a DeletedMarker goes straight to the pipeline p in their place
// (no line of the log: lw does not count it) and lw.pos moves past them;
// when the deleted segment ended mid-line, the rest of that line, at the
// start of the next segment, goes with it.
func (s *Stream) feed(lw *lineWriter, p io.Writer) error {
	at := lw.pos.Byte // what is copied; lw.pos is what was passed on
	first := s.firstOnDisk().Byte
	for i, part := range s.parts {
		end := part.firstByte + part.bytes
		if end <= at {
			continue
		}
		if part.gone {
			if at < first {
				continue // Before the first segment on disk: rotated away, said by the caller.
			}
			lost := part.firstLine + part.lines - lw.pos.Line
			next := Pos{Byte: end, Line: part.firstLine + part.lines}
			if part.cut && i+1 < len(s.parts) && !s.parts[i+1].gone && s.parts[i+1].lines > 0 {
				if off, err := s.afterNewline(s.parts[i+1], 1); err == nil {
					next, lost = Pos{Byte: end + off, Line: next.Line + 1}, lost+1
				}
			}
			if lost > 0 {
				if len(lw.pending) > 0 || !lw.atLineStart && lw.passedBytes > 0 {
					// The head of a line whose rest is lost ends here.
					_, _ = p.Write(append(lw.pending, '\n')) // A Pipeline's Write never fails.
					lw.pending = lw.pending[:0]
				}
				_, _ = p.Write([]byte(DeletedMarker(lost) + "\n"))
				lw.atLineStart = true
			}
			lw.pos, at = next, next.Byte
			continue
		}
		at = max(at, part.firstByte) // Not indexed: said by the caller's count.
		n, err := io.Copy(lw, io.NewSectionReader(part.f, at-part.firstByte, end-at))
		at += n
		if err != nil {
			return err
		}
	}
	return nil
}

// lineWriter passes bytes on and tracks the position after them. With a
// limit, it passes at most that many complete lines and then fails with
// errPageFull. With hold, it keeps back what follows the last newline
// until more comes: the last line without newline is never passed on
// (unless longer than maxHeldLine).
type lineWriter struct {
	w      io.Writer
	pos    Pos
	limit  int64 // 0: none
	passed int64 // newlines passed on
	// byteLimit, when set, ends the page after the line that crosses it.
	byteLimit   int64
	passedBytes int64
	atLineStart bool // the last byte passed on was a newline
	hold        bool
	pending     []byte // held: bytes after the last newline passed on
}

// maxHeldLine bounds the bytes a lineWriter holds back: a longer line is
// passed on in pieces (and cut by the pipeline anyway).
const maxHeldLine = 1 << 20

func (lw *lineWriter) Write(b []byte) (int, error) {
	if !lw.hold {
		return lw.pass(b)
	}
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 && len(lw.pending)+len(b) <= maxHeldLine {
		lw.pending = append(lw.pending, b...)
		return len(b), nil
	}
	if len(lw.pending) > 0 {
		if _, err := lw.pass(lw.pending); err != nil {
			return 0, err
		}
		lw.pending = lw.pending[:0]
	}
	if i < 0 {
		i = len(b) - 1
	}
	if _, err := lw.pass(b[:i+1]); err != nil {
		return 0, err
	}
	lw.pending = append(lw.pending, b[i+1:]...)
	return len(b), nil
}

// pass writes b on, up to the limit.
func (lw *lineWriter) pass(b []byte) (int, error) {
	var full error
	if lw.limit > 0 {
		if lw.passed >= lw.limit {
			return 0, errPageFull
		}
		if cut := nthNewline(b, lw.limit-lw.passed); cut >= 0 {
			b, full = b[:cut+1], errPageFull
		}
	}
	if lw.byteLimit > 0 && lw.passedBytes+int64(len(b)) > lw.byteLimit {
		from := max(0, lw.byteLimit-lw.passedBytes-1)
		if from == 0 && lw.atLineStart {
			return 0, errPageFull // the line that crossed it is complete
		}
		// The line that crosses the bound is passed whole (the pipeline
		// cuts it), so the page ends at a line's end.
		if i := bytes.IndexByte(b[from:], '\n'); i >= 0 {
			b, full = b[:int(from)+i+1], errPageFull
		}
	}
	n, err := lw.w.Write(b)
	nl := int64(bytes.Count(b[:n], []byte{'\n'}))
	lw.passed += nl
	lw.passedBytes += int64(n)
	if n > 0 {
		lw.atLineStart = b[n-1] == '\n'
	}
	lw.pos.Byte += int64(n)
	lw.pos.Line += nl
	if err == nil {
		err = full
	}
	return n, err
}

// nthNewline returns the index of the k-th newline in b, or -1.
func nthNewline(b []byte, k int64) int {
	off := 0
	for {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return -1
		}
		if k--; k == 0 {
			return off + i
		}
		off += i + 1
	}
}

// end is the position after the last byte.
func (s *Stream) end() Pos {
	if len(s.parts) == 0 {
		return Pos{}
	}
	p := s.parts[len(s.parts)-1]
	return Pos{Byte: p.firstByte + p.bytes, Line: p.firstLine + p.lines}
}

// firstOnDisk is where the first whole line on disk begins: the start of
// the oldest segment still on disk, or just after its first newline when
// that segment starts with the rest of a line whose head was deleted (a
// cut line would hide its ERROR: prefix from a filter; it counts as
// rotated away unread).
func (s *Stream) firstOnDisk() Pos {
	for i, p := range s.parts {
		if p.gone {
			continue
		}
		if i > 0 && s.parts[i-1].cut && p.lines > 0 {
			if off, err := s.afterNewline(p, 1); err == nil {
				return Pos{Byte: p.firstByte + off, Line: p.firstLine + 1}
			}
		}
		return Pos{Byte: p.firstByte, Line: p.firstLine}
	}
	return s.end()
}

// quietSince reports whether the stream was last written before t: its
// current file (the snapshot's newest part may be an older segment when
// rotations raced it) and the snapshot's newest part, which must not end
// in the middle of a line continued in a segment the snapshot left out.
func (s *Stream) quietSince(t time.Time) bool {
	path := filepath.Join(s.dir, s.name)
	if fi, err := os.Stat(path); err == nil && writtenSince(fi, t, func() (os.FileInfo, error) { return os.Stat(path) }) {
		return false
	}
	for i := len(s.parts) - 1; i >= 0; i-- {
		if p := s.parts[i]; p.bytes > 0 && !p.gone {
			fi, err := p.f.Stat()
			return !p.cut && (err != nil || !writtenSince(fi, t, p.f.Stat))
		}
	}
	return true
}

// clockSlack is how far in the future a file's time may be and still be
// taken as the time it was written: file systems round times, and the
// kernel's coarse clock can run a tick ahead of time.Now.
const clockSlack = time.Second

// writtenSince reports whether the file fi describes was written at or
// after t. A time further in the future than clockSlack (the clock stepped
// back since, or a VM was restored) says nothing about when: the file then
// counts as just written only while it changes, which stat, called again
// after PartialQuiet, tells. Not until the clock catches up, which could
// hide a prompt for hours.
func writtenSince(fi os.FileInfo, t time.Time, stat func() (os.FileInfo, error)) bool {
	if !fi.ModTime().After(time.Now().Add(clockSlack)) {
		return !fi.ModTime().Before(t)
	}
	time.Sleep(PartialQuiet) // One look later: nothing can signal a write that did not happen.
	again, err := stat()
	return err != nil || again.Size() != fi.Size() || !again.ModTime().Equal(fi.ModTime())
}

// WrittenWithin reports whether the file at path was written in the last
// d (a file time in the future counts as that only while the file
// changes: see writtenSince); false when there is no such file.
func WrittenWithin(path string, d time.Duration) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	return writtenSince(fi, time.Now().Add(-d), func() (os.FileInfo, error) { return os.Stat(path) })
}

// EndsPartial reports whether the stream ends with a line without
// newline (a prompt, or a line being written): Stats counts newlines, so
// that line is not in its Lines.
func (s *Stream) EndsPartial() bool { return s.partial(s.end()) }

// partial reports whether the stream ends with a line still without newline.
func (s *Stream) partial(end Pos) bool {
	for i := len(s.parts) - 1; i >= 0; i-- {
		p := s.parts[i]
		if p.bytes == 0 {
			continue
		}
		if p.gone {
			return false // Cannot tell; the current file is empty anyway.
		}
		var b [1]byte
		if _, err := p.f.ReadAt(b[:], p.bytes-1); err != nil {
			return false
		}
		return b[0] != '\n'
	}
	return false
}

// posOfLine returns where line number `line` (0-based: the number of
// newlines before it) begins. Lines before the stream's start clamp to
// its start; lines in deleted segments clamp to the first one on disk.
func (s *Stream) posOfLine(line int64) (Pos, error) {
	if line <= 0 {
		return Pos{}, nil
	}
	for _, p := range s.parts {
		if line > p.firstLine+p.lines || line <= p.firstLine && p.lines > 0 {
			continue
		}
		if p.gone {
			// Inside a deleted segment: where the log goes on after it,
			// whole lines only.
			if first := s.firstOnDisk(); p.firstByte < first.Byte {
				return first, nil
			}
			for _, q := range s.parts {
				if q.firstByte < p.firstByte+p.bytes || q.gone {
					continue
				}
				if p.cut && q.lines > 0 {
					if off, err := s.afterNewline(q, 1); err == nil {
						return Pos{Byte: q.firstByte + off, Line: q.firstLine + 1}, nil
					}
				}
				return Pos{Byte: q.firstByte, Line: q.firstLine}, nil
			}
			return s.end(), nil
		}
		off, err := s.afterNewline(p, line-p.firstLine)
		if err != nil {
			return Pos{}, err
		}
		return Pos{Byte: p.firstByte + off, Line: line}, nil
	}
	if line > s.end().Line {
		return s.end(), nil
	}
	return s.firstOnDisk(), nil
}

// afterNewline returns the offset just after the k-th newline of part p.
// A tail is near the end of a segment of up to 10 MB: a line in its
// second half is looked for from the end.
func (s *Stream) afterNewline(p part, k int64) (int64, error) {
	if p.lines > 0 && k > p.lines/2 && k <= p.lines {
		if off, ok := afterNewlineFromEnd(p, p.lines-k); ok {
			return off, nil
		}
	}
	f := io.NewSectionReader(p.f, 0, p.bytes)
	buf := scanBuffer(p.bytes)
	var off int64
	for {
		n, err := f.ReadAt(buf, off)
		chunk := buf[:n]
		if c := int64(bytes.Count(chunk, []byte{'\n'})); c >= k {
			for at := off; ; {
				j := bytes.IndexByte(chunk, '\n')
				if k--; k == 0 {
					return at + int64(j) + 1, nil
				}
				chunk, at = chunk[j+1:], at+int64(j)+1
			}
		} else {
			k -= c
		}
		off += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return off, nil // Fewer newlines than listed: the file changed.
			}
			return 0, fmt.Errorf("read %s: %w", p.name, err)
		}
	}
}

// afterNewlineFromEnd returns the offset just after the newline of part
// p that has after newlines behind it (0: the last newline), trusting
// p.lines as the count was recorded. ok is false when the file is shorter
// than recorded or holds fewer newlines: the caller then scans from the
// start.
func afterNewlineFromEnd(p part, after int64) (off int64, ok bool) {
	// A tail of a few dozen lines is a few KB: start small, and double
	// the chunk while more is needed.
	buf := scanBuffer(min(p.bytes, 8<<10))
	for end := p.bytes; end > 0; {
		if len(buf) < maxScanChunk && end < p.bytes {
			buf = scanBuffer(int64(2 * len(buf)))
		}
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if n, err := p.f.ReadAt(chunk, start); n < len(chunk) {
			_ = err // Short: the file is not as recorded.
			return 0, false
		}
		if c := int64(bytes.Count(chunk, []byte{'\n'})); c <= after {
			after -= c
			end = start
			continue
		}
		for {
			j := bytes.LastIndexByte(chunk, '\n')
			if after == 0 {
				return start + int64(j) + 1, true
			}
			after--
			chunk = chunk[:j]
		}
	}
	return 0, false
}

// cursorPath is the reader's cursor file: ".cursor_<stream>" as the
// original tool named it, or ".cursor_<stream>.<reader>" per thread.
func (s *Stream) cursorPath(reader string) string {
	name := ".cursor_" + s.name
	if reader != "" {
		name += "." + taskid.FileName(reader)
	}
	return filepath.Join(s.dir, name)
}

// loadCursor reads "<line> <byte>"; a lone number, as the original tool
// wrote, is a line count.
func (s *Stream) loadCursor(reader string) (Pos, bool, error) {
	b, err := os.ReadFile(s.cursorPath(reader))
	if errors.Is(err, os.ErrNotExist) {
		return Pos{}, false, nil
	}
	if err != nil {
		return Pos{}, false, fmt.Errorf("read cursor: %w", err)
	}
	f := strings.Fields(string(b))
	var c Pos
	if len(f) >= 1 {
		c.Line, err = strconv.ParseInt(f[0], 10, 64)
	}
	if len(f) == 0 || err != nil || c.Line < 0 {
		return Pos{}, false, nil // Unreadable: as if first read.
	}
	if len(f) >= 2 {
		if c.Byte, err = strconv.ParseInt(f[1], 10, 64); err == nil && c.Byte >= 0 && c.Byte <= s.end().Byte {
			return c, true, nil
		}
	}
	if c.Line > s.end().Line {
		return s.end(), true, nil
	}
	c, err = s.posOfLine(c.Line)
	return c, err == nil, err
}

func (s *Stream) saveCursor(reader string, c Pos) error {
	return atomicfile.WriteFile(s.cursorPath(reader), []byte(fmt.Sprintf("%d %d\n", c.Line, c.Byte)), 0o600)
}

// CursorMove is how one since-read moved a reader's cursor: from From
// (nil: the reader had none, and its next read is a first read again) to
// To.
type CursorMove struct {
	Stream, Reader string
	From           *Pos
	To             Pos
}

// UndoCursor puts the reader's cursor of dir back where m found it, when
// nothing moved it since: a caller that could not deliver a since-read's
// lines (its client went away) leaves them for the next read. A cursor
// that another read of the same reader has moved on stays: those lines
// went to that read. It reports whether it undid the move.
func UndoCursor(dir string, m CursorMove) (bool, error) {
	unlock, err := lockCursors(dir)
	if err != nil {
		return false, err
	}
	defer unlock()
	s, err := OpenStream(dir, m.Stream)
	if err != nil {
		return false, err
	}
	defer func() { _ = s.Close() }() // Read only.
	cur, ok, err := s.loadCursor(m.Reader)
	if err != nil || !ok || cur != m.To {
		return false, err
	}
	if m.From == nil {
		if err := os.Remove(s.cursorPath(m.Reader)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("undo cursor: %w", err)
		}
		return true, nil
	}
	return true, s.saveCursor(m.Reader, *m.From)
}
