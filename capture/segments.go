package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// part is one piece of a logical stream: a rotated segment or the current
// file, with its position in the stream.
type part struct {
	name      string
	firstByte int64
	firstLine int64
	bytes     int64
	lines     int64
	cut       bool     // ends mid-line: the next part starts with the rest of a line
	gone      bool     // rotated away and deleted: only the index remembers it
	f         *os.File // open while the Stream is; nil when gone
}

// Stream is a consistent snapshot of one logical log, "stdout" or
// "stderr" of a task: the rotated segments, oldest first, then the current
// file. Positions (byte offsets and line numbers) count from the first byte
// ever written, deleted segments included, so a cursor stays valid across
// any number of rotations.
//
// The snapshot holds every segment file open, so a rotation or a deletion
// while it is read cannot pull a file from under it: it reads what was
// there when it was taken, and lines written later are for the next read.
// Close it when done.
type Stream struct {
	dir, name string
	parts     []part
	note      string // what was wrong with the stream's files but did not stop the read
}

// ErrNotRegular reports a log file that is a symlink, a FIFO, a device or
// anything else than a regular file: it is never followed or read, since
// reading it could hang or show a file outside the task folder.
var ErrNotRegular = errors.New("not a regular file")

// snapshotAttempts bounds how often OpenStream retries a snapshot that a
// rotation changed while it was taken. When every attempt raced one (a
// writer flooding small segments), the last one keeps only the segments
// the index knows: a prefix of the stream, in order, that a later read
// extends. Files the index does not know yet could otherwise come out of
// order: the current file opened before a rotation that renamed it, a
// newer backup listed after.
const snapshotAttempts = 8

// OpenStream takes a snapshot of stream in dir. A folder without index
// (plain files written by something else) is read as its backups in name
// order, then the current file.
func OpenStream(dir, stream string) (*Stream, error) {
	for attempt := 1; ; attempt++ {
		last := attempt == snapshotAttempts
		s, stable, err := snapshot(dir, stream, last)
		if err != nil || stable || last {
			return s, err
		}
		_ = s.Close() // Read only.
		// A rotation is in flight (renamed, index not yet written): it
		// takes well under a millisecond.
		time.Sleep(time.Duration(attempt) * 200 * time.Microsecond)
	}
}

// snapshot opens the current file and every backup, then checks that the
// index did not change meanwhile: then the open files are exactly the
// stream the index describes. stable is false when a rotation ran during
// the snapshot; indexOnly (for a last attempt) then leaves out the files
// the index does not describe.
func snapshot(dir, stream string, indexOnly bool) (s *Stream, stable bool, err error) {
	index, note, err := readIndexOrNote(dir, stream)
	if err != nil {
		return nil, false, err
	}
	files, err := openSegments(dir, stream)
	if err != nil {
		return nil, false, err
	}
	defer files.closeUnused()
	again, err := ReadIndex(dir, stream)
	if note != "" && errors.Is(err, ErrMalformedIndex) {
		again, err = nil, nil
	}
	if err != nil {
		closeIf(files.cur)
		return nil, false, err
	}
	stable = slices.Equal(index, again)

	s = &Stream{dir: dir, name: stream, note: note}
	fail := func(err error) (*Stream, bool, error) {
		closeIf(files.cur)
		_ = s.Close() // Read only.
		return nil, false, err
	}
	if err := s.addIndexed(index, files); err != nil {
		return fail(err)
	}
	if indexOnly && !stable {
		// Only what the index describes.
		closeIf(files.cur)
		files.cur = nil
	} else if stable, err = s.addUnindexed(dir, index, files, stable); err != nil {
		return fail(err)
	}
	s.dropRacedSegments(stable)
	return s, stable, nil
}

// readIndexOrNote reads stream's index. A malformed one gives no index
// and a note: one damaged line must not cost the whole log, so the files
// on disk are read as they are, as a folder without an index is read.
func readIndexOrNote(dir, stream string) (index []Segment, note string, err error) {
	index, err = ReadIndex(dir, stream)
	if errors.Is(err, ErrMalformedIndex) {
		note = fmt.Sprintf("%v; the log is read from the files on disk, its line numbers counting only what is there", err)
		return nil, note, nil
	}
	return index, "", err
}

// segmentFiles are the files of a log that a snapshot opened.
type segmentFiles struct {
	cur    *os.File            // The current file; nil when there is none.
	onDisk []string            // The backups listed, oldest first.
	open   map[string]*os.File // Backups opened and not yet taken by a part.
}

// openSegments opens stream's current file and its backups.
func openSegments(dir, stream string) (*segmentFiles, error) {
	cur, err := openLog(filepath.Join(dir, stream))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open %s: %w", stream, err)
	}
	onDisk, err := backups(dir, stream)
	if err != nil {
		closeIf(cur)
		return nil, err
	}
	files := &segmentFiles{cur: cur, onDisk: onDisk, open: make(map[string]*os.File, len(onDisk))}
	for _, name := range onDisk {
		f, err := openLog(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue // Deleted by lumberjack since the listing.
		}
		if err != nil {
			closeIf(cur)
			files.closeUnused()
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
		files.open[name] = f
	}
	return files, nil
}

// take hands the open backup name over to the caller: nil when it is not
// open or was taken already.
func (sf *segmentFiles) take(name string) *os.File {
	f := sf.open[name]
	delete(sf.open, name)
	return f
}

// closeUnused closes the backups opened but not used by the snapshot.
func (sf *segmentFiles) closeUnused() {
	for _, f := range sf.open {
		_ = f.Close() // Read only.
	}
}

// addPart appends p after the parts so far, counting its lines when they
// are not known.
func (s *Stream) addPart(p part) error {
	if p.f != nil && p.lines < 0 {
		n, err := countNewlines(p.f, 0, p.bytes)
		if err != nil {
			return fmt.Errorf("count lines in %s: %w", p.name, err)
		}
		p.lines = n
	}
	if n := len(s.parts); n > 0 {
		prev := s.parts[n-1]
		p.firstByte, p.firstLine = prev.firstByte+prev.bytes, prev.firstLine+prev.lines
	}
	s.parts = append(s.parts, p)
	return nil
}

// addIndexed adds the segments the index describes, each with its open
// file when that is the file the index describes, else as gone.
func (s *Stream) addIndexed(index []Segment, files *segmentFiles) error {
	for _, seg := range index {
		p := part{name: seg.Name, bytes: seg.Bytes, lines: seg.Lines, cut: seg.Cut}
		if f := files.take(seg.Name); f != nil {
			if fi, err := f.Stat(); err == nil && fi.Size() >= seg.Bytes {
				p.f = f
			} else {
				_ = f.Close() // Read only; not the file the index describes.
			}
		}
		p.gone = p.f == nil
		if err := s.addPart(p); err != nil {
			return err
		}
	}
	return nil
}

// addUnindexed adds the backups the index does not know (someone else's
// rotation, or ours between its rename and its index line), then the
// current file. stable turns false when they show a rotation ran during
// the snapshot.
func (s *Stream) addUnindexed(dir string, index []Segment, files *segmentFiles, stable bool) (bool, error) {
	var curInfo os.FileInfo
	if files.cur != nil {
		var err error
		if curInfo, err = files.cur.Stat(); err != nil {
			return false, fmt.Errorf("stat %s: %w", s.name, err)
		}
	}
	for _, name := range files.onDisk {
		if files.open[name] == nil {
			continue
		}
		if len(index) > 0 && name < index[len(index)-1].Name {
			continue // Merged into an index line (deleted, or about to be): closed on return.
		}
		f := files.take(name)
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close() // Read only.
			return false, fmt.Errorf("stat %s: %w", name, err)
		}
		if len(index) > 0 && name > index[len(index)-1].Name {
			stable = false // Our writer's rotation, index line to come.
		}
		if curInfo != nil && os.SameFile(fi, curInfo) {
			_ = f.Close() // The current file we hold was rotated meanwhile.
			stable = false
			continue
		}
		if err := s.addPart(part{name: name, bytes: fi.Size(), lines: -1, f: f}); err != nil {
			_ = f.Close() // Read only.
			return false, err
		}
	}
	if files.cur == nil {
		return stable, nil
	}
	return stable, s.addCurrent(dir, index, files.cur, curInfo.Size(), stable)
}

// addCurrent adds the current file cur, of size bytes.
func (s *Stream) addCurrent(dir string, index []Segment, cur *os.File, size int64, stable bool) error {
	p := part{name: s.name, bytes: size, lines: -1, f: cur}
	// A checkpoint of this very file (the index is the one it was
	// taken under, and no rotation ran) spares counting its start.
	if c, ok := readCheckpoint(dir, s.name); ok && stable && c.segments == segmentCount(index) && c.bytes <= p.bytes {
		n, err := countNewlines(cur, c.bytes, p.bytes)
		if err != nil {
			return fmt.Errorf("count lines in %s: %w", s.name, err)
		}
		p.lines = c.lines + n
	}
	return s.addPart(p)
}

// dropRacedSegments marks as gone every part up to the last gone one,
// when the snapshot raced a rotation. Lumberjack deletes old segments
// right after a rotation: a segment gone while an older one is still
// listed means the listing raced that. Then everything up to the last
// gone segment counts as gone, so the parts on disk are one run up to the
// end. But when the log has been still (no write for deletedQuiet, the
// snapshot stable), no rotation ran: the segment was deleted by hand, and
// it costs its own lines only (see feed).
func (s *Stream) dropRacedSegments(stable bool) {
	last := -1
	for i, p := range s.parts {
		if p.gone {
			last = i
		}
	}
	if last > 0 && stable && s.quietSince(time.Now().Add(-deletedQuiet)) {
		last = -1
	}
	for i := 0; i < last; i++ {
		if p := &s.parts[i]; !p.gone {
			_ = p.f.Close() // Read only.
			p.f, p.gone = nil, true
		}
	}
}

// deletedQuiet is how long a log must have been still for a segment gone
// from its middle to be taken as deleted by hand, not by a rotation the
// snapshot raced.
const deletedQuiet = 2 * time.Second

// openLog opens a log file for reading without following a symlink and
// without blocking on a FIFO, and refuses anything but a regular file.
func openLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), ErrNotRegular)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w", filepath.Base(path), ErrNotRegular)
	}
	if err != nil {
		_ = f.Close() // Read only.
		return nil, err
	}
	return f, nil
}

func closeIf(f *os.File) {
	if f != nil {
		_ = f.Close() // Read only.
	}
}

// Close releases the snapshot's files.
func (s *Stream) Close() error {
	if s == nil {
		return nil
	}
	for i := range s.parts {
		closeIf(s.parts[i].f)
		s.parts[i].f = nil
	}
	return nil
}

// countNewlines counts the newlines in bytes from to n of f.
func countNewlines(f *os.File, from, n int64) (int64, error) {
	buf := scanBuffer(n - from)
	var count int64
	for off := from; off < n; {
		k, err := f.ReadAt(buf[:min(int64(len(buf)), n-off)], off)
		count += int64(bytes.Count(buf[:k], []byte{'\n'}))
		off += int64(k)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return count, nil
			}
			return count, err
		}
	}
	return count, nil
}

// maxScanChunk is the most a scan of a log reads at once.
const maxScanChunk = 64 << 10

// scanBuffer returns a buffer for scanning n bytes of a log, at most
// maxScanChunk and at least 1. It is sized to the need, not a constant,
// on purpose: a constant 64 KB buffer is put on the goroutine's stack,
// which then grows to 128 KB (copied twice on the way), and a short-lived
// tool call pays a page fault for each fresh page of it (issue 23).
func scanBuffer(n int64) []byte {
	return make([]byte, max(1, min(n, maxScanChunk)))
}

// StreamStats sums up a stream.
type StreamStats struct {
	Lines, Bytes         int64 // everything ever written
	GoneLines, GoneBytes int64 // of which rotated away and deleted
}

// Stats returns the totals of s.
func (s *Stream) Stats() StreamStats {
	var st StreamStats
	for _, p := range s.parts {
		st.Lines += p.lines
		st.Bytes += p.bytes
		if p.gone {
			st.GoneLines += p.lines
			st.GoneBytes += p.bytes
		}
	}
	return st
}

// CopyFrom copies the snapshot from byte position from to its end into w.
// It returns the position after the last byte copied and how many bytes
// from that position on had already been rotated away unread.
func (s *Stream) CopyFrom(w io.Writer, from int64) (next, skipped int64, err error) {
	return s.copyRange(w, from, s.end().Byte)
}

// copyRange copies bytes [from, to) of the snapshot into w.
func (s *Stream) copyRange(w io.Writer, from, to int64) (next, skipped int64, err error) {
	next = from
	for _, p := range s.parts {
		end := min(p.firstByte+p.bytes, to)
		if end <= next {
			continue
		}
		if p.gone {
			skipped += end - next
			next = end
			continue
		}
		if next < p.firstByte { // A gap: segments deleted and not indexed.
			skipped += p.firstByte - next
			next = p.firstByte
		}
		n, err := io.Copy(w, io.NewSectionReader(p.f, next-p.firstByte, end-next))
		next += n
		if err != nil {
			return next, skipped, fmt.Errorf("read %s: %w", p.name, err)
		}
		if next < end { // Shorter than it was: truncated by someone else.
			skipped += end - next
			next = end
		}
	}
	return next, skipped, nil
}

// TailStart returns the byte position where the last n lines of the
// snapshot begin (the start of what is on disk when there are fewer).
func (s *Stream) TailStart(n int64) int64 {
	end := s.end()
	p, err := s.posOfLine(end.Line - n)
	if err != nil || p.Byte < s.firstOnDisk().Byte {
		return s.firstOnDisk().Byte
	}
	return p.Byte
}
