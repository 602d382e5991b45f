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
// went before the oldest segment still on disk.

func indexPath(dir, stream string) string { return filepath.Join(dir, "."+stream+".segments") }

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
		f := strings.Fields(sc.Text())
		cut := len(f) == 4 && f[3] == "cut"
		if len(f) != 3 && !cut {
			return nil, fmt.Errorf("segment index of %s: malformed line %q", stream, sc.Text())
		}
		lines, err1 := strconv.ParseInt(f[1], 10, 64)
		size, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || lines < 0 || size < 0 {
			return nil, fmt.Errorf("segment index of %s: malformed line %q", stream, sc.Text())
		}
		out = append(out, Segment{Name: f[0], Lines: lines, Bytes: size, Cut: cut})
	}
	return out, nil
}

func writeIndex(dir, stream string, segs []Segment) error {
	var b bytes.Buffer
	for _, s := range segs {
		fmt.Fprintf(&b, "%s %d %d", s.Name, s.Lines, s.Bytes)
		if s.Cut {
			b.WriteString(" cut")
		}
		b.WriteByte('\n')
	}
	return atomicfile.WriteFile(indexPath(dir, stream), b.Bytes(), 0o600)
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
