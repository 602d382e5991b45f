package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
)

// The index of a stream is the file ".<stream>.segments": one line per
// rotated segment, oldest first, "<name> <lines> <bytes>", followed by
// " cut" when the segment ends mid-line (the next one starts with the rest
// of that line: readers that lost the segment skip that rest). It outlives the
// segments lumberjack deletes, which is how readers know how many lines
// went before the oldest segment still on disk. Segments deleted long ago
// are merged into one line, which ends in " x<count>" (their number): the
// index stays proportional to the segments kept, however many rotations
// ran, and readers need only the totals of what is gone.

func indexPath(dir, stream string) string { return filepath.Join(dir, "."+stream+".segments") }

// ErrMalformedIndex is wrapped by ReadIndex's error when a line of the
// index does not parse.
var ErrMalformedIndex = errors.New("malformed segment index")

// ReadIndex returns the recorded segments of stream; none when there is no index.
func ReadIndex(dir, stream string) ([]Segment, error) {
	b, err := os.ReadFile(indexPath(dir, stream))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read segment index of %s: %w", stream, err)
	}
	var out []Segment
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		seg, ok := parseSegment(sc.Text())
		if !ok {
			return nil, fmt.Errorf("segment index of %s: %w: line %q", stream, ErrMalformedIndex, sc.Text())
		}
		out = append(out, seg)
	}
	return out, nil
}

// parseSegment parses one index line.
func parseSegment(line string) (Segment, bool) {
	f := strings.Fields(line)
	if len(f) < 3 || len(f) > 5 {
		return Segment{}, false
	}
	lines, err1 := strconv.ParseInt(f[1], 10, 64)
	size, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || lines < 0 || size < 0 {
		return Segment{}, false
	}
	seg := Segment{Name: f[0], Lines: lines, Bytes: size, Count: 1}
	rest := f[3:]
	if len(rest) > 0 && rest[0] == "cut" {
		seg.Cut, rest = true, rest[1:]
	}
	if len(rest) > 0 {
		n, ok := strings.CutPrefix(rest[0], "x")
		count, err := strconv.Atoi(n)
		if !ok || err != nil || count < 1 || len(rest) > 1 {
			return Segment{}, false
		}
		seg.Count = count
	}
	return seg, true
}

func writeIndex(dir, stream string, segs []Segment) error {
	var b bytes.Buffer
	for _, s := range segs {
		fmt.Fprintf(&b, "%s %d %d", s.Name, s.Lines, s.Bytes)
		if s.Cut {
			b.WriteString(" cut")
		}
		if s.Count > 1 {
			fmt.Fprintf(&b, " x%d", s.Count)
		}
		b.WriteByte('\n')
	}
	return atomicfile.WriteFile(indexPath(dir, stream), b.Bytes(), 0o600)
}

// segmentCount is how many segments index stands for, merged ones included:
// it only grows, one per rotation.
func segmentCount(index []Segment) int {
	n := 0
	for _, s := range index {
		n += max(s.Count, 1)
	}
	return n
}

// compactIndex merges the segments before the newest keep+1 into one
// entry: lumberjack has deleted them (it keeps keep backups; the one more
// covers its deletion running late), so readers only need their totals.
// keep 0 means every segment is kept: nothing merges.
func compactIndex(index []Segment, keep int) []Segment {
	n := len(index) - (keep + 1)
	if keep <= 0 || n < 2 {
		return index
	}
	m := Segment{}
	for _, s := range index[:n] {
		m.Lines += s.Lines
		m.Bytes += s.Bytes
		m.Count += max(s.Count, 1)
		m.Name, m.Cut = s.Name, s.Cut // The newest's: readers order and join by it.
	}
	return append([]Segment{m}, index[n:]...)
}

// The checkpoint of a stream is the file ".<stream>.lines", one line
// "<segments> <bytes> <lines>": the first <bytes> bytes of the current
// file hold <lines> newlines, and the index held <segments> segments when
// that was so (after a rotation the checkpoint describes a file that is
// no longer current, which the count tells). The writer refreshes it
// every CheckpointBytes, so a reader counts the lines of at most that
// much of the current file rather than all of it on every read.

// CheckpointBytes is how much output the writer lets pass between two
// checkpoints.
const CheckpointBytes = 1 << 20

func checkpointPath(dir, stream string) string { return filepath.Join(dir, "."+stream+".lines") }

type checkpoint struct {
	segments     int
	bytes, lines int64
}

// readCheckpoint returns the stream's checkpoint; ok is false when there
// is none or it does not parse (a reader then counts everything).
func readCheckpoint(dir, stream string) (c checkpoint, ok bool) {
	b, err := os.ReadFile(checkpointPath(dir, stream))
	if err != nil {
		return c, false
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return c, false
	}
	segs, err1 := strconv.Atoi(f[0])
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	lines, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || segs < 0 || size <= 0 || lines < 0 || lines > size {
		return c, false
	}
	return checkpoint{segments: segs, bytes: size, lines: lines}, true
}

func writeCheckpoint(dir, stream string, c checkpoint) error {
	return atomicfile.WriteFile(checkpointPath(dir, stream), []byte(fmt.Sprintf("%d %d %d\n", c.segments, c.bytes, c.lines)), 0o600)
}
