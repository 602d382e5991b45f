package top

import (
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
)

// sample is one reading of a running task's live figures.
type sample struct {
	at       time.Time
	cpu, mem float64 // percent of one core; MB
}

// samples are a task's readings over the last minute, oldest first.
type samples struct{ list []sample }

func (s *samples) add(at time.Time, cpu, mem float64) {
	s.list = append(s.list, sample{at, cpu, mem})
	cut := 0
	for cut < len(s.list) && at.Sub(s.list[cut].at) > history {
		cut++
	}
	s.list = s.list[cut:]
}

var bars = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the last minute in width columns, each the highest
// reading of its share of the minute; columns before the first reading
// are blank. The scale's top is floor, or the highest reading when that
// is higher (0: the highest reading, for memory, whose scale has no
// natural top).
func (s *samples) sparkline(width int, now time.Time, get func(sample) float64, floor float64) string {
	top := floor
	for _, x := range s.list {
		top = max(top, get(x))
	}
	slot := history / time.Duration(width)
	cols := make([]float64, width)
	has := make([]bool, width)
	for _, x := range s.list {
		age := now.Sub(x.at)
		i := width - 1 - int(age/slot)
		if i < 0 || i >= width {
			continue
		}
		cols[i] = max(cols[i], get(x))
		has[i] = true
	}
	var b strings.Builder
	for i, v := range cols {
		switch {
		case !has[i]:
			b.WriteByte(' ')
		case top <= 0:
			b.WriteRune(bars[0])
		default:
			b.WriteRune(bars[min(len(bars)-1, int(v/top*float64(len(bars)-1)+0.5))])
		}
	}
	return b.String()
}

// styles are the view's colours, for the terminal's colour profile (none
// with NO_COLOR).
type styles struct {
	title, header, dim, plain, selected, running, failed lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	return styles{
		title:    r.NewStyle().Bold(true),
		header:   r.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		dim:      r.NewStyle().Faint(true),
		plain:    r.NewStyle(),
		selected: r.NewStyle().Reverse(true),
		running:  r.NewStyle().Foreground(lipgloss.Color("10")),
		failed:   r.NewStyle().Foreground(lipgloss.Color("9")),
	}
}

// statusStyle colours a row by its task's status.
func (st styles) statusStyle(status string) lipgloss.Style {
	switch status {
	case "running":
		return st.running
	case "completed":
		return st.plain
	default:
		return st.failed
	}
}
