package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// part is one piece of a logical stream: a rotated segment or the current
// file, with its position in the stream.
type part struct {
	name      string
	firstByte int64
	firstLine int64
	bytes     int64
	lines     int64 // newlines; -1 until counted
	gone      bool  // rotated away and deleted: only the index remembers it
	info      os.FileInfo
}

// Stream is one logical log, "stdout" or "stderr" of a task: the rotated
// segments, oldest first, then the current file. Positions (byte offsets and
// line numbers) count from the first byte ever written, deleted segments
// included, so a cursor stays valid across any number of rotations.
type Stream struct {
	dir, name string
	parts     []part
}

// OpenStream lists the pieces of stream in dir as they are now. A folder
// without index (plain files written by something else) is read as its
// backups in name order, then the current file.
func OpenStream(dir, stream string) (*Stream, error) {
	index, err := ReadIndex(dir, stream)
	if err != nil {
		return nil, err
	}
	onDisk, err := backups(dir, stream)
	if err != nil {
		return nil, err
	}
	s := &Stream{dir: dir, name: stream}
	var pos, line int64
	add := func(p part) {
		p.firstByte, p.firstLine = pos, line
		pos += p.bytes
		line += max(p.lines, 0)
		s.parts = append(s.parts, p)
	}
	for _, seg := range index {
		i := slices.Index(onDisk, seg.Name)
		add(part{name: seg.Name, bytes: seg.Bytes, lines: seg.Lines, gone: i < 0})
		if i >= 0 {
			onDisk = slices.Delete(onDisk, i, i+1)
		}
	}
	// Backups the index does not know: someone else's rotation.
	for _, name := range append(onDisk, stream) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", stream, err)
		}
		n, err := countLines(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		add(part{name: name, bytes: fi.Size(), lines: n, info: fi})
	}
	return s, nil
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

// ErrChanged reports that the stream rotated while it was being read: open
// it again and retry.
var ErrChanged = errors.New("stream rotated while reading")

// open opens a part that is on disk and checks it is still the file that
// was listed: the current file's name is reused by every rotation.
func (s *Stream) open(p part) (*os.File, error) {
	f, err := os.Open(filepath.Join(s.dir, p.name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrChanged // Deleted by lumberjack since the listing.
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p.name, err)
	}
	if p.info != nil {
		if fi, err := f.Stat(); err != nil || !os.SameFile(fi, p.info) {
			_ = f.Close() // Read only.
			return nil, ErrChanged
		}
	}
	return f, nil
}

// CopyFrom copies the stream from byte position from to its current end
// into w. It returns the position after the last byte copied and how many
// bytes from that position on had already been rotated away unread.
func (s *Stream) CopyFrom(w io.Writer, from int64) (next, skipped int64, err error) {
	next = from
	for _, p := range s.parts {
		end := p.firstByte + p.bytes
		if end <= next && p.name != s.name {
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
		f, err := s.open(p)
		if err != nil {
			return next, skipped, err
		}
		// The current file keeps growing: copy to its end, not to its
		// listed size.
		var r io.Reader = io.NewSectionReader(f, next-p.firstByte, p.bytes-(next-p.firstByte))
		if p.name == s.name {
			_, err = f.Seek(next-p.firstByte, io.SeekStart)
			r = f
		}
		var n int64
		if err == nil {
			n, err = io.Copy(w, r)
		}
		_ = f.Close() // Read only.
		next += n
		if err != nil {
			return next, skipped, fmt.Errorf("read %s: %w", p.name, err)
		}
	}
	return next, skipped, nil
}
