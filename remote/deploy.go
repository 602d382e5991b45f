package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/amp-bg-tasks/amp-bg-tasks/internal/atomicfile"
	"github.com/amp-bg-tasks/amp-bg-tasks/internal/taskid"
)

// Platform is an OS and architecture as Go names them (linux, amd64).
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// ParseUname maps what `uname -sm` prints to a Platform we build for:
// linux and darwin, amd64 and arm64.
func ParseUname(s string) (Platform, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Platform{}, fmt.Errorf("unexpected `uname -sm` output %q", s)
	}
	p := Platform{OS: map[string]string{"Linux": "linux", "Darwin": "darwin"}[f[0]],
		Arch: map[string]string{"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[f[1]]}
	if p.OS == "" || p.Arch == "" {
		return Platform{}, fmt.Errorf("no bgtask-tool is built for %q (`uname -sm`): there are builds for Linux and Darwin on x86_64 and arm64 only", s)
	}
	return p, nil
}

// Binary is a lean bgtask-tool build to copy to a host.
type Binary struct {
	Path   string
	SHA256 string // hex
}

// DistName is the name of the build for p in a dist folder.
func DistName(p Platform) string { return "bgtask-tool_" + p.OS + "_" + p.Arch }

// DistDir is where cross-built binaries are looked for: $BG_DIST_DIR,
// else <folder of exe>/../lib/amp-bg-tasks/dist.
func DistDir(getenv func(string) string, exe string) string {
	if d := getenv("BG_DIST_DIR"); d != "" {
		return d
	}
	if exe == "" {
		return ""
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return filepath.Join(filepath.Dir(exe), "..", "lib", "amp-bg-tasks", "dist")
}

// FindBinary returns the build to deploy on a host of platform p: the
// dist folder's (see DistDir), with its checksum from the folder's
// SHA256SUMS; else, for a host of this machine's platform, lean (the
// local bgtask-tool) when it is statically linked; else one built now
// into the dist folder from the source it names (see BuildOnDemand).
// uname is what the host said, for the error when none fits.
func FindBinary(ctx context.Context, getenv func(string) string, exe, lean string, p Platform, uname string) (Binary, error) {
	dist := DistDir(getenv, exe)
	if dist != "" {
		path := filepath.Join(dist, DistName(p))
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
			sum, err := DistSum(dist, p)
			if err != nil {
				return Binary{}, err
			}
			return Binary{Path: path, SHA256: sum}, nil
		}
	}
	if p.OS == runtime.GOOS && p.Arch == runtime.GOARCH && lean != "" && (runtime.GOOS == "darwin" || isStaticFile(lean)) {
		sum, err := localSHA256(ctx, lean)
		if err != nil {
			return Binary{}, err
		}
		return Binary{Path: lean, SHA256: sum}, nil
	}
	if dist != "" {
		if _, ok, err := ReadSource(dist); err != nil {
			return Binary{}, err
		} else if ok {
			goCmd, err := exec.LookPath("go")
			if err != nil {
				return Binary{}, fmt.Errorf("no bgtask-tool for the host's %s (`uname -sm`: %s) in %s yet, and no go command on PATH to build it (https://go.dev/dl/): %w", p, strings.TrimSpace(uname), dist, err)
			}
			return BuildOnDemand(ctx, goCmd, dist, p, os.Environ(), nil)
		}
	}
	where := "no dist folder (set BG_DIST_DIR)"
	if dist != "" {
		where = "none in " + dist
	}
	return Binary{}, fmt.Errorf("no bgtask-tool for the host's %s (`uname -sm`: %s): %s. Reinstall with ./scripts/install.sh (it builds each platform on first use) or `bgtask install` where Go is at hand, "+
		"or build it: CGO_ENABLED=0 GOOS=%s GOARCH=%s go build -trimpath -o DIST/%s ./cmd/bgtask-tool, add its line to DIST/SHA256SUMS (sha256sum) and point BG_DIST_DIR at DIST",
		p, strings.TrimSpace(uname), where, p.OS, p.Arch, DistName(p))
}

// DistSum is the checksum of p's build in the dist folder dist, as its
// SHA256SUMS gives it.
func DistSum(dist string, p Platform) (string, error) {
	return sumFromFile(filepath.Join(dist, "SHA256SUMS"), DistName(p))
}

// sumFromFile reads name's checksum from a file in sha256sum's format.
func sumFromFile(path, name string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the checksums of the dist folder: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == name && isHex64(f[0]) {
			return strings.ToLower(f[0]), nil
		}
	}
	return "", fmt.Errorf("%s has no checksum for %s: rebuild the dist folder", path, name)
}

func isHex64(s string) bool {
	return len(s) == 64 && strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
}

// localSHA256 runs sha256sum (or macOS's shasum): the lean binary links
// no crypto.
func localSHA256(ctx context.Context, path string) (string, error) {
	for _, argv := range [][]string{{"sha256sum", path}, {"shasum", "-a", "256", path}} {
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
		if f := strings.Fields(string(out)); err == nil && len(f) > 0 && isHex64(f[0]) {
			return strings.ToLower(f[0]), nil
		}
	}
	return "", fmt.Errorf("checksum %s: neither sha256sum nor shasum works here", path)
}

// BinDir is where builds are deployed, relative to the remote user's
// home (where ssh starts): one 0700 folder per version and checksum.
const BinDir = ".local/share/amp-bg-tasks/bin"

// Deployed says where a host runs our build.
type Deployed struct {
	Host       string    `json:"host"`
	Platform   string    `json:"platform"` // linux/amd64
	Uname      string    `json:"uname"`
	Version    string    `json:"version"`
	Dir        string    `json:"dir"` // relative to the remote home
	DeployedAt time.Time `json:"deployed_at"`
	Copied     bool      `json:"-"` // this call copied it
}

// Deployer makes hosts run this build of the lean bgtask-tool.
type Deployer struct {
	Transport Transport
	Getenv    func(string) string
	// Executable is the running bgtask: the dist folder is looked for
	// beside it. Lean is the local bgtask-tool, for a host of this
	// machine's platform when the dist folder has no build for it.
	Executable, Lean string
	// Version is this build's version (toolbox.Version); the remote
	// folder is named after it and the binary's checksum, and the build
	// deployed must print it for --version (but for local changes).
	Version string
	// Binary is the lean program's file name there (bgtask-tool): the
	// Links point to it, and its reap command runs before ReapBefore.
	Binary string
	// Links are the names the binary also answers to (bg-run, ...),
	// made as symlinks beside it.
	Links []string
	// ToolEntry is the link a tool answers to there (bg_run: bg-run),
	// one of Links.
	ToolEntry func(tool string) string
	// ReapBefore names the tool before which the host's reaper runs
	// (bg_run): no shell start runs it there. "" for none.
	ReapBefore string
	// StateDir holds the record of each host's deployment (hosts/).
	StateDir string
}

// Known returns the recorded deployment on host, if any.
func (d *Deployer) Known(host string) (Deployed, bool) {
	b, err := os.ReadFile(d.recordPath(host))
	if err != nil {
		return Deployed{}, false
	}
	var dep Deployed
	if json.Unmarshal(b, &dep) != nil || dep.Dir == "" || dep.Version != d.Version {
		return Deployed{}, false
	}
	return dep, true
}

// Forget drops host's record: the next Ensure looks again.
func (d *Deployer) Forget(host string) { _ = os.Remove(d.recordPath(host)) } // Best effort: a stale record is checked anyway.

// KnownHosts lists every host with a record.
func (d *Deployer) KnownHosts() []Deployed {
	ents, _ := os.ReadDir(filepath.Join(d.StateDir, "hosts")) // None yet: no hosts.
	var out []Deployed
	for _, e := range ents {
		var dep Deployed
		if b, err := os.ReadFile(filepath.Join(d.StateDir, "hosts", e.Name())); err == nil && json.Unmarshal(b, &dep) == nil && dep.Host != "" {
			out = append(out, dep)
		}
	}
	return out
}

func (d *Deployer) recordPath(host string) string {
	return filepath.Join(d.StateDir, "hosts", hostFileName(host))
}

// Ensure returns where host runs this build: from the record when there
// is one for the binary that would be deployed now, else by Deploy.
func (d *Deployer) Ensure(ctx context.Context, host string) (Deployed, error) {
	if dep, ok := d.Known(host); ok && d.current(ctx, dep) {
		return dep, nil
	}
	return d.Deploy(ctx, host)
}

// current reports whether dep holds the binary FindBinary picks now: two
// builds of one version (dev builds of one commit with local changes are
// both <commit>+dirty) differ only by their checksum, which names the
// folder. From a dist folder that costs a read of its SHA256SUMS; the
// local lean build (about 50 ms to checksum) is checked only for a dirty
// version, since a clean one names its build.
func (d *Deployer) current(ctx context.Context, dep Deployed) bool {
	goos, arch, _ := strings.Cut(dep.Platform, "/")
	p := Platform{OS: goos, Arch: arch}
	dist := DistDir(d.Getenv, d.Executable)
	if fi, err := os.Stat(filepath.Join(dist, DistName(p))); !strings.HasSuffix(d.Version, "+dirty") && (dist == "" || err != nil || !fi.Mode().IsRegular()) {
		return true
	}
	bin, err := FindBinary(ctx, d.Getenv, d.Executable, d.Lean, p, dep.Uname)
	return err == nil && strings.HasSuffix(dep.Dir, "-"+bin.SHA256[:12])
}

// Deploy learns host's platform, copies the build for it unless that
// version is there already, verifies its checksum there, and records it.
func (d *Deployer) Deploy(ctx context.Context, host string) (Deployed, error) {
	if d.Binary == "" || d.ToolEntry == nil {
		return Deployed{}, errors.New("remote: a Deployer needs its Binary and ToolEntry") // A caller's bug.
	}
	// One round trip: the platform, and whether the base folder is ours.
	probe := "sh -c 'uname -sm; b=" + BinDir + "; if [ -e $b ] && ! [ -O $b ]; then echo untrusted; fi; ls -1 $b 2>/dev/null; true'"
	out, errOut, code, err := d.run(ctx, host, probe, nil)
	if err != nil {
		return Deployed{}, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 {
		return Deployed{}, &Error{Host: host, Kind: KindRemote, Detail: strings.TrimSpace(errOut + " " + out), Fix: "`uname -sm` must work there"}
	}
	p, err := ParseUname(lines[0])
	if err != nil {
		return Deployed{}, &Error{Host: host, Kind: KindRemote, Detail: err.Error(), Err: err}
	}
	if len(lines) > 1 && lines[1] == "untrusted" {
		return Deployed{}, &Error{Host: host, Kind: KindRemote, Detail: "~/" + BinDir + " there is not owned by the remote user",
			Fix: "bgtask will not run programs from a folder another user controls: remove it, or fix its owner there"}
	}
	bin, err := FindBinary(ctx, d.Getenv, d.Executable, d.Lean, p, lines[0])
	if err != nil {
		return Deployed{}, err
	}
	dep := Deployed{Host: host, Platform: p.String(), Uname: lines[0], Version: d.Version,
		Dir: BinDir + "/" + taskid.FileName(d.Version) + "-" + bin.SHA256[:12], DeployedAt: time.Now().UTC()}
	// A folder of that name is not trusted for its name: one whose
	// binary is missing or damaged, or that lacks a link, is replaced.
	there := containsLine(lines[1:], filepath.Base(dep.Dir))
	if !there || !d.intact(ctx, host, bin, dep.Dir) {
		if err := d.copy(ctx, host, bin, dep.Dir, there); err != nil {
			return Deployed{}, err
		}
		dep.Copied = true
	}
	return dep, d.save(dep)
}

// intact reports whether dir on host holds bin, by its checksum there,
// with every link: a deploy folder someone changed since (a file
// removed, a binary cut short by a full disk, replaced) is not.
func (d *Deployer) intact(ctx context.Context, host string, bin Binary, dir string) bool {
	exe := taskid.FileName(d.Binary)
	script := "d=" + dir + "; [ ! -L $d ] && [ -O $d ] && [ -x $d/" + exe + " ] || exit 3; " +
		"s=$( (sha256sum $d/" + exe + " || shasum -a 256 $d/" + exe + ") 2>/dev/null | cut -d\" \" -f1); " +
		"[ \"$s\" = " + bin.SHA256 + " ] || exit 4"
	for _, l := range d.Links {
		script += "; [ \"$(readlink $d/" + taskid.FileName(l) + ")\" = " + exe + " ] || exit 5"
	}
	_, _, code, err := d.run(ctx, host, "sh -c '"+script+"'", nil)
	return err == nil && code == 0
}

// copy sends bin to a temporary folder on host, verifies its checksum
// there, adds the links and renames the folder into place: a folder
// named for a version is always complete. With replace, a folder of
// that name found damaged is moved aside and removed first; without, one
// that another deploy put in place meanwhile is kept.
func (d *Deployer) copy(ctx context.Context, host string, bin Binary, dir string, replace bool) error {
	exe := taskid.FileName(d.Binary)
	f, err := os.Open(bin.Path)
	if err != nil {
		return fmt.Errorf("deploy to %s: %w", host, err)
	}
	defer f.Close()
	links := ""
	for _, l := range d.Links {
		links += " && ln -s " + exe + " $t/" + taskid.FileName(l)
	}
	// A single line of plain sh, inside single quotes, without quotes or
	// backslashes of its own: any login shell (sh, bash, zsh, fish)
	// passes it to sh unchanged.
	script := "umask 077; b=" + BinDir + "; mkdir -p $b && chmod 700 $b .local/share/amp-bg-tasks && t=$(mktemp -d $b/.deploy.XXXXXX) || exit 90; " +
		"if ! cat > $t/" + exe + "; then rm -rf $t; exit 91; fi; " +
		"s=$( (sha256sum $t/" + exe + " || shasum -a 256 $t/" + exe + ") 2>/dev/null | cut -d\" \" -f1); " +
		"if [ \"$s\" != " + bin.SHA256 + " ]; then rm -rf $t; echo \"checksum after the copy: got ${s:-none}, want " + bin.SHA256 + "\" >&2; exit 92; fi; " +
		"chmod 700 $t/" + exe + links + " || { rm -rf $t; exit 93; }; "
	if want := versionCore(d.Version); checkableVersion(want) {
		// A build of another version would not speak this one's caller
		// protocol (a call could wait on it for ever): a stale dist
		// folder, or BG_DIST_DIR pointing at another build. Local
		// changes (+dirty) on either side are not told apart, nor is the
		// "(commit …)" a pseudo-version repeats.
		script += "v=$($t/" + exe + " --version 2>/dev/null); c=${v%% (*}; c=${c%+dirty}; if [ \"$c\" != \"bgtask " + want + "\" ]; then rm -rf $t; echo \"it says ${v:-nothing}\" >&2; exit 95; fi; "
	}
	if replace {
		script += "if [ -e " + dir + " ] || [ -L " + dir + " ]; then o=$(mktemp -d $b/.damaged.XXXXXX) && mv " + dir + " $o/ && rm -rf $o || { rm -rf $t; exit 94; }; fi; "
	}
	script += "if [ -d " + dir + " ]; then rm -rf $t; else mv $t " + dir + "; fi"
	_, errOut, code, err := d.run(ctx, host, "sh -c '"+script+"'", f)
	if err != nil {
		return err
	}
	if code != 0 {
		return deployError(host, code, errOut, d.Version)
	}
	return nil
}

// deployError says why a copy failed, from the remote shell's words.
func deployError(host string, code int, stderr, version string) error {
	detail := lastLines(stderr, 2)
	low := strings.ToLower(stderr)
	e := &Error{Host: host, Kind: KindRemote, Detail: detail}
	switch {
	case strings.Contains(low, "no space left"), strings.Contains(low, "disk quota"):
		e.Fix = "Its disk is full: free some space in the remote home (bgtask needs about 10 MB in ~/" + BinDir + ")"
	case strings.Contains(low, "permission denied"), strings.Contains(low, "read-only file system"):
		e.Fix = "The remote home is not writable: bgtask installs itself in ~/" + BinDir + " and keeps tasks in ~/.local/state/amp-bg-tasks there"
	case code == 92:
		e.Fix = "The copy arrived damaged; nothing was installed. Call again to retry"
	case code == 95:
		e.Fix = "The build to deploy is not of this bgtask's version (" + version + "), so the two would not understand each other; nothing was installed. " +
			"Rebuild the dist folder with this version (./scripts/install.sh, or `bgtask install`), or point BG_DIST_DIR at this version's"
	default:
		e.Fix = fmt.Sprintf("Copying the build to ~/%s failed (exit %d)", BinDir, code)
	}
	return e
}

// versionCore is a version without what tells builds of it apart but not
// their protocol: " (commit …)" and "+dirty".
func versionCore(v string) string {
	v, _, _ = strings.Cut(v, " (")
	return strings.TrimSuffix(v, "+dirty")
}

// checkableVersion reports whether v names a build ("devel" and
// "unknown", of a build without version control, do not) and can go into
// the deploy script as it is (inside double quotes, inside single
// quotes): letters, digits, spaces and ".+-()".
func checkableVersion(v string) bool {
	if v == "devel" || v == "unknown" || v == "" {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(" .+-()", c)) {
			return false
		}
	}
	return true
}

func (d *Deployer) run(ctx context.Context, host, command string, stdin io.Reader) (stdout, stderr string, code int, err error) {
	var out, errOut bytes.Buffer
	code, err = d.Transport.Run(ctx, host, command, stdin, &out, &errOut)
	return out.String(), errOut.String(), code, err
}

func (d *Deployer) save(dep Deployed) error {
	b, err := json.Marshal(dep)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(d.StateDir, "hosts"), 0o700); err != nil {
		return fmt.Errorf("record the deployment on %s: %w", dep.Host, err)
	}
	return atomicfile.WriteFile(d.recordPath(dep.Host), b, 0o600)
}

func containsLine(lines []string, s string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) == s {
			return true
		}
	}
	return false
}

// The caller protocol of a tool run on a host (see Tool and
// toolbox.serveSSHCaller): the tool reads its parameters as the first
// line of stdin, which its caller keeps open for the whole call; it
// answers with one line, and the caller then writes CallAck. stdin
// closing first tells the tool that its caller is gone: it stops
// waiting. CallLeftEnv passes the caller's call limit, in seconds.
const (
	CallerEnv   = "BG_CALLER"
	CallerSSH   = "ssh"
	CallLeftEnv = "BG_CALL_LEFT"
	CallAck     = "ack"
)

// runHeld runs command on host with params as the first line of its
// stdin, kept open until the answer's line has arrived (then CallAck) or
// ctx ends, whichever comes first.
func (d *Deployer) runHeld(ctx context.Context, host, command string, params []byte, stdout, stderr io.Writer) (int, error) {
	var line bytes.Buffer
	if json.Compact(&line, params) != nil {
		line.Reset()
		line.Write(bytes.ReplaceAll(params, []byte("\n"), []byte(" ")))
	}
	line.WriteByte('\n')
	r, w, err := os.Pipe()
	if err != nil {
		return -1, fmt.Errorf("call %s: %w", host, err)
	}
	defer func() { _ = r.Close() }() // ssh has its own copy.
	h := &heldStdin{w: w}
	defer h.close()
	// Not under h.mu: a write blocked on a full pipe must not hold up
	// close, which ends it. The tool answers (and so acks) only after
	// reading this line whole.
	go func() { _, _ = w.Write(line.Bytes()) }() // A tool gone already reads nothing: its end says why.
	stop := context.AfterFunc(ctx, h.close)      // Cancelled: the tool there sees its stdin end.
	defer stop()
	return d.Transport.Run(ctx, host, command, r, io.MultiWriter(stdout, h), stderr)
}

// heldStdin is the write end of a tool's stdin; as the tool's stdout's
// writer, it acknowledges the answer's line and closes.
type heldStdin struct {
	mu     sync.Mutex
	w      *os.File
	closed bool
}

func (h *heldStdin) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, '\n') >= 0 {
		h.mu.Lock()
		if !h.closed {
			_, _ = h.w.Write([]byte(CallAck + "\n")) // Best effort: the tool's end is its own.
		}
		h.mu.Unlock()
		h.close()
	}
	return len(p), nil
}

func (h *heldStdin) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		_ = h.w.Close() // Nothing buffered.
	}
}

// Tool runs a tool (bg_status, ...) on host in the deployed build's
// toolbox execute mode, params (JSON) on stdin, env (names and values of
// safe characters only) in its environment; bg_run runs the reaper
// there first. It returns the tool's JSON
// answer and whether the tool failed (exit status 1 with {"error": ...}).
// A build that vanished since it was recorded is deployed again.
func (d *Deployer) Tool(ctx context.Context, host, tool string, params []byte, env ...string) (answer []byte, failed bool, err error) {
	for attempt := 0; ; attempt++ {
		dep, err := d.Ensure(ctx, host)
		if err != nil {
			return nil, false, err
		}
		cmd := "env TOOLBOX_ACTION=execute " + CallerEnv + "=" + CallerSSH
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			cmd += " " + taskid.FileName(k) + "=" + taskid.FileName(v)
		}
		cmd += " " + dep.Dir + "/" + taskid.FileName(d.ToolEntry(tool))
		if tool == d.ReapBefore {
			// No shell start runs our reaper there: each start does, as
			// each shell start does here (a few ms with nothing to do).
			cmd = "sh -c '" + dep.Dir + "/" + taskid.FileName(d.Binary) + " reap --quiet >/dev/null 2>&1; exec " + cmd + "'"
		}
		var out, errOut bytes.Buffer
		code, err := d.runHeld(ctx, host, cmd, params, &out, &errOut)
		switch {
		case err != nil:
			if IsKind(err, KindDropped) {
				// Also what a tool killed there by a signal looks
				// like (ssh reports it so): the next call checks the
				// folder's content before it runs it again.
				d.Forget(host)
			}
			return nil, false, err
		case (code == 127 || code == 126) && attempt == 0:
			// Removed there since (127), or not runnable (126: cut
			// short, its mode changed): deploy again, which checks
			// the folder's content, not its name.
			d.Forget(host)
			continue
		case code == 0 || code == 1:
			if b := bytes.TrimSpace(out.Bytes()); json.Valid(b) {
				return b, code == 1, nil
			}
		}
		// Not retried (a bg_run may have started its task), but the
		// next call checks the folder's content again.
		d.Forget(host)
		return nil, false, &Error{Host: host, Kind: KindRemote, Detail: lastLines(errOut.String()+"\n"+out.String(), 2),
			Fix: fmt.Sprintf("%s in ~/%s there answered with exit status %d and no JSON", d.Binary, dep.Dir, code), Err: errors.New("no answer")}
	}
}

// Command runs the deployed build's command line on host, `<binary>
// args...` (each argument of safe characters only: a subcommand, a task
// id), for what no tool does (bgtask restart). It returns what the
// command printed and its exit status.
func (d *Deployer) Command(ctx context.Context, host string, args ...string) (stdout, stderr string, code int, err error) {
	var out, errOut bytes.Buffer
	code, err = d.CommandTo(ctx, host, &out, &errOut, args...)
	return out.String(), errOut.String(), code, err
}

// CommandTo is Command writing what the command prints to stdout and
// stderr as it comes (bgtask logs of a whole log there, however long).
func (d *Deployer) CommandTo(ctx context.Context, host string, stdout, stderr io.Writer, args ...string) (code int, err error) {
	for _, arg := range args {
		if arg == "" || taskid.FileName(arg) != arg {
			return -1, fmt.Errorf("%s on %s: argument %q is not a plain word", d.Binary, host, arg)
		}
	}
	for attempt := 0; ; attempt++ {
		dep, err := d.Ensure(ctx, host)
		if err != nil {
			return -1, err
		}
		cmd := dep.Dir + "/" + taskid.FileName(d.Binary) + " " + strings.Join(args, " ")
		// Nothing is printed before a command that cannot run says so
		// (127, 126): a retry repeats no output.
		code, err = d.Transport.Run(ctx, host, cmd, nil, stdout, stderr)
		if err == nil && (code == 127 || code == 126) && attempt == 0 {
			d.Forget(host) // Gone or damaged there: deploy again (see Tool).
			continue
		}
		return code, err
	}
}
