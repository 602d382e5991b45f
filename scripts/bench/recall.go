package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/benchdata"
)

// The signal-recall table: real CI failure logs from the LogDx-CI
// benchmark (capture/testdata/logdx, CC-BY-4.0), each with the signals a
// person debugging the failure needs. A read keeps a signal when the
// signal's value, an alias or its file appears in the read's text with
// escape codes removed (LogDx-CI's text rule); tokens are characters / 4,
// as LogDx-CI counts them. bg_output reads run as an agent's would, a
// process each; tail -n 200 and LogDx-CI's grep baseline are computed on
// the raw log beside them.

type signal struct {
	Importance string   `json:"importance"`
	Value      string   `json:"value"`
	Aliases    []string `json:"aliases"`
	File       string   `json:"file"`
}

var (
	ansi = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]|\x1b\\][^\x07]*(?:\x07|\x1b\\\\)")
	// grepBaseline is LogDx-CI's grep baseline: these words, -B3 -A8.
	grepBaseline = regexp.MustCompile(`(?i)error|failed|failure|traceback|exception|assert|panic|exit code|##\[error\]`)
)

func keptSignal(s signal, text string) bool {
	if v := strings.TrimSpace(s.Value); v != "" && strings.Contains(text, v) {
		return true
	}
	for _, a := range s.Aliases {
		if a = strings.TrimSpace(a); a != "" && strings.Contains(text, a) {
			return true
		}
	}
	f := strings.TrimSpace(s.File)
	return f != "" && strings.Contains(text, f)
}

func grepRead(lines []string) string {
	keep := make([]bool, len(lines))
	for i, l := range lines {
		if grepBaseline.MatchString(l) {
			for j := max(0, i-3); j < min(len(lines), i+9); j++ {
				keep[j] = true
			}
		}
	}
	var out []string
	for i, k := range keep {
		if k {
			out = append(out, lines[i])
		}
	}
	return strings.Join(out, "\n")
}

func (b *bench) signalRecall(w *strings.Builder) error {
	cases, err := filepath.Glob(filepath.Join("capture", "testdata", "logdx", "*", "raw.log.gz"))
	if err != nil || len(cases) == 0 {
		return fmt.Errorf("no LogDx-CI cases under capture/testdata/logdx: %v", err)
	}
	state := filepath.Join(b.tmp, "state-recall")
	modes := []struct{ name, params string }{
		{"bg_output default (newest 80 lines, cleaned)", `{}`},
		{"bg_output view=digest", `{"view":"digest"}`},
		{"tail -n 200 (raw)", ""},
		{"grep -B3 -A8 (LogDx-CI baseline)", ""},
	}
	type score struct{ critical, all []float64 }
	scores := make([]score, len(modes))
	tokens := make([][]int, len(modes))
	for i, gz := range cases {
		raw, err := gunzip(gz)
		if err != nil {
			return err
		}
		var gt struct {
			Signals []signal `json:"required_signals"`
		}
		data, err := os.ReadFile(filepath.Join(filepath.Dir(gz), "ground_truth.json"))
		if err == nil {
			err = json.Unmarshal(data, &gt)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", gz, err)
		}
		id := fmt.Sprintf("task-1700000000-case%d", i)
		dir := filepath.Join(state, id)
		if err := benchdata.CompletedTask(dir); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "stdout"), raw, 0o600); err != nil {
			return err
		}
		lines := strings.Split(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n")
		for m, mode := range modes {
			var text string
			switch {
			case strings.HasPrefix(mode.name, "tail"):
				text = strings.Join(lines[max(0, len(lines)-200):], "\n")
			case strings.HasPrefix(mode.name, "grep"):
				text = grepRead(lines)
			default:
				if text, err = b.read(state, id, mode.params); err != nil {
					return err
				}
			}
			text = ansi.ReplaceAllString(text, "")
			var nc, kc, na, ka float64
			for _, s := range gt.Signals {
				k := keptSignal(s, text)
				na++
				if k {
					ka++
				}
				if s.Importance == "critical" {
					nc++
					if k {
						kc++
					}
				}
			}
			scores[m].critical = append(scores[m].critical, kc/max(nc, 1))
			scores[m].all = append(scores[m].all, ka/max(na, 1))
			tokens[m] = append(tokens[m], len(text)/4)
		}
	}
	fmt.Fprintf(w, "\n## Signal recall on real CI failures\n\n%d LogDx-CI cases (capture/testdata/logdx, CC-BY-4.0): the share of each case's required signals a read keeps (LogDx-CI's text rule), and its size in tokens (characters / 4).\n\n", len(cases))
	w.WriteString("| read | critical recall | all signals | median tokens | mean tokens |\n|---|---:|---:|---:|---:|\n")
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	for m, mode := range modes {
		t := slices.Clone(tokens[m])
		slices.Sort(t)
		sum := 0
		for _, x := range t {
			sum += x
		}
		fmt.Fprintf(w, "| %s | %.3f | %.3f | %d | %d |\n", mode.name, mean(scores[m].critical), mean(scores[m].all), t[len(t)/2], sum/len(t))
	}
	return nil
}

// read runs bg-output once on task id with params and returns the text
// of both streams.
func (b *bench) read(state, id, params string) (string, error) {
	var p map[string]any
	if err := json.Unmarshal([]byte(params), &p); err != nil {
		return "", err
	}
	p["task_id"], p["stream"] = id, "stdout"
	in, _ := json.Marshal(p) // A map of JSON values always marshals.
	cmd := exec.Command(filepath.Join(b.bin, "bg-output"))
	cmd.Env = append(os.Environ(), "TASKS_DIR="+state, "TOOLBOX_ACTION=execute", "AGENT_THREAD_ID=", "AMP_CURRENT_THREAD_ID=")
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("bg-output %s: %v %s", in, err, out)
	}
	var res struct {
		Stdout string `json:"stdout"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return "", err
	}
	return res.Stdout, nil
}

func gunzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // Read only.
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
