package capture

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// A digest is the read for diagnosis: instead of the newest lines, the
// lines of the whole (retained) stream that a debugger needs, in log
// order, within the MaxLines budget:
//
//   - every problem line (error, failure, panic, assertion, traceback,
//     fatal) with the lines that lead into it and the indented lines that
//     continue it (stack frames, expected/actual, code frames);
//   - summary and exit lines (test totals, "Found N errors", exit codes),
//     the run's verdict (the last of them) before anything else;
//   - the last lines of the log;
//
// and the lines between them summarized by a count line saying what they
// were ("[... 1,234 lines: 1,180 passing, 40 progress, 14 other ...]").
// A block of lines equal to one already shown is not shown again but
// referred to ("[... same 28 lines as above, 4th time ...]"). When the
// problems do not fit, the first ones of every kind are shown in full and
// the rest counted, by kind: no kind is ever dropped silently.
//
// A digest holds the cleaned lines of one read in memory; the reader
// bounds what it feeds (the newest maxNewestWindow lines).

// lineKind classifies a cleaned line for the digest.
type lineKind uint8

const (
	kindOther    lineKind = iota
	kindPass              // a passing test or step
	kindProgress          // downloads, progress, compilation of dependencies
	kindWarn              // a warning or deprecation
	kindSummary           // totals, exit codes, "Found N errors"
	kindError             // an error, failure, panic, assertion, fatal
	kindStrong            // certainly the failure: FAIL, error:, exceptions, exit codes
)

var kindNames = [...]string{kindOther: "other", kindPass: "passing", kindProgress: "progress", kindWarn: "warning", kindSummary: "summary", kindError: "error", kindStrong: "error"}

// classifiers are the digest's regexps, compiled on first use: a read
// that makes no digest (nearly every call) does not pay for them.
type classifiers struct {
	errorRe, notErrorRe, summaryRe, strongRe, warnRe, passRe, progressRe, testParams *regexp.Regexp
}

var digestRegexps = sync.OnceValue(func() *classifiers {
	return &classifiers{
		// Case-insensitive words and shapes that report a problem.
		errorRe: regexp.MustCompile(`(?i)(\berr(or)?s?\b|\b[a-z]+error\b|\bfail(ed|ure|ing|s)?\b|\bpanic(ked)?\b|\bfatal\b|traceback|\bexception\b|\bassert(ion)?\b|\bE\d{3,5}\b|ERR!|ERR_[A-Z_]+|\bcannot\b|\bcan't\b|\bcould not\b|\bunable to\b|not found|no such file|\bundefined\b|\brefused\b|\btimed? ?out\b|\bsegmentation fault\b|\baborted\b|did not complete|\bbad gateway\b|\bunexpected\b|\bexpected\b.*\b(got|received|found|but)\b|✕|✗|✘|✖|⨯|×|❌|\bnot ok\b|returned error)`),
		// Words that mean a line is not itself a problem although it names
		// one: counters at zero, success of a test named after an error.
		notErrorRe: regexp.MustCompile(`(?i)(\b0 (errors?|failures?|failed)\b|\bno errors?\b|\bwithout errors?\b|\berrors?: 0\b|\bfailed: 0\b|✓|✔|\bpassed\b.*\b0 failed\b)`),
		summaryRe:  regexp.MustCompile(`(?i)(\b\d+ (passed|failed|errors?|skipped|tests?|suites?|warnings?|xfailed|xpassed|problems?)\b|^\s*(tests?|test suites|test files|snapshots|suites)\s*:|\btest result\b|\bfound \d+ (errors?|problems?)\b|\bexit(ed)? (with )?(code|status)\b|\bexit code\b|\bcompleted with\b|short test summary|^=+ .+ =+$|^-+ .+ -+$|\bcommand failed\b|\belifecycle\b|^##\[(error|warning)\]|\bbuild (failed|succeeded)\b|\bcompiled with \d+ errors?\b|\bsummarizing \d+ failures?\b)`),
		// Shapes that certainly report the failure itself, case-sensitive:
		// test runners' FAIL lines, compilers' "error:", exception names,
		// CI's ##[error], exit codes other than 0.
		strongRe:   regexp.MustCompile(`(^\s*(FAIL|FAILED|ERROR)\b|--- FAIL|✕|✗|✘|^\s*[✖⨯] |^\s*● [^C]|^##\[error\]|\bpanic(ked)?\b|^Traceback|^\s*E {2,}\S|\b[A-Z][A-Za-z]*(Error|Exception)\b|\b[Ee]rror(\[\w+\])?:|\berror TS\d+|\bERROR\b|npm ERR!|ERR_[A-Z_]+|\bfatal:|\bFATAL\b|\bExpected\b|did not complete successfully|exit (code|status):? [1-9]|exited with (code|status) [1-9]|\bfailed (with|to)\b|\bFailed$|returned error|\b[45]\d\d [A-Z][a-z]+ [A-Z][a-z]+|Segmentation fault|No tests found|^not ok\b|\bfailed to pass\b|\breturn(ed)? code:? [1-9])`),
		warnRe:     regexp.MustCompile(`(?i)(\bwarn(ing)?s?\b|\bdeprecat)`),
		passRe:     regexp.MustCompile(`(?i)(^\s*(✓|✔|√|PASS\b|ok\b)|\bPASSED\b|\.\.\. ok$|^\s*ok \d+ |^\s*--- PASS|^test .* \.\.\. ok$)`),
		progressRe: regexp.MustCompile(`(?i)(^\s*(downloading|downloaded|download|fetching|fetched|resolving|resolved|installing|collecting|compiling|checking|building|unpacking|extracting|pulling|pull complete|waiting|preparing|progress|get:|hit:|setting up|selecting|using cached)\b|\d+(\.\d+)?\s?(%|[kmg]i?b/s)|^#\d+ (sha256|extracting|\d+\.\d+ )|^\s*[\[(]?\d+/\d+[\])]?\s)`),
		testParams: regexp.MustCompile(`::[\w.]+\[[^\]]*\]`),
	}
})

// Gates: cheap substring tests on the lower-cased line that must pass
// before the regexp they guard runs. Go's regexps are slow on long
// case-insensitive alternations; most lines of a log fail every gate.
var (
	errorGate    = []string{"err", "fail", "panic", "fatal", "traceback", "exception", "assert", "cannot", "can't", "could not", "unable", "not found", "no such", "undefined", "refused", "time", "segmentation", "abort", "did not", "gateway", "expected", "✕", "✗", "✘", "✖", "⨯", "×", "❌", "not ok"}
	strongGate   = append([]string{"●", "##[", "exit", "return code", "returned code", "internal", "unavailable", "forbidden", "unauthorized", "no tests found"}, errorGate...)
	summaryGate  = []string{"pass", "fail", "error", "skip", "test", "suite", "warn", "xfail", "xpass", "problem", "result", "found", "exit", "complet", "summary", "==", "--", "elifecycle", "##[", "build", "compiled", "snapshots", "summariz"}
	passGate     = []string{"pass", "ok", "✓", "✔", "√"}
	warnGate     = []string{"warn", "deprecat"}
	progressGate = []string{"download", "fetch", "resolv", "install", "collect", "compil", "check", "build", "unpack", "extract", "pull", "wait", "prepar", "progress", "get:", "hit:", "setting up", "selecting", "using cached", "%", "/s", "#"}
)

func gate(low string, words []string) bool {
	for _, w := range words {
		if strings.Contains(low, w) {
			return true
		}
	}
	return false
}

// digitSlashDigit reports whether s holds a count such as 3/10, which
// progress lines show; a bare slash (every path, every URL) does not gate
// the progress regexp in.
func digitSlashDigit(s string) bool {
	for i := 1; i+1 < len(s); i++ {
		if s[i] == '/' && s[i-1] >= '0' && s[i-1] <= '9' && s[i+1] >= '0' && s[i+1] <= '9' {
			return true
		}
	}
	return false
}

// classify says what a cleaned line is for the digest, and whether it
// has a summary's shape (totals, "Found N errors", exit codes), which
// states a run's outcome whatever the line's kind.
func classify(l string) (k lineKind, summary bool) {
	re := digestRegexps()
	if strings.Contains(l, "::") && strings.Contains(l, "[") {
		// Test parameters ("test_x[a-OSError-1]") are free text that
		// must not make a test's name read as an error.
		l = re.testParams.ReplaceAllString(l, "::test")
	}
	low := strings.ToLower(l)
	// A count of passed tests is a summary, not a passing test.
	isSummary := gate(low, summaryGate) && re.summaryRe.MatchString(l)
	isPass := !isSummary && gate(low, passGate) && re.passRe.MatchString(l)
	trimmed := strings.TrimLeft(l, " \t")
	switch {
	case isPass:
		return kindPass, isSummary
	case (gate(low, strongGate) || strings.HasPrefix(trimmed, "E ")) && re.strongRe.MatchString(l) && !re.notErrorRe.MatchString(l):
		return kindStrong, isSummary
	case gate(low, errorGate) && re.errorRe.MatchString(l) && !re.notErrorRe.MatchString(l):
		return kindError, isSummary
	case isSummary:
		return kindSummary, isSummary
	case gate(low, warnGate) && re.warnRe.MatchString(l):
		return kindWarn, isSummary
	case (gate(low, progressGate) || digitSlashDigit(low)) && re.progressRe.MatchString(l):
		return kindProgress, isSummary
	}
	return kindOther, isSummary
}

// continues reports whether l continues the problem reported above it:
// indented lines, stack frames, code frames and expected/actual lines.
func continues(l string) bool {
	if l == "" {
		return false
	}
	switch l[0] {
	case ' ', '\t', '|', '^', '>', '+', '~':
		return true
	}
	t := strings.TrimLeft(l, " \t")
	// Go's panic trace: the goroutine, function lines and folded frames
	// that lead to the user's location.
	if strings.HasPrefix(l, "goroutine ") && strings.HasSuffix(l, "]:") || isFunctionLine([]byte(l)) || isFoldLine([]byte(l)) {
		return true
	}
	for _, p := range []string{"at ", "-->", "E ", "- ", "Expected", "Received", "expected", "received", "actual", "Actual", "Caused by", "caused by", "File \"", "note:", "help:", "= note", "= help", "hint:", "Hint:", "from "} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	// "12 | code" frames and "  42:7  error ..." columns start with digits;
	// a clock time ("7:01:04 PM [vite] ...") starts the next message.
	if i := strings.IndexAny(t, "|:"); i > 0 && i < 8 && strings.Trim(t[:i], "0123456789 ") == "" {
		return !isClockTime(t)
	}
	return false
}

// isFailureHeader reports whether l names a failed test as test runners
// print it before the failure's details: "✖ adds (1.2ms)", " FAIL
// a.test.js > adds", "--- FAIL: TestX", "● suite › adds", "not ok 3 - adds",
// pre-commit's "mypy.....Failed".
func isFailureHeader(l string) bool {
	t := strings.TrimLeft(l, " \t")
	if strings.HasSuffix(t, "...Failed") && !strings.HasPrefix(t, ".") {
		return true // pre-commit's "mypy (stubtest).........Failed"
	}
	for _, p := range []string{"✖ ", "✕ ", "✗ ", "✘ ", "× ", "FAIL ", "--- FAIL", "● ", "not ok ", "[FAIL]", "FAILED "} {
		if strings.HasPrefix(t, p) {
			return len(t) > len(p)+1
		}
	}
	return false
}

// isClockTime reports whether t starts with a time of day, h:mm:ss.
func isClockTime(t string) bool {
	i := strings.IndexByte(t, ':')
	return i >= 1 && i <= 2 && len(t) >= i+6 && isDigit(t[i+1]) && isDigit(t[i+2]) && t[i+3] == ':' && isDigit(t[i+4]) && isDigit(t[i+5])
}

// Digest budget shares of MaxLines: the log's end always, the lines before
// a problem and the continuation after it at most.
const (
	digestTailShare = 6 // 1/6 of the budget for the last lines
	digestBefore    = 2
	digestAfter     = 12
)

type digest struct {
	max   int
	arena []byte
	ends  []int
}

func (d *digest) add(l []byte) {
	d.arena = append(d.arena, l...)
	d.ends = append(d.ends, len(d.arena))
}

func (d *digest) line(i int) string {
	start := 0
	if i > 0 {
		start = d.ends[i-1]
	}
	return string(d.arena[start:d.ends[i]])
}

// block is a run of selected lines [from, to).
type block struct {
	from, to int
	kind     lineKind // the most important kind in it
	first    int      // the line that made it (the problem or summary line)
	key      string   // identity of that line, numbers and all, with the block's locations (see blockKey)
	verdict  bool     // that line states the run's outcome (see classify)
	near     string   // the block with numbers masked, for counting repeats; "" for none
}

// digestRound is one pass of block selection: which kinds it takes, from
// which end of the log, and how many blocks of one message shape (the
// anchor line with numbers masked) may be shown in all.
type digestRound struct {
	kinds    []lineKind
	backward bool
	perShape int
	share    int // percent of the budget this round and the ones before may fill
	// verdict takes only blocks whose anchor states the run's outcome
	// (a summary or an exit line, whatever its kind), at most count of
	// them, each without the lines that lead into it.
	verdict bool
	count   int
}

// digestRounds give the order of importance: the run's verdict first (its
// last summary and exit lines: "FAIL! -- 1223 Passed | 1 Failed",
// "Process completed with exit code 1", which the last lines do not always
// reach), then the failure lines (the first ones of every message), then the run's summaries (the last ones
// first), then other error lines (the last ones first: the end is where a
// run failed), then more places of messages already shown.
var digestRounds = []digestRound{
	{kinds: []lineKind{kindSummary, kindError, kindStrong}, backward: true, perShape: 1, share: 15, verdict: true, count: 4},
	{kinds: []lineKind{kindStrong}, perShape: 1, share: 55},
	{kinds: []lineKind{kindSummary}, backward: true, perShape: 1, share: 75},
	{kinds: []lineKind{kindError}, backward: true, perShape: 1, share: 85},
	{kinds: []lineKind{kindStrong, kindError}, perShape: 3, share: 100},
}

// verdictProblems is how many problem blocks the verdict round looks past:
// a summary between the last errors ("npm ERR! Test failed" after
// "Tests: 1 failed") is still the verdict.
const verdictProblems = 2

// lines selects and renders the digest; omitted counts the lines not shown.
// It runs in phases, each its own function below, so that one can be
// changed without reading the others: classify every line; cut the log
// into anchor blocks; set aside what is always shown (the last lines) and
// room for the failure index (newSelection); choose blocks, the CI frame
// first, then round by round in the order of digestRounds; index the
// failures the chosen blocks do not show; render in log order.
func (d *digest) lines() (out []string, omitted int) {
	n := len(d.ends)
	if n == 0 {
		return nil, 0
	}
	text, kinds, summary := d.classified()
	if n <= d.max {
		// Whole, but no noisier than the default read: repeats collapse.
		return collapseAll(dedupeUnits(text, kinds, summary)), 0
	}
	s := newSelection(text, kinds, summary, anchorBlocks(text, kinds, summary), d.max)
	s.chooseCIFrame()
	s.chooseRounds()
	index, suffix, failsLeft, failHint := s.failureIndex()
	out, omitted = s.render(index, suffix)
	notShown := s.notShown() // Filling below adds no problem block: it stays.
	notes := 0
	if failsLeft > 0 {
		notes++
	}
	if notShown > 0 {
		notes++
	}
	if room := d.max - len(out) - notes; room > 0 {
		s.fill(room)
		out, omitted = s.render(index, suffix)
	}
	if failsLeft > 0 {
		out = append(out, fmt.Sprintf("[... %d more failed tests not named for the budget (max_lines); read them with filter=%q ...]", failsLeft, failHint))
	}
	if notShown > 0 {
		out = append(out, fmt.Sprintf("[... %d more error blocks not shown for the budget (max_lines); counted above as error lines; read them with filter= ...]", notShown))
	}
	if len(out) > d.max {
		// A budget too small for even what is always shown: the newest
		// lines of the digest, as a tail read would give them.
		cut := len(out) - d.max + 1
		omitted += cut
		out = append([]string{OmittedMarker(cut)}, out[cut:]...)
	}
	return out, omitted
}

// classified returns the lines with their kinds and whether each has a
// summary's shape. Logs repeat lines, and classify's regexps are the
// digest's main cost: each distinct line is classified once (up to 64Ki
// of them, to bound the memory).
func (d *digest) classified() (text []string, kinds []lineKind, summary []bool) {
	type class struct {
		kind    lineKind
		summary bool
	}
	n := len(d.ends)
	text = make([]string, n)
	kinds = make([]lineKind, n)
	summary = make([]bool, n)
	known := map[string]class{}
	for i := range text {
		text[i] = d.line(i)
		c, ok := known[text[i]]
		if !ok {
			c.kind, c.summary = classify(text[i])
			if len(known) < 1<<16 {
				known[text[i]] = c
			}
		}
		kinds[i], summary[i] = c.kind, c.summary
	}
	return text, kinds, summary
}

// anchorBlocks cuts the log into the blocks a digest chooses from: each
// problem or summary line (the anchor) with the lines that lead into a
// problem and those that continue it, so that a problem is never shown
// without its stack frames or expected/actual lines.
func anchorBlocks(text []string, kinds []lineKind, summary []bool) []block {
	var blocks []block
	n := len(text)
	for i := 0; i < n; i++ {
		k := kinds[i]
		if k < kindSummary {
			continue
		}
		from := i
		if k >= kindError {
			for from > 0 && i-from < digestBefore && kinds[from-1] != kindPass && kinds[from-1] != kindProgress {
				from--
			}
		}
		// A summary stands alone: what follows a count is the next step.
		to := i + 1
		if k >= kindError && to < n && announces(text[i]) && kinds[to] < kindError {
			to++ // "panicked at src/lib.rs:104:21:" then its message, unindented.
		}
		for to < n && to-i <= digestAfter && k >= kindError && continues(text[to]) {
			to++
		}
		blocks = append(blocks, block{from: from, to: to, kind: k, first: i, key: blockKey(text[i], text[i+1:to]), verdict: summary[i]})
		i = to - 1
	}
	return blocks
}

// announces reports whether a problem line ends by announcing what
// follows it ("thread 'main' panicked at src/lib.rs:104:21:", "Caused
// by:"), so that the next line is its message whatever its indent.
func announces(l string) bool {
	return strings.HasSuffix(strings.TrimRight(l, " \t"), ":")
}

// blockKey is what tells a problem block from one already shown: its
// anchor line, numbers and all, and the locations and error codes of the
// lines that continue it. Two "error[E0308]: mismatched types" are two
// errors when their "--> src/lib.rs:46:16" and "--> src/lib.rs:67:5" differ.
func blockKey(anchor string, rest []string) string {
	key := []byte(anchor)
	for _, l := range rest {
		key = diagIdentity(key, []byte(l))
	}
	return string(key)
}

// logEnd is where the log's last lines end: before a CI runner's own
// clean-up ("Post job cleanup.") when there is one, which says nothing
// about the failure.
func logEnd(text []string) int {
	n := len(text)
	end := n
	for i := n - 1; i >= max(0, n-200); i-- {
		if text[i] == "Post job cleanup." {
			end = i + 1
		}
	}
	return end
}

// selection is the state of choosing a digest's blocks, shared by the
// phases that choose them, index the failures and render them.
type selection struct {
	text   []string
	kinds  []lineKind
	blocks []block
	chosen []bool // per block
	// near is, per block, the problem block with numbers masked ("" for
	// none): identical or near-identical problem blocks are shown once,
	// their anchor marked with how many there are (nearCount).
	near      []string
	nearCount map[string]int
	// nearFirst is the anchor line of the first block of each near key
	// (strictly masked: see nearKey), nearVaries whether another's
	// differs from it (see repeatMark).
	nearFirst  map[string]string
	nearVaries map[string]bool
	nearShown  map[string]bool
	seen       map[string]bool // anchor lines shown
	end        int             // see logEnd
	tail       block           // the last lines, always shown
	budget     int             // lines for blocks and the failure index
	// failReserve of the budget is kept for the failure index: each
	// failure's name and first location come before any context.
	failReserve int
	fails       []failure
	used        int // lines chosen, gap lines included
}

// newSelection sets aside what is always shown, the last lines with the
// gap line before them and the runner's last line with its gap line, and
// room for the failure index, and marks the repeats among the problem
// blocks.
func newSelection(text []string, kinds []lineKind, summary []bool, blocks []block, maxLines int) *selection {
	n := len(text)
	s := &selection{
		text:       text,
		kinds:      kinds,
		blocks:     blocks,
		chosen:     make([]bool, len(blocks)),
		near:       make([]string, len(blocks)),
		nearCount:  map[string]int{},
		nearFirst:  map[string]string{},
		nearVaries: map[string]bool{},
		nearShown:  map[string]bool{},
		seen:       map[string]bool{},
		end:        logEnd(text),
	}
	tailLen := max(1, maxLines/digestTailShare)
	s.tail = block{from: max(0, s.end-tailLen), to: s.end, kind: kindSummary, first: s.end - 1}
	reserve := (s.tail.to - s.tail.from) + 2
	if s.end < n {
		reserve += 2
	}
	s.budget = maxLines - reserve
	s.fails = failuresOf(text, kinds, s.tail.from)
	if len(s.fails) > 0 {
		s.failReserve = min(len(s.fails)+1, s.budget/2)
	}
	for bi, b := range blocks {
		if b.kind >= kindError {
			var key []byte
			for i := b.first; i < b.to; i++ {
				key = append(nearKey(key, text[i], summary[i] || i > b.first), '\n')
			}
			k := string(key)
			s.near[bi] = k
			s.nearCount[k]++
			anchor := string(nearKey(nil, text[b.first], true))
			if first, ok := s.nearFirst[k]; !ok {
				s.nearFirst[k] = anchor
			} else if first != anchor {
				s.nearVaries[k] = true
			}
		}
	}
	return s
}

// chooseCIFrame chooses a CI job's frame before anything else: the job's
// name and the step whose error ended it (the "##[group]Run …" enclosing
// the last "##[error]"), which place every other line.
func (s *selection) chooseCIFrame() {
	for _, i := range ciFrame(s.text, s.end) {
		s.blocks = append(s.blocks, block{from: i, to: i + 1, kind: kindSummary, first: i, key: s.text[i]})
		s.chosen = append(s.chosen, true)
		s.near = append(s.near, "")
		s.seen[s.text[i]] = true
		s.used += 2
	}
}

// chooseRounds chooses blocks in the order of importance of digestRounds,
// each round within its share of the budget less the failure index's
// room, at most perShape blocks of one message shape, and no block the
// last lines show anyway.
func (s *selection) chooseRounds() {
	budget := s.budget - s.failReserve
	shape := map[string]int{} // masked anchor line -> blocks shown
	var masked []byte
	for _, r := range digestRounds {
		taken, problems := 0, 0
		for j := range s.blocks {
			bi := j
			if r.backward {
				bi = len(s.blocks) - 1 - j
			}
			b := s.blocks[bi]
			if r.verdict && b.first < s.tail.from && b.kind >= kindError && !b.verdict {
				// The verdict is what follows the last problems: past a
				// few of them, a summary is an earlier run's or step's.
				if problems++; problems > verdictProblems {
					break
				}
			}
			if s.chosen[bi] || s.seen[b.key] || !slices.Contains(r.kinds, b.kind) || r.verdict && !b.verdict {
				continue
			}
			if s.near[bi] != "" && s.nearShown[s.near[bi]] {
				continue
			}
			if b.first >= s.tail.from {
				continue // The last lines show it anyway.
			}
			if r.verdict {
				if taken == r.count {
					continue
				}
				b.from = b.first
			}
			masked = messageShape(masked[:0], s.text[b.first])
			sh := string(masked)
			if shape[sh] >= r.perShape {
				continue
			}
			room := budget*r.share/100 - s.used - 1 // a gap line before it
			if room < 1 {
				break
			}
			if b.to-b.from > room { // Too long whole: its anchor and what follows.
				b.from = b.first
				b.to = min(b.to, b.first+room)
			}
			s.chosen[bi] = true
			s.blocks[bi] = b
			s.seen[b.key] = true
			if s.near[bi] != "" {
				s.nearShown[s.near[bi]] = true
			}
			shape[sh]++
			taken++
			s.used += b.to - b.from + 1
		}
	}
}

// failureIndex lists every failure's name and first location in the
// user's code that the chosen blocks do not show, one line each, with
// a heading, to go first: the failures are what a debugger looks for.
// suffix gives, for a failure's name shown without its location, the
// location to print after it. Failures past the budget are counted
// (left), with a filter that finds them (hint).
func (s *selection) failureIndex() (index []string, suffix map[int]string, left int, hint string) {
	shown := make([]bool, len(s.text))
	for bi, b := range s.blocks {
		if s.chosen[bi] {
			for i := b.from; i < b.to; i++ {
				shown[i] = true
			}
		}
	}
	suffix = map[int]string{}
	for _, f := range s.fails {
		if shown[f.header] {
			if f.location >= 0 && !shown[f.location] {
				name := strings.TrimSpace(s.text[f.header])
				if l := failureLine(s.text, f); len(l) > len(name) {
					suffix[f.header] = l[len(name):]
				}
			}
			continue
		}
		if s.used+len(index)+2 > s.budget {
			left++
			if hint == "" {
				hint = failurePattern(s.text[f.header])
			}
			continue
		}
		index = append(index, failureLine(s.text, f))
	}
	if len(index) > 0 {
		what := "failed tests"
		if len(index) == 1 {
			what = "failed test"
		}
		index = append([]string{fmt.Sprintf("[... %d %s not shown below, with where each failed first in your code ...]", len(index), what)}, index...)
	}
	return index, suffix, left, hint
}

// notShown counts the problem blocks left out for the budget, apart from
// repeats of one shown and those in the last lines, for the closing note
// that says they exist.
func (s *selection) notShown() int {
	count := 0
	for bi, b := range s.blocks {
		if !s.chosen[bi] && b.kind >= kindError && b.first < s.tail.from && (s.near[bi] == "" || !s.nearShown[s.near[bi]]) {
			count++
		}
	}
	return count
}

// render prints the failure index, then the chosen blocks and the last
// lines in log order, the lines between them summarized by a count line
// (gapLine), a block equal to one already printed referred to instead of
// printed again, and a problem shown for several near-identical ones
// marked with their number ("[× 3]").
func (s *selection) render(index []string, suffix map[int]string) (out []string, omitted int) {
	sel := s.shown()
	shownBlocks := map[string]int{}
	out = append(out, index...)
	pos := 0
	for _, b := range sel {
		if b.to <= pos {
			continue
		}
		b.from = max(b.from, pos)
		switch {
		case b.from == pos+1:
			out = append(out, s.text[pos]) // A count line would take its room.
		case b.from > pos:
			out = append(out, gapLine(s.kinds[pos:b.from]))
			omitted += b.from - pos
		}
		start := max(b.first, b.from)
		body := strings.Join(s.text[start:b.to], "\n")
		if k := shownBlocks[body]; k > 0 && b.to-start > 1 {
			out = append(out, s.text[b.from:start]...)
			out = append(out, fmt.Sprintf("[... same %d lines as above, %s time ...]", b.to-start, ordinal(k+1)))
			omitted += b.to - start
		} else {
			for i := b.from; i < b.to; i++ {
				l := s.text[i] + suffix[i]
				if i == b.first && b.near != "" && s.nearCount[b.near] > 1 {
					l += repeatMark(s.nearCount[b.near], s.nearVaries[b.near])
				}
				out = append(out, l)
			}
		}
		shownBlocks[body]++
		pos = b.to
	}
	return out, omitted
}

// shown returns the blocks chosen and the last lines, in log order.
func (s *selection) shown() []block {
	var sel []block
	for bi, b := range s.blocks {
		if s.chosen[bi] {
			b.near = s.near[bi]
			sel = append(sel, b)
		}
	}
	sel = append(sel, s.tail)
	if n := len(s.text); s.end < n {
		sel = append(sel, block{from: n - 1, to: n})
	}
	slices.SortFunc(sel, func(a, b block) int { return a.from - b.from })
	return sel
}

// fill spends room lines the chosen blocks left unused on the lines
// between them that only a count line shows, the shortest stretches
// first: a dev server's "listening on http://127.0.0.1:4000" or a script's
// "$ node src/sync.js" is context a debugger reads when there is room.
// Stretches with passing tests or progress stay counted (noise however
// much room is left), and so do those with problems, which the rounds
// left out on purpose (repeats of a problem shown). Showing a stretch
// of k lines costs k-1 lines: its count line goes.
func (s *selection) fill(room int) {
	type gap struct{ from, to int }
	var gaps []gap
	pos := 0
	for _, b := range s.shown() {
		if b.from > pos+1 && !slices.ContainsFunc(s.kinds[pos:b.from], func(k lineKind) bool {
			return k == kindPass || k == kindProgress || k >= kindError
		}) {
			gaps = append(gaps, gap{pos, b.from})
		}
		pos = max(pos, b.to)
	}
	slices.SortStableFunc(gaps, func(a, b gap) int { return (a.to - a.from) - (b.to - b.from) })
	for _, g := range gaps {
		cost := g.to - g.from - 1
		if cost > room {
			break
		}
		room -= cost
		s.blocks = append(s.blocks, block{from: g.from, to: g.to, kind: kindOther, first: g.from})
		s.chosen = append(s.chosen, true)
		s.near = append(s.near, "")
	}
}

// ciFrame returns the lines that frame a CI job's failure in a GitHub
// Actions log: the job's name ("Complete job name: lint") and the
// "##[group]Run …" line of the step that failed, the last one before the
// last "##[error]" (before end, the runner's own clean-up).
func ciFrame(text []string, end int) []int {
	var out []int
	for i := 0; i < min(len(text), 200); i++ {
		if strings.HasPrefix(text[i], "Complete job name: ") {
			out = append(out, i)
			break
		}
	}
	for e := end - 1; e >= 0; e-- {
		if !strings.HasPrefix(text[e], "##[error]") {
			continue
		}
		for i := e - 1; i >= 0; i-- {
			if strings.HasPrefix(text[i], "##[group]Run ") {
				return append(out, i)
			}
		}
		break
	}
	return out
}

// messageShape is what two reports of one kind of problem share: the line
// with numbers, quoted names and file paths masked, so that "a.py:3: error:
// Module has no attribute "x"" and "b.py:9: error: Module has no attribute
// "y"" are one shape, shown once before more places of it are.
func messageShape(dst []byte, l string) []byte {
	var b strings.Builder
	for _, w := range strings.Fields(l) {
		switch {
		case strings.ContainsAny(w, "/\\") || strings.Contains(w, ".") && strings.Contains(w, ":"):
			b.WriteString("<path>")
		case len(w) > 1 && strings.ContainsRune(`"'`+"`", rune(w[0])):
			b.WriteString("<name>")
		default:
			b.WriteString(w)
		}
		b.WriteByte(' ')
	}
	return maskVolatile(dst, []byte(b.String()), false)
}

// gapLine summarizes skipped lines by kind.
func gapLine(kinds []lineKind) string {
	var counts [len(kindNames)]int
	for _, k := range kinds {
		counts[min(k, kindError)]++
	}
	var parts []string
	for _, k := range []lineKind{kindError, kindSummary, kindWarn, kindPass, kindProgress, kindOther} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", commas(counts[k]), kindNames[k]))
		}
	}
	if len(parts) == 1 {
		if len(kinds) == 1 {
			return fmt.Sprintf("[... %s line ...]", parts[0])
		}
		return fmt.Sprintf("[... %s lines ...]", parts[0])
	}
	return fmt.Sprintf("[... %s lines: %s ...]", commas(len(kinds)), strings.Join(parts, ", "))
}

func commas(n int) string {
	s := fmt.Sprint(n)
	var b bytes.Buffer
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// Condense keeps at most max of a read's cleaned lines, for an answer that
// carries output beside its news (a ready bg_run's start-up output): all
// of them when they fit; otherwise the lines that report a problem
// (errors, failures, warnings) first, the first of them up to half of
// max, then a line counting what was left out, then the newest lines.
func Condense(lines []string, max int) []string {
	n := len(lines)
	if n <= max || max < 3 {
		return lines
	}
	kinds := make([]lineKind, n)
	for i, l := range lines {
		kinds[i], _ = classify(l)
	}
	var problems []int
	for i, k := range kinds {
		if k == kindWarn || k >= kindError {
			problems = append(problems, i)
		}
	}
	tailN := max - 1 - min(len(problems), max/2)
	var shown []int
	for _, i := range problems {
		if i < n-tailN && len(shown) < max/2 {
			shown = append(shown, i)
		}
	}
	tailN = max - 1 - len(shown)
	out := make([]string, 0, max)
	var left []lineKind
	next := 0
	for _, i := range shown {
		left = append(left, kinds[next:i]...)
		out = append(out, lines[i])
		next = i + 1
	}
	left = append(left, kinds[next:n-tailN]...)
	out = append(out, gapLine(left))
	return append(out, lines[n-tailN:]...)
}
