package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Job is a spare's task, as its server's Store.Start hands it over.
type Job struct {
	// Staging and Dir are the task's staging folder and its folder, as a
	// supervisor started for a task has them in its arguments.
	Staging, Dir string
	// Env is the caller's environment, which the spare takes as its own.
	Env []string
	// Record is the new task's record, pairs of a file's name and its
	// value, which the supervisor writes into Staging while the command
	// starts; nil when Staging holds the record already (a restart).
	Record []string
}

// encode writes j as NUL-terminated fields: the folders, the environment,
// an empty field, the record's names and values. No field may hold a NUL
// (paths, environment entries and Store.Start's values cannot).
func (j Job) encode() ([]byte, error) {
	if len(j.Record)%2 != 0 {
		return nil, errors.New("a job's record has a name without a value")
	}
	var b bytes.Buffer
	add := func(f string) error {
		if strings.IndexByte(f, 0) >= 0 {
			return fmt.Errorf("a job's field holds a NUL byte: %q", f)
		}
		b.WriteString(f)
		b.WriteByte(0)
		return nil
	}
	errs := []error{add(j.Staging), add(j.Dir)}
	for _, kv := range j.Env {
		if kv != "" { // Not the separator; an empty entry names no variable.
			errs = append(errs, add(kv))
		}
	}
	errs = append(errs, add(""))
	for _, f := range j.Record {
		errs = append(errs, add(f))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// decodeJob reads what encode wrote.
func decodeJob(b []byte) (Job, error) {
	if len(b) == 0 || b[len(b)-1] != 0 {
		return Job{}, fmt.Errorf("a job that does not end its last field: %q", b)
	}
	fields := strings.Split(string(b[:len(b)-1]), "\x00")
	sep := slices.Index(fields, "")
	if len(fields) < 3 || sep < 2 || !filepath.IsAbs(fields[0]) || !filepath.IsAbs(fields[1]) {
		return Job{}, fmt.Errorf("a job that names no folders: %q", b)
	}
	j := Job{Staging: fields[0], Dir: fields[1]}
	if sep > 2 {
		j.Env = fields[2:sep]
	}
	if rec := fields[sep+1:]; len(rec) > 0 {
		if len(rec)%2 != 0 {
			return Job{}, fmt.Errorf("a job's record has a name without a value: %q", rec[len(rec)-1])
		}
		for i := 0; i < len(rec); i += 2 {
			if !recordName(rec[i]) {
				return Job{}, fmt.Errorf("a job's record names %q, not a file of a task's record", rec[i])
			}
		}
		j.Record = rec
	}
	return j, nil
}

// recordName reports whether name can be a record file's name: a plain
// name in the task's folder.
func recordName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsRune(name, '/')
}

// frameJob frames an encoded job for the job pipe: its length, a
// newline, the job. The pipe's end is then no longer the job's, and
// stays the server's to tell (Ahead.awaitAnswered).
func frameJob(b []byte) []byte {
	return append(append(strconv.AppendInt(nil, int64(len(b)), 10), '\n'), b...)
}

// readJob reads a job from the job pipe r: its length, a newline and the
// job (framed: the pipe stays open after it), or, from a server of an
// earlier build, the job alone up to the pipe's end. A job begins with
// its staging folder's absolute path, never with a digit.
func readJob(r io.Reader) (b []byte, framed bool, err error) {
	br := bufio.NewReader(r)
	first, err := br.Peek(1)
	if err != nil {
		if err == io.EOF {
			err = nil // No job: the server ended.
		}
		return nil, false, err
	}
	if first[0] < '0' || first[0] > '9' {
		b, err = io.ReadAll(br)
		return b, false, err
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, true, fmt.Errorf("a job's length: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(line, "\n"))
	if err != nil || n < 0 || n > maxJob {
		return nil, true, fmt.Errorf("a job's length: %q", line)
	}
	b = make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, true, fmt.Errorf("a job of %d bytes: %w", n, err)
	}
	return b, true, nil
}

// maxJob bounds a job's length: an environment and a command, which the
// system's exec limit (ARG_MAX, 2 MB by default) bounds too.
const maxJob = 64 << 20
