package top

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// logView is what the log pane shows of the selected task.
type logView int

const (
	viewTail   logView = iota // the newest lines
	viewDigest                // errors, summary and last lines of the whole log
	viewFilter                // the lines matching a regexp
)

func (v logView) String() string { return [...]string{"tail", "digest", "filter"}[v] }

// model is the live view's state. Bubble Tea copies it on every update;
// the samples map is shared between copies, and only Update touches it.
type model struct {
	ctx      context.Context
	app      *toolbox.App
	interval time.Duration
	styles   styles

	width, height int
	tasks         []toolbox.TaskSummary
	summary       toolbox.ListSummary // of every task, not only those listed
	selected      string              // task id: the selection follows the task when rows move
	samples       map[string]*samples
	listErr       error

	view     logView
	filter   textinput.Model
	editing  bool   // the filter field has the keyboard
	before   string // the filter before "/" started a new one: esc restores it
	log      []string
	logTitle string
	logErr   error
	logKey   string // what the log pane shows was read for (see logKey)

	message string // the outcome of the last key that acted on a task
	follow  string // after a restart: select the running task of this label
}

func newModel(ctx context.Context, a *toolbox.App, interval time.Duration, out io.Writer) model {
	f := textinput.New()
	f.Prompt = "filter (regexp): "
	f.Placeholder = "error|warn"
	f.CharLimit = 200
	return model{
		ctx: ctx, app: a, interval: interval, styles: newStyles(lipgloss.NewRenderer(out)),
		samples: map[string]*samples{}, filter: f, width: 80, height: 24,
	}
}

// Messages.
type (
	tickMsg    struct{}
	refreshMsg struct {
		// ticked: the refresh loop's own, which sets the next tick; a
		// key's or an action's refresh sets none, or each would start
		// one more loop.
		ticked bool
		id     string // the selection it was asked for ("": none yet)

		list    toolbox.StatusList
		listErr error
		log     []string
		title   string
		logErr  error
		logKey  string
		// logSame: the log was not read again, nothing it depends on
		// changed since the pane's (m.log stays).
		logSame bool
	}
	actionMsg struct{ text, follow string }
)

func (m model) Init() tea.Cmd { return m.refresh(true) }

func (m model) tick() tea.Cmd {
	return tea.Tick(m.interval, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tickMsg:
		return m, m.refresh(true)
	case refreshMsg:
		var next tea.Cmd
		if msg.ticked {
			next = m.tick()
		}
		if msg.id != m.selected {
			return m, next // Another task's log: the selection moved since.
		}
		m.listErr, m.logErr = msg.listErr, msg.logErr
		if msg.listErr == nil {
			m.setTasks(msg.list.Tasks)
			m.summary = msg.list.Summary
		}
		if !msg.logSame {
			m.log, m.logTitle, m.logKey = msg.log, msg.title, msg.logKey
		}
		return m, next
	case actionMsg:
		m.message, m.follow = msg.text, msg.follow
		return m, m.refresh(false)
	case tea.KeyMsg:
		if m.editing {
			return m.editKey(msg)
		}
		return m.key(msg)
	}
	return m, nil
}

// setTasks takes a new list, samples its live figures and keeps the
// selection on the same task (or the same row when it went away).
func (m *model) setTasks(tasks []toolbox.TaskSummary) {
	row := m.row()
	now := time.Now()
	seen := map[string]bool{}
	for _, t := range tasks {
		seen[t.TaskID] = true
		s := m.samples[t.TaskID]
		if s == nil {
			s = &samples{}
			m.samples[t.TaskID] = s
		}
		if t.Status == "running" {
			s.add(now, t.CPUPercent, rssMB(t.RSS))
		}
	}
	for id := range m.samples {
		if !seen[id] {
			delete(m.samples, id)
		}
	}
	tasks = toolbox.GroupByStack(tasks) // A stack's services together.
	m.tasks = tasks
	for _, t := range tasks {
		if m.follow != "" && t.Label == m.follow && t.Status == "running" {
			m.selected, m.follow = t.TaskID, ""
		}
	}
	if m.row() < 0 && len(tasks) > 0 {
		m.selected = tasks[min(max(row, 0), len(tasks)-1)].TaskID
	}
}

// row is the selected task's index, -1 when none is.
func (m model) row() int {
	for i, t := range m.tasks {
		if t.TaskID == m.selected {
			return i
		}
	}
	return -1
}

func (m model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch msg.String() {
	case "q", "ctrl+c", "esc":
		return m, tea.Quit
	case "up", "k":
		if i := m.row(); i > 0 {
			m.selected = m.tasks[i-1].TaskID
			return m, m.refresh(false)
		}
	case "down", "j":
		if i := m.row(); i >= 0 && i < len(m.tasks)-1 {
			m.selected = m.tasks[i+1].TaskID
			return m, m.refresh(false)
		}
	case "v", "tab":
		m.view = (m.view + 1) % 3
		if m.view == viewFilter && m.filter.Value() == "" {
			m.before = ""
			return m.startEditing()
		}
		return m, m.refresh(false)
	case "/":
		// A new search, as in less and vim: the old one is not typed onto.
		m.view = viewFilter
		m.before = m.filter.Value()
		m.filter.SetValue("")
		return m.startEditing()
	case "s":
		return m, m.act("stop")
	case "r":
		return m, m.act("restart")
	case "x", "delete":
		return m, m.act("rm")
	}
	return m, nil
}

func (m model) startEditing() (tea.Model, tea.Cmd) {
	m.editing = true
	return m, m.filter.Focus()
}

func (m model) editKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch msg.String() {
	case "enter":
		m.editing = false
		m.filter.Blur()
		m.before = m.filter.Value()
		return m, m.refresh(false)
	case "esc":
		m.editing = false
		m.filter.Blur()
		m.filter.SetValue(m.before) // Cancelled: the search before it stands.
		if m.filter.Value() == "" {
			m.view = viewTail
		}
		return m, m.refresh(false)
	case "ctrl+c":
		return m, tea.Quit
	}
	var cmd tea.Cmd
	m.filter, cmd = m.filter.Update(msg)
	return m, cmd
}

// act runs a CLI command (stop, restart, rm) on the selected task, as
// `bgtask <command> ID` would, and reports what it printed.
func (m model) act(command string) tea.Cmd {
	i := m.row()
	if i < 0 {
		return nil
	}
	id, label := m.tasks[i].TaskID, m.tasks[i].Label
	a := *m.app // A copy that prints into buffers, not onto the screen.
	var out, words bytes.Buffer
	a.Stdin, a.Stdout, a.Stderr = strings.NewReader(""), &out, &words
	ctx := m.ctx
	return func() tea.Msg {
		code := cli.Run(ctx, &a, "bgtask", []string{command, id})
		// A command that prints an id for scripts on stdout says what it
		// did on stderr: the words, not the id twice.
		said := words.String()
		if strings.TrimSpace(said) == "" {
			said = out.String()
		}
		text := strings.Join(strings.Fields(said), " ")
		if text == "" {
			text = "done"
		}
		if code != toolbox.ExitOK {
			text = "failed: " + text
		}
		// Escaped whole: the label, and the CLI's words about the task.
		msg := actionMsg{text: toolbox.Printable(fmt.Sprintf("%s %s: %s", command, label, text))}
		if command == "restart" {
			msg.follow = label // Select it again, running.
		}
		return msg
	}
}

// refresh reads the list and the selected task's log, off the UI loop;
// ticked marks the refresh loop's own (see refreshMsg).
func (m model) refresh(ticked bool) tea.Cmd {
	a, ctx := m.app, m.ctx
	id, view, filter := m.selected, m.view, m.filter.Value()
	rows := max(m.logRows(), 1)
	shown, shownErr := m.logKey, m.logErr
	return func() tea.Msg {
		msg := refreshMsg{ticked: ticked, id: id}
		msg.list, msg.listErr = toolbox.Invoke[toolbox.StatusList](ctx, a, toolbox.StatusTool(), map[string]any{})
		if id == "" && len(msg.list.Tasks) > 0 {
			id = msg.list.Tasks[0].TaskID
		}
		if id == "" {
			return msg
		}
		// An idle task's log is not read again: it is the same as shown.
		msg.logKey = logKey(a, msg.list.Tasks, id, view, filter, rows)
		if msg.logKey != "" && msg.logKey == shown && shownErr == nil {
			msg.logSame, msg.title = true, id
			return msg
		}
		params := map[string]any{"task_id": id, "since": false, "max_lines": rows}
		switch view {
		case viewDigest:
			params["view"] = "digest"
		case viewFilter:
			if filter != "" {
				params["filter"] = filter
			}
		}
		res, err := toolbox.Invoke[toolbox.OutputResult](ctx, a, toolbox.OutputTool(), params)
		if msg.logErr = err; err == nil {
			msg.log = logLines(res, rows)
		}
		msg.title = id
		return msg
	}
}

// logKey names what a read of task id's log pane depends on: the view,
// filter and rows asked for, the task's status, and the size and time of
// its log files. "" when it cannot tell (a task on another host): read.
func logKey(a *toolbox.App, tasks []toolbox.TaskSummary, id string, view logView, filter string, rows int) string {
	i := slices.IndexFunc(tasks, func(t toolbox.TaskSummary) bool { return t.TaskID == id })
	if i < 0 || tasks[i].Host != "" {
		return ""
	}
	dir, err := a.Store.Path(id)
	if err != nil {
		return ""
	}
	key := fmt.Sprintf("%s %d %q %d %s", id, view, filter, rows, tasks[i].Status)
	for _, name := range []string{"stdout", "stderr"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return ""
		}
		key += fmt.Sprintf(" %d %d", fi.Size(), fi.ModTime().UnixNano())
	}
	return key
}

// logLines are the last rows lines of both streams: stdout, then stderr
// under a rule when it has any (the two are stored apart, without times
// to interleave them).
func logLines(res toolbox.OutputResult, rows int) []string {
	var lines []string
	split := func(s *string) []string {
		if s == nil || *s == "" {
			return nil
		}
		return strings.Split(strings.TrimRight(*s, "\n"), "\n")
	}
	lines = append(lines, split(res.Stdout)...)
	if errLines := split(res.Stderr); len(errLines) > 0 {
		lines = append(lines, "── stderr ──")
		lines = append(lines, errLines...)
	}
	if len(lines) > rows {
		lines = lines[len(lines)-rows:]
	}
	return lines
}

// rssMB reads bg_status's memory figure ("148 MB").
func rssMB(s string) float64 {
	n, _ := strconv.ParseFloat(strings.TrimSuffix(s, " MB"), 64) // Absent for a task without processes: 0.
	return n
}

// layout: the header line, the table's header, its rows, the log pane's
// title, its lines, and the footer.
const chromeRows = 4

// tableRows is how many task rows the table shows: all of them, up to
// half the screen.
func (m model) tableRows() int {
	return max(1, min(len(m.tasks), (m.height-chromeRows)/2))
}

func (m model) logRows() int {
	return m.height - chromeRows - m.tableRows() - 1
}

// View draws the screen: every line fits the width, so the terminal
// never wraps.
func (m model) View() string {
	st := m.styles
	var b strings.Builder
	line := func(s string) {
		b.WriteString(ansi.Truncate(s, m.width, "…"))
		b.WriteByte('\n')
	}
	// The list holds the running tasks and the newest finished ones: the
	// header counts them all, as bgtask ls does.
	head := fmt.Sprintf("bgtask top: %d tasks, %d running", m.summary.Total, m.summary.Running)
	if len(m.tasks) < m.summary.Total {
		head += fmt.Sprintf(", %d listed", len(m.tasks))
	}
	line(st.title.Render(head) +
		st.dim.Render(fmt.Sprintf("   every %v   %s", m.interval, time.Now().Format("15:04:05"))))

	const spark = 20 // columns: 3 s each over the minute
	cols := columns(m.width, spark)
	line(st.header.Render(row(cols, func(c column) string { return c.name })))
	if m.listErr != nil {
		line(st.failed.Render("cannot list the tasks: " + m.listErr.Error()))
	} else if len(m.tasks) == 0 {
		line(st.dim.Render("no tasks: start one with bgtask run"))
	}
	first := max(0, min(m.row()-m.tableRows()+1, len(m.tasks)-m.tableRows()))
	for i := first; i < len(m.tasks) && i < first+m.tableRows(); i++ {
		t := m.tasks[i]
		s := m.samples[t.TaskID]
		cells := map[string]string{
			"LABEL": stackLabel(t), "STATUS": cli.StatusText(t.Status, t.ExitCode), "AGE": t.Age, "AUTO-KILL": cli.AutoKillText(t),
			"PORTS": strings.Join(t.Listening, " "), "COMMAND": t.Command,
		}
		if t.Status == "running" {
			cells["CPU%"] = strconv.FormatFloat(t.CPUPercent, 'f', 1, 64)
			cells["MEM"] = t.RSS
			if s != nil {
				cells["CPU 1m"] = s.sparkline(spark, time.Now(), func(x sample) float64 { return x.cpu }, 100)
				cells["MEM 1m"] = s.sparkline(spark, time.Now(), func(x sample) float64 { return x.mem }, 0)
			}
		}
		// Every cell escaped: the label is whatever the record holds, and
		// a remote host's figures are its word.
		text := row(cols, func(c column) string { return toolbox.Printable(cells[c.name]) })
		style := st.statusStyle(t.Status)
		if t.TaskID == m.selected {
			style = st.selected
		}
		line(style.Render(ansi.Truncate(text, m.width, "…")))
	}

	title := "log"
	if i := m.row(); i >= 0 {
		title = m.tasks[i].Label
	}
	title += " · " + m.view.String()
	if m.view == viewFilter && m.filter.Value() != "" {
		title += " /" + m.filter.Value() + "/"
	}
	title = toolbox.Printable(title)
	rule := strings.Repeat("─", max(0, m.width-lipgloss.Width(title)-4))
	line(st.header.Render("── " + title + " " + rule))
	logRows := m.logRows()
	var body []string
	switch {
	case m.editing:
		body = append(body, m.filter.View())
	case m.logErr != nil:
		body = append(body, st.failed.Render(m.logErr.Error()))
	case len(m.log) == 0 && m.row() >= 0:
		body = append(body, st.dim.Render("(no output yet)"))
	default:
		body = m.log
	}
	for i := 0; i < logRows; i++ {
		if i < len(body) {
			line(body[i])
		} else {
			line("")
		}
	}
	footer := "↑/↓ select  v view (tail, digest, filter)  / filter  s stop  r restart  x remove  q quit"
	if lipgloss.Width(footer) > m.width {
		footer = "↑↓ select  v view  / filter  s stop  r restart  x remove  q quit"
	}
	if m.message != "" {
		footer = m.message
	}
	b.WriteString(st.dim.Render(ansi.Truncate(footer, m.width, "…")))
	return b.String()
}

// Column widths: what every width shows, then what shows when there is
// room, in this order.
const (
	portsMin   = 22 // PORTS when more columns follow it
	commandMin = 20
)

// columns lays out the table for width: LABEL, STATUS (with a failed
// task's exit code), AGE, CPU%, MEM and PORTS always (80 columns hold
// them); AUTO-KILL, the minute's sparklines and COMMAND when there is
// room for them.
func columns(width, spark int) []column {
	cols := []column{{"LABEL", 16}, {"STATUS", 12}, {"AGE", 8}, {"CPU%", 6}, {"MEM", 8}}
	used := 0
	for _, c := range cols {
		used += c.width
	}
	room := width - used - portsMin
	var extra []column
	if room >= 16 {
		extra = append(extra, column{"AUTO-KILL", 16})
		room -= 16
	}
	if room >= 2*(spark+1) {
		extra = append(extra, column{"CPU 1m", spark + 1}, column{"MEM 1m", spark + 1})
		room -= 2 * (spark + 1)
	}
	if room >= commandMin {
		return append(append(cols, column{"PORTS", portsMin}), append(extra, column{"COMMAND", 0})...)
	}
	if len(extra) == 0 {
		return append(cols, column{"PORTS", 0})
	}
	return append(append(cols, column{"PORTS", portsMin}), extra...)
}

type column struct {
	name  string
	width int // 0: the rest of the line
}

// row lays out cells in fixed-width columns.
func row(cols []column, cell func(column) string) string {
	var b strings.Builder
	for _, c := range cols {
		s := cell(c)
		if c.width == 0 {
			b.WriteString(s)
			continue
		}
		s = ansi.Truncate(s, c.width-1, "…")
		b.WriteString(s + strings.Repeat(" ", c.width-lipgloss.Width(s)))
	}
	return strings.TrimRight(b.String(), " ")
}

// stackLabel is a task's label, with the file that declares it when it
// is a stack's service ("web · Procfile").
func stackLabel(t toolbox.TaskSummary) string {
	if t.Stack == "" {
		return t.Label
	}
	return t.Label + " · " + filepath.Base(t.Stack)
}
