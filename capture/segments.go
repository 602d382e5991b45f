package capture

import (
	"errors"
	"fmt"
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
		add(part{name: name, bytes: fi.Size(), lines: n})
	}
	return s, nil
}

// Stats sums up a stream.
type Stats struct {
	Lines, Bytes         int64 // everything ever written
	GoneLines, GoneBytes int64 // of which rotated away and deleted
}

// Stats returns the totals of s.
func (s *Stream) Stats() Stats {
	var st Stats
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
