package installer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/amp-bg-tasks/amp-bg-tasks/agents"
	"github.com/amp-bg-tasks/amp-bg-tasks/capture"
	"github.com/amp-bg-tasks/amp-bg-tasks/scripts/shell"
	"github.com/amp-bg-tasks/amp-bg-tasks/skill"
)

// The install is done by the binary itself, from files embedded in it, so
// that `bgtask install` works wherever the binary is, with or without the
// repository; scripts/install.sh only builds the binary and runs it.
//
// Everything it adds is recorded in a manifest, and --uninstall removes
// exactly that: the files it wrote, its marked blocks in files the user
// owns (AGENTS.md, shell profiles), and the folders it had to create, if
// they are empty again.

// Marker lines around the blocks the installer keeps in files the user
// owns: a rerun replaces the block between them, --uninstall removes it.
const (
	markdownBegin = "<!-- >>> amp-bg-tasks >>> -->"
	markdownEnd   = "<!-- <<< amp-bg-tasks <<< -->"
	shellBegin    = "# >>> amp-bg-tasks >>>"
	shellEnd      = "# <<< amp-bg-tasks <<<"
)

func blockMarkers(markdown bool) markers {
	if markdown {
		return markers{markdownBegin, markdownEnd}
	}
	return markers{shellBegin, shellEnd}
}

// knownShells are the shells whose profile the installer knows.
func knownShells() []string { return []string{"bash", "zsh", "fish"} }

// installPaths are the folders and files an install writes.
type installPaths struct {
	home      string
	bin       string // bgtask and bg-reaper
	toolbox   string // one toolbox entry per tool; default Amp's own folder
	ampTools  string // the folder Amp reads when AMP_TOOLBOX is unset
	agentsDir string // ~/.config/agents: AGENTS.md and skills/
	manifest  string
	configDir string // XDG_CONFIG_HOME or ~/.config
}

func newPaths(a *toolbox.App, prefix, toolbox string) (installPaths, error) {
	home := a.Getenv("HOME")
	if !filepath.IsAbs(home) {
		return installPaths{}, fmt.Errorf("HOME must be an absolute path, got %q", home)
	}
	config := a.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(config) {
		config = filepath.Join(home, ".config") // As the XDG spec says of a relative value.
	}
	p := installPaths{
		home:      home,
		bin:       filepath.Join(home, ".local", "bin"),
		agentsDir: filepath.Join(config, "agents"),
		manifest:  filepath.Join(config, "amp-bg-tasks", "install.json"),
		configDir: config,
	}
	// Amp's own default folder: found without AMP_TOOLBOX, by any shell.
	p.ampTools = filepath.Join(config, "amp", "tools")
	p.toolbox = p.ampTools
	if prefix != "" {
		p.bin = filepath.Join(absPath(a, prefix), "bin")
	}
	if toolbox != "" {
		p.toolbox = absPath(a, toolbox)
	}
	for _, dir := range []string{p.bin, p.toolbox} {
		// The shell snippets quote these for POSIX shells and fish at once;
		// fish unescapes backslashes inside quotes, POSIX shells do not.
		if strings.ContainsAny(dir, "\\\n") {
			return p, fmt.Errorf("folder %q: backslashes and newlines are not supported in install folders", dir)
		}
	}
	return p, nil
}

// absPath makes a flag's path absolute: ~ is HOME, relative is from the
// current folder.
func absPath(a *toolbox.App, p string) string {
	switch {
	case p == "~" || strings.HasPrefix(p, "~/"):
		return filepath.Join(a.Getenv("HOME"), p[1:])
	case filepath.IsAbs(p):
		return filepath.Clean(p)
	default:
		return filepath.Join(a.Wd, p)
	}
}

// profilePaths are where shell's startup lines go: for bash, ~/.bashrc
// (interactive shells) and the login profile (login shells, which read
// only ~/.bash_profile, or ~/.profile when there is none: macOS
// terminals, `bash -l`). The snippet is safe to run twice.
func (p installPaths) profilePaths(getenv func(string) string, sh string) []string {
	paths := []string{p.profilePath(getenv, sh)}
	if sh == "bash" {
		login := filepath.Join(p.home, ".bash_profile")
		if _, err := os.Stat(login); err != nil {
			login = filepath.Join(p.home, ".profile")
		}
		paths = append(paths, login)
	}
	return paths
}

// completionPath is where shell loads completions from by itself: the
// bash-completion package's user folder, fish's completions folder. zsh
// has no such folder by default: "" (see bgtask completion zsh).
func (p installPaths) completionPath(getenv func(string) string, sh string) string {
	switch sh {
	case "bash":
		data := getenv("XDG_DATA_HOME")
		if !filepath.IsAbs(data) {
			data = filepath.Join(p.home, ".local", "share")
		}
		return filepath.Join(data, "bash-completion", "completions", "bgtask")
	case "fish":
		return filepath.Join(p.configDir, "fish", "completions", "bgtask.fish")
	}
	return ""
}

// profilePath is where shell's interactive startup lines go. fish gets a
// file of its own in conf.d, which fish reads by itself.
func (p installPaths) profilePath(getenv func(string) string, sh string) string {
	switch sh {
	case "zsh":
		if dir := getenv("ZDOTDIR"); filepath.IsAbs(dir) {
			return filepath.Join(dir, ".zshrc")
		}
		return filepath.Join(p.home, ".zshrc")
	case "fish":
		return filepath.Join(p.configDir, "fish", "conf.d", "amp-bg-tasks.fish")
	default:
		return filepath.Join(p.home, ".bashrc")
	}
}

// cliInstall is `bgtask install`.
func cliInstall(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	prefix := fs.String("prefix", "", "install bgtask and bg-reaper into `DIR`/bin (default ~/.local)")
	toolboxDir := fs.String("toolbox", "", "toolbox folder for bg-run, bg-status, ... (default Amp's own, ~/.config/amp/tools; another one is added to AMP_TOOLBOX)")
	shellList := fs.String("shell", "", "comma-separated shells whose profile gets the PATH, AMP_TOOLBOX and reaper lines: bash, zsh, fish, or none (default: those found on this machine)")
	uninstall := fs.Bool("uninstall", false, "remove everything a previous install added, and nothing else")
	agentsFlag := fs.String("agents", "", "comma-separated agents to register `bgtask mcp` with: amp, claude, cursor, codex, or none (default: those found on this machine)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return toolbox.ErrUsage
	}
	paths, err := newPaths(a, *prefix, *toolboxDir)
	if err != nil {
		return err
	}
	in := &installer{out: a.Stdout, paths: paths}
	if *uninstall {
		return in.uninstall()
	}
	sh, err := chooseShells(a, *shellList, paths)
	if err != nil {
		return err
	}
	src := a.Executable
	if src == "" {
		if src, err = os.Executable(); err != nil {
			return fmt.Errorf("find this program to install it: %w", err)
		}
	}
	agentList, err := chooseAgents(*agentsFlag, paths)
	if err != nil {
		return err
	}
	return in.install(a, src, sh, agentList)
}

// chooseShells parses --shell; without it, the shells in use here: the
// login shell, those on PATH, those with a profile already.
func chooseShells(a *toolbox.App, list string, p installPaths) ([]string, error) {
	if list == "none" {
		return nil, nil
	}
	if list != "" {
		var out []string
		for _, s := range strings.Split(list, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(knownShells(), s) {
				return nil, fmt.Errorf("--shell: unknown shell %q (want %s, or none)", s, strings.Join(knownShells(), ", "))
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out, nil
	}
	var out []string
	for _, s := range knownShells() {
		_, statErr := os.Stat(p.profilePath(a.Getenv, s))
		if filepath.Base(a.Getenv("SHELL")) == s || statErr == nil || onPath(a.Getenv("PATH"), s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func onPath(path, name string) bool {
	for _, dir := range filepath.SplitList(path) {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// installer does one install or uninstall, printing each step.
type installer struct {
	out   io.Writer
	paths installPaths
	m     manifest
}

func (in *installer) printf(format string, args ...any) {
	fmt.Fprintf(in.out, format+"\n", args...)
}

func (in *installer) install(a *toolbox.App, src string, shellNames []string, agentList []agentConfig) (err error) {
	p, getenv := in.paths, a.Getenv
	if in.m, err = loadManifest(p.manifest); err != nil {
		return err
	}
	// Record before acting: an install that fails half-way can still be
	// undone by --uninstall.
	if err := in.mkdirAll(filepath.Dir(p.manifest)); err != nil {
		return err
	}
	defer func() {
		if serr := in.m.save(p.manifest); serr != nil && err == nil {
			err = serr
		}
	}()

	bin := filepath.Join(p.bin, "bgtask")
	if err = in.installBinary(src, bin); err != nil {
		return err
	}
	// The toolbox entries and bg-reaper run on every tool call and shell
	// start: they get the lean build when it is beside this one.
	hot := "bgtask"
	if lean := toolbox.LeanBeside(src); lean != "" {
		if err = in.installBinary(lean, filepath.Join(p.bin, toolbox.LeanCommand)); err != nil {
			return err
		}
		hot = toolbox.LeanCommand
	} else {
		in.printf("note       no %s beside %s: the toolbox entries and bg-reaper run bgtask, which starts slower (scripts/install.sh builds both)", toolbox.LeanCommand, src)
	}
	// Relative, so the binaries can be moved together.
	if err = in.link(hot, filepath.Join(p.bin, "bg-reaper")); err != nil {
		return err
	}
	for _, t := range toolbox.Tools() {
		if err = in.link(filepath.Join(p.bin, hot), filepath.Join(p.toolbox, t.Command())); err != nil {
			return err
		}
	}
	if err = in.writeFile(filepath.Join(p.agentsDir, "skills", "background-tasks", "SKILL.md"), []byte(skill.Markdown()), 0o644); err != nil {
		return err
	}
	if err = in.upsertBlock(filepath.Join(p.agentsDir, "AGENTS.md"), true, agents.Guidance()); err != nil {
		return err
	}
	for _, sh := range shellNames {
		body, terr := renderSnippet(sh, shell.Profile{Bin: p.bin, Toolbox: p.toolbox, AmpDefault: p.ampTools})
		if terr != nil {
			return terr
		}
		for _, path := range p.profilePaths(getenv, sh) {
			if err = in.upsertBlock(path, false, body); err != nil {
				return err
			}
		}
	}
	for _, sh := range shellNames {
		path := p.completionPath(getenv, sh)
		if path == "" {
			continue
		}
		script, cerr := a.CompletionScript(sh)
		if cerr != nil {
			return cerr
		}
		if err = in.writeFile(path, []byte(script), 0o644); err != nil {
			return err
		}
	}
	for _, c := range agentList {
		if err = in.register(c, bin); err != nil {
			return err
		}
	}
	for _, c := range agentConfigs(p) {
		if !slices.ContainsFunc(agentList, func(x agentConfig) bool { return x.Key == c.Key }) {
			in.printf("skipped    %s (not found here; --agents %s registers it anyway)", c.Name, c.Key)
		}
	}
	in.printf("recorded   %s (bgtask install --uninstall undoes all of the above)", p.manifest)
	in.printf("")
	if len(shellNames) > 0 {
		in.printf("Open a new shell (it puts %s on PATH and keeps %s in AMP_TOOLBOX when that is set), then restart Amp.", p.bin, p.toolbox)
	} else if p.toolbox != p.ampTools {
		in.printf("No shell profile changed: put %s on PATH and add %s to AMP_TOOLBOX yourself, then restart Amp.", p.bin, p.toolbox)
	} else {
		in.printf("No shell profile changed: put %s on PATH yourself, then restart Amp.", p.bin)
	}
	in.printf("For any other MCP client, the server command is: %s mcp", bin)
	return nil
}

func renderSnippet(sh string, prof shell.Profile) (string, error) {
	tmpl, err := shell.Snippet(sh)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, prof); err != nil {
		return "", fmt.Errorf("render %s profile snippet: %w", sh, err)
	}
	return b.String(), nil
}

// mkdirAll creates dir and its missing parents, recording each one it
// creates so that --uninstall can remove it once empty.
func (in *installer) mkdirAll(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	for _, d := range slices.Backward(missing) {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create folder: %w", err)
		}
		in.m.created(d)
	}
	return nil
}

// installBinary copies src to dst, unless dst is src: `bgtask install` run
// by the installed binary itself.
func (in *installer) installBinary(src, dst string) error {
	if a, err := os.Stat(src); err == nil {
		if b, err := os.Stat(dst); err == nil && os.SameFile(a, b) {
			in.m.file(dst, "")
			in.printf("kept       %s (already this binary)", dst)
			return nil
		}
	}
	if same, err := sameContent(src, dst); err == nil && same {
		in.m.file(dst, "")
		in.printf("kept       %s (unchanged)", dst)
		return nil
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("install binary: %w", err)
	}
	defer func() { _ = f.Close() }() // Read only.
	if err := in.prepare(dst); err != nil {
		return err
	}
	// Through a rename, so a running bgtask (a task's supervisor) keeps
	// its old file and nobody sees a half-written one.
	if err := capture.WriteAtomic(dst, f, 0o755); err != nil {
		return fmt.Errorf("install binary: %w", err)
	}
	in.m.file(dst, "")
	in.printf("installed  %s", dst)
	return nil
}

// sameContent reports whether files a and b hold the same bytes.
func sameContent(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer func() { _ = fa.Close() }() // Read only.
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer func() { _ = fb.Close() }() // Read only.
	ia, err := fa.Stat()
	if err != nil {
		return false, err
	}
	ib, err := fb.Stat()
	if err != nil || ia.Size() != ib.Size() {
		return false, err
	}
	ra, rb := bufio.NewReader(fa), bufio.NewReader(fb)
	for {
		x, errA := ra.ReadByte()
		y, errB := rb.ReadByte()
		if errA != nil || errB != nil {
			return errA == io.EOF && errB == io.EOF, nil
		}
		if x != y {
			return false, nil
		}
	}
}

// prepare creates path's folder and notes whether path itself is new.
func (in *installer) prepare(path string) error {
	if err := in.mkdirAll(filepath.Dir(path)); err != nil {
		return err
	}
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		in.m.created(path)
	}
	return nil
}

// link makes path a symlink to target, replacing what is there: a rerun,
// or the original bash tools of the same names.
func (in *installer) link(target, path string) error {
	if cur, err := os.Readlink(path); err == nil && cur == target {
		in.m.file(path, target)
		in.printf("kept       %s -> %s", path, target)
		return nil
	}
	if err := in.prepare(path); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	_ = os.Remove(tmp) // Best effort: left over by an interrupted install.
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp) // Best effort: the rename error is what matters.
		return fmt.Errorf("link %s: %w", path, err)
	}
	in.m.file(path, target)
	in.printf("linked     %s -> %s", path, target)
	return nil
}

func (in *installer) writeFile(path string, data []byte, mode fs.FileMode) error {
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, data) {
		in.m.file(path, "")
		in.printf("kept       %s (unchanged)", path)
		return nil
	}
	if err := in.prepare(path); err != nil {
		return err
	}
	if err := capture.WriteAtomic(path, bytes.NewReader(data), mode); err != nil {
		return err
	}
	in.m.file(path, "")
	in.printf("wrote      %s", path)
	return nil
}

// upsertBlock puts body between markers in path: in place of the block a
// previous install left, or appended.
func (in *installer) upsertBlock(path string, markdown bool, body string) error {
	mk := blockMarkers(markdown)
	cur, mode, err := readUserFile(path)
	if err != nil {
		return err
	}
	next, err := mk.upsert(cur, body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	_, _, found := mk.find(cur)
	// A file without a final newline gets one before the block; noted,
	// so that --uninstall takes it away again.
	in.m.block(path, markdown, !found && cur != "" && !strings.HasSuffix(cur, "\n"))
	if next == cur {
		in.printf("kept       %s (block up to date)", path)
		return nil
	}
	if err := in.prepare(path); err != nil {
		return err
	}
	if err := writeUserFile(path, next, mode); err != nil {
		return err
	}
	if found {
		in.printf("updated    %s (replaced its amp-bg-tasks block)", path)
	} else {
		in.printf("appended   %s (amp-bg-tasks block)", path)
	}
	return nil
}

func (in *installer) uninstall() (err error) {
	p := in.paths
	if in.m, err = loadManifest(p.manifest); err != nil {
		return err
	}
	if in.m.empty() {
		in.printf("Nothing to uninstall: no install recorded in %s.", p.manifest)
		return nil
	}
	var errs []error
	for _, f := range in.m.Files {
		if err := in.removeFile(f); err != nil {
			errs = append(errs, err)
		}
	}
	for _, b := range in.m.Blocks {
		if err := in.removeBlock(b); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range in.m.Agents {
		if err := in.unregister(a); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// Keep the record of what is left, so that a rerun can finish.
		return errors.Join(errs...)
	}
	if err := os.Remove(p.manifest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove install record: %w", err)
	}
	// Deepest first, and only those the install created and that are
	// empty now: a folder holding anything of the user's stays.
	dirs := slices.Clone(in.m.Created)
	slices.SortFunc(dirs, func(x, y string) int {
		return strings.Count(y, string(filepath.Separator)) - strings.Count(x, string(filepath.Separator))
	})
	for _, d := range dirs {
		fi, err := os.Lstat(d)
		if err != nil || !fi.IsDir() {
			continue
		}
		switch err := os.Remove(d); {
		case err == nil:
			in.printf("removed    %s/", d)
		case errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST):
			in.printf("kept       %s/ (not empty)", d)
		default:
			errs = append(errs, fmt.Errorf("remove folder: %w", err))
		}
	}
	if len(errs) == 0 {
		in.printf("Uninstalled. Open a new shell to drop the PATH and AMP_TOOLBOX settings from this session.")
	}
	return errors.Join(errs...)
}

func (in *installer) removeFile(f installedFile) error {
	fi, err := os.Lstat(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", f.Path, err)
	}
	if f.Link != "" {
		// A link replaced by the user since is theirs now.
		if cur, err := os.Readlink(f.Path); err != nil || cur != f.Link {
			in.printf("kept       %s (no longer the installed link)", f.Path)
			return nil
		}
	} else if fi.IsDir() {
		return nil
	}
	if err := os.Remove(f.Path); err != nil {
		return fmt.Errorf("remove %s: %w", f.Path, err)
	}
	in.printf("removed    %s", f.Path)
	return nil
}

func (in *installer) removeBlock(b installedBlock) error {
	mk := blockMarkers(b.Markdown)
	cur, mode, err := readUserFile(b.Path)
	if err != nil {
		return err
	}
	next, err := mk.remove(cur)
	if err != nil {
		return fmt.Errorf("%s: %w", b.Path, err)
	}
	if next == cur {
		return nil
	}
	if b.AddedNewline {
		next = strings.TrimSuffix(next, "\n")
	}
	if strings.TrimSpace(next) == "" && slices.Contains(in.m.Created, b.Path) {
		if err := os.Remove(b.Path); err != nil {
			return fmt.Errorf("remove %s: %w", b.Path, err)
		}
		in.printf("removed    %s", b.Path)
		return nil
	}
	if err := writeUserFile(b.Path, next, mode); err != nil {
		return err
	}
	in.printf("cleaned    %s (removed its amp-bg-tasks block)", b.Path)
	return nil
}

// readUserFile reads a file the user owns, "" if there is none yet, and
// its permissions to keep.
func readUserFile(path string) (string, fs.FileMode, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0o644, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return string(b), fi.Mode().Perm(), nil
}

// writeUserFile replaces the content of a file the user owns. A symlink
// (a profile kept in a dotfiles repository) is written through, not
// replaced by a file.
func writeUserFile(path, content string, mode fs.FileMode) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return capture.WriteAtomic(path, strings.NewReader(content), mode)
}

// markers are the lines around a block the installer owns in a user's
// file.
type markers struct{ begin, end string }

// find returns the byte range of the block, from its begin marker to the
// end of its end marker's line.
func (mk markers) find(s string) (start, end int, found bool) {
	start = lineIndex(s, mk.begin)
	if start < 0 {
		return 0, 0, false
	}
	rel := lineIndex(s[start:], mk.end)
	if rel < 0 {
		return start, -1, true
	}
	end = start + rel
	if nl := strings.IndexByte(s[end:], '\n'); nl >= 0 {
		end += nl + 1
	} else {
		end = len(s)
	}
	return start, end, true
}

// lineIndex is the index of the first line of s equal to line.
func lineIndex(s, line string) int {
	for off := 0; off <= len(s); {
		next := strings.IndexByte(s[off:], '\n')
		l := s[off:]
		if next >= 0 {
			l = s[off : off+next]
		}
		if strings.TrimRight(l, " \t\r") == line {
			return off
		}
		if next < 0 {
			return -1
		}
		off += next + 1
	}
	return -1
}

func (mk markers) wrap(body string) string {
	return mk.begin + "\n" + strings.TrimRight(body, "\n") + "\n" + mk.end + "\n"
}

// upsert returns s with body as its block: replaced in place, or appended
// after a blank line.
func (mk markers) upsert(s, body string) (string, error) {
	start, end, found := mk.find(s)
	switch {
	case found && end < 0:
		return "", fmt.Errorf("%q without %q after it: fix the file by hand", mk.begin, mk.end)
	case found:
		return s[:start] + mk.wrap(body) + s[end:], nil
	case s == "":
		return mk.wrap(body), nil
	case !strings.HasSuffix(s, "\n"):
		s += "\n"
	}
	return s + "\n" + mk.wrap(body), nil
}

// remove returns s without its block, and without the blank line upsert
// put before it, so that an install and an uninstall leave s as it was.
func (mk markers) remove(s string) (string, error) {
	start, end, found := mk.find(s)
	switch {
	case !found:
		return s, nil
	case end < 0:
		return "", fmt.Errorf("%q without %q after it: fix the file by hand", mk.begin, mk.end)
	}
	before := s[:start]
	if strings.HasSuffix(before, "\n\n") {
		before = before[:len(before)-1]
	}
	return before + s[end:], nil
}

// manifest is the record of an install, kept in
// ~/.config/amp-bg-tasks/install.json. Reruns add to it, so that it lists
// what every install since the first one did.
type manifest struct {
	Files  []installedFile  `json:"files"`  // the binary, links, the skill
	Blocks []installedBlock `json:"blocks"` // marked blocks in the user's files
	// Created lists the files and folders that did not exist before:
	// folders are removed once empty, block files once only the block
	// is gone.
	Created []string `json:"created"`
	// Agents lists the agent configurations our MCP server was
	// registered in.
	Agents []installedAgent `json:"agents,omitempty"`
}

type installedFile struct {
	Path string `json:"path"`
	Link string `json:"link,omitempty"` // a symlink's target
}

type installedBlock struct {
	Path     string `json:"path"`
	Markdown bool   `json:"markdown,omitempty"` // HTML comment markers, else shell ones
	// AddedNewline is set when the file did not end with a newline and
	// the install added one before the block.
	AddedNewline bool `json:"added_newline,omitempty"`
}

func loadManifest(path string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return m, fmt.Errorf("read install record %s: %w", path, err)
	}
	return m, nil
}

func (m *manifest) save(path string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("save install record: %w", err)
	}
	return capture.WriteAtomic(path, bytes.NewReader(append(b, '\n')), 0o644)
}

func (m *manifest) empty() bool {
	return len(m.Files) == 0 && len(m.Blocks) == 0 && len(m.Created) == 0 && len(m.Agents) == 0
}

func (m *manifest) created(path string) {
	if !slices.Contains(m.Created, path) {
		m.Created = append(m.Created, path)
	}
}

func (m *manifest) file(path, link string) {
	i := slices.IndexFunc(m.Files, func(f installedFile) bool { return f.Path == path })
	if i < 0 {
		m.Files = append(m.Files, installedFile{Path: path, Link: link})
		return
	}
	m.Files[i].Link = link
}

func (m *manifest) block(path string, markdown, addedNewline bool) {
	i := slices.IndexFunc(m.Blocks, func(b installedBlock) bool { return b.Path == path })
	if i < 0 {
		m.Blocks = append(m.Blocks, installedBlock{Path: path, Markdown: markdown, AddedNewline: addedNewline})
		return
	}
	// A rerun finds its block in place; the first install knew the file
	// as the user left it.
	m.Blocks[i].AddedNewline = m.Blocks[i].AddedNewline || addedNewline
}
