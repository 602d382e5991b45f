package installer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/amp-bg-tasks/amp-bg-tasks/agents"
	"github.com/amp-bg-tasks/amp-bg-tasks/cli"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/scripts/shell"
	"github.com/amp-bg-tasks/amp-bg-tasks/skill"
	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// The install is done by the binary itself, from files embedded in it, so
// that `bgtask install` works wherever the binary is, with or without the
// repository; scripts/install.sh only builds the binaries (bgtask,
// bgtask-tool and the dist folder) and runs it.
//
// Everything it adds is recorded in a manifest, and --uninstall removes
// exactly that: the files it wrote, its marked blocks in files the user
// owns (AGENTS.md, shell profiles), and the folders it had to create, if
// they are empty again.

// cliInstall is `bgtask install`.
func cliInstall(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	prefix := fs.String("prefix", "", "install bgtask, bgtask-tool and bg-reaper into `DIR`/bin and the lean builds for remote hosts into DIR/lib/amp-bg-tasks/dist (default ~/.local)")
	toolboxDir := fs.String("toolbox", "", "toolbox folder for bg-run, bg-status, ... (default Amp's own, ~/.config/amp/tools; another one is added to AMP_TOOLBOX)")
	shellList := fs.String("shell", "", "comma-separated shells whose profile gets the PATH, AMP_TOOLBOX and reaper lines: bash, zsh, fish, or none (default: those found on this machine)")
	uninstall := fs.Bool("uninstall", false, "remove everything a previous install added, and nothing else")
	agentsFlag := fs.String("agents", "", "comma-separated agents to register `bgtask mcp` with: "+agentKeys(installPaths{})+", or none (default: those found on this machine)")
	resident := fs.Bool("resident", false, "link the toolbox entries and bg-reaper to bgtask-call, which hands each call to a bgtask-tool that stays up while calls come (ended after 10 idle minutes): a call then starts about as fast as a bare program; needs "+callCommand+" beside bgtask")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.ErrUsage
	}
	paths, err := newPaths(a, *prefix, *toolboxDir)
	if err != nil {
		return err
	}
	in := &installer{out: a.Stdout, paths: paths, owner: homeOwner(paths.home)}
	unlock, err := lockInstalls(paths.home, func() { in.printf("Waiting for another install or uninstall of %s to finish...", paths.home) })
	if err != nil {
		return err
	}
	defer unlock()
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
	agentList, err := chooseAgents(*agentsFlag, paths, a.Getenv("PATH"))
	if err != nil {
		return err
	}
	if *resident {
		if in.call = filepath.Join(filepath.Dir(src), callCommand); !isFile(in.call) {
			return fmt.Errorf("--resident: no %s beside %s (scripts/install.sh builds it; or go build -o %s ./cmd/%s)", callCommand, src, filepath.Dir(src), callCommand)
		}
	}
	return in.install(ctx, a, src, sh, agentList)
}

// installer does one install or uninstall, printing each step.
type installer struct {
	out   io.Writer
	paths installPaths
	m     manifest
	owner *owner // who gets what the install creates; nil: the running user
	// beforeReplace, when set (tests), runs in every file edit between
	// the edit and the check that nobody wrote the file meanwhile.
	beforeReplace func(path string)
	// skipped lists the agents not registered, and why.
	skipped []string
	// call is the bgtask-call to install for --resident; "" for none.
	call string
}

// callCommand is the client of the resident call server (cmd/bgtask-call).
const callCommand = "bgtask-call"

// userFile is path, to be edited; a new one gets mode.
func (in *installer) userFile(path string, mode fs.FileMode) userFile {
	u := userFile{path: path, owner: in.owner, newMode: mode}
	if in.beforeReplace != nil {
		u.beforeReplace = func() { in.beforeReplace(path) }
	}
	return u
}

func (in *installer) printf(format string, args ...any) {
	fmt.Fprintf(in.out, format+"\n", args...)
}

func (in *installer) install(ctx context.Context, a *toolbox.App, src string, shellNames []string, agentList []agentConfig) (err error) {
	p, getenv := in.paths, a.Getenv
	if in.m, err = loadManifest(p.manifest); err != nil {
		return err
	}
	// The record is saved when the install ends, however it ends, and
	// also before each step that may take long (building the lean
	// builds, asking Amp what it is): an install stopped there (Ctrl-C)
	// can still be undone by --uninstall.
	if err := in.mkdirAll(filepath.Dir(p.manifest)); err != nil {
		return err
	}
	defer func() {
		if serr := in.saveRecord(); serr != nil && err == nil {
			err = serr
		}
	}()

	bin := filepath.Join(p.bin, "bgtask")
	if err = in.installBinary(src, bin); err != nil {
		return err
	}
	if err = in.saveRecord(); err != nil {
		return err
	}
	// The toolbox entries and bg-reaper run on every tool call and shell
	// start: they get the lean build.
	hot, err := in.installLean(ctx, a, src)
	if err != nil {
		return err
	}
	if hot, err = in.installCall(hot); err != nil {
		return err
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
		prof := shell.Profile{Bin: p.bin, Toolbox: p.toolbox, AmpDefault: p.ampTools}
		if sh == "bash" {
			prof.Completion = p.completionPath(getenv, sh)
		}
		body, terr := renderSnippet(sh, prof)
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
		script, cerr := cli.CompletionScript(ctx, a, sh)
		if cerr != nil {
			return cerr
		}
		if err = in.writeFile(path, []byte(script), 0o644); err != nil {
			return err
		}
	}
	if err = in.saveRecord(); err != nil {
		return err
	}
	for _, c := range agentList {
		if c.Key == "amp" && in.ampByToolbox(ctx, a, c, bin) {
			continue
		}
		if rerr := in.register(c, bin); rerr != nil {
			// One agent's file that cannot be edited does not keep
			// the others from being registered.
			in.skip(c, rerr, bin)
		}
	}
	for _, c := range agentConfigs(p) {
		if !slices.ContainsFunc(agentList, func(x agentConfig) bool { return x.Key == c.Key }) {
			in.printf("--         %s not found here (--agents %s registers it anyway)", c.Name, c.Key)
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
	if len(in.skipped) > 0 {
		return fmt.Errorf("skipped (see SKIPPED above): %s", strings.Join(in.skipped, ", "))
	}
	return nil
}

// saveRecord writes the install record as it stands.
func (in *installer) saveRecord() error {
	return in.m.save(in.paths.manifest, in.owner)
}

// skip reports an agent whose configuration could not be edited, on one
// line with how to register by hand.
func (in *installer) skip(c agentConfig, err error, bin string) {
	in.skipped = append(in.skipped, c.Name)
	in.printf("SKIPPED    %s: %v; to register by hand, %s", c.Name, err, c.manual(bin))
}

// ampByToolbox registers with an Amp that takes its tools from the
// toolbox: the toolbox entries are in place, so it only takes back an MCP
// registration an earlier install made (with it, every tool would be
// listed twice). It returns false when Amp is to be registered through
// MCP: a later Amp, or one that cannot be asked.
func (in *installer) ampByToolbox(ctx context.Context, a *toolbox.App, c agentConfig, bin string) bool {
	takes, known := ampTakesToolbox(ctx, a.Getenv("PATH"), a.Environ)
	if !known || !takes {
		return false
	}
	in.printf("toolbox    Amp on PATH reads its toolbox: bg_run and the others are there (%s), so it is not registered as an MCP server too", in.paths.toolbox)
	if i := slices.IndexFunc(in.m.Agents, func(x installedAgent) bool { return x.Path == c.Path }); i >= 0 {
		if err := in.unregister(in.m.Agents[i]); err != nil {
			in.skip(c, err, bin)
			return true
		}
		in.m.Agents = slices.Delete(in.m.Agents, i, i+1)
	}
	return true
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
		if err := in.owner.chown(d); err != nil {
			return err
		}
	}
	return nil
}

// installBinary copies src to dst, unless dst is src: `bgtask install` run
// by the installed binary itself.
func (in *installer) installBinary(src, dst string) error {
	if sameFile(src, dst) {
		in.m.file(dst, "")
		in.printf("kept       %s (already this binary)", dst)
		return nil
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
	if err := atomicfile.Write(dst, f, 0o755); err != nil {
		return fmt.Errorf("install binary: %w", err)
	}
	if err := in.owner.chown(dst); err != nil {
		return err
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
	if err := in.owner.chown(tmp); err != nil {
		return err
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
	if err := atomicfile.Write(path, bytes.NewReader(data), mode); err != nil {
		return err
	}
	if err := in.owner.chown(path); err != nil {
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
	if err := in.prepare(path); err != nil {
		return err
	}
	var found, addedNewline bool
	written, err := in.userFile(path, 0o644).edit(func(cur []byte, _ bool) ([]byte, error) {
		next, replaced, added, err := mk.upsert(string(cur), body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		found, addedNewline = replaced, added
		return []byte(next), nil
	})
	if err != nil {
		var alone *errLeftAlone
		if errors.As(err, &alone) {
			in.skipped = append(in.skipped, path)
			in.printf("SKIPPED    %v; add these lines to it by hand:\n%s", err, mk.wrap(body))
			return nil
		}
		return err
	}
	in.m.block(path, markdown, addedNewline)
	switch {
	case !written:
		in.printf("kept       %s (block up to date)", path)
	case found:
		in.printf("updated    %s (replaced its amp-bg-tasks block)", path)
	default:
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
	in.stopCallServers(filepath.Join(p.bin, toolbox.LeanCommand))
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
	if !fileExists(b.Path) {
		return nil
	}
	remove := false
	written, err := in.userFile(b.Path, 0o644).edit(func(cur []byte, _ bool) ([]byte, error) {
		s := string(cur)
		next, err := mk.remove(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Path, err)
		}
		if next == s {
			return cur, nil
		}
		if b.AddedNewline {
			next = strings.TrimSuffix(next, "\n")
		}
		if strings.TrimSpace(next) == "" && slices.Contains(in.m.Created, b.Path) {
			remove = true
			return cur, nil
		}
		return []byte(next), nil
	})
	switch {
	case err != nil:
		return err
	case remove:
		if err := os.Remove(b.Path); err != nil {
			return fmt.Errorf("remove %s: %w", b.Path, err)
		}
		in.printf("removed    %s", b.Path)
	case written:
		in.printf("cleaned    %s (removed its amp-bg-tasks block)", b.Path)
	}
	return nil
}
