package toolbox

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"sync"
	"text/tabwriter"

	"github.com/amp-bg-tasks/amp-bg-tasks/remote"
	"github.com/amp-bg-tasks/amp-bg-tasks/supervisor"
)

// remoteLogs is `bgtask logs` of a task on another host: since-reads
// there through a private cursor (raw unless a cleaning flag is given),
// page after page, and with follow until the task ends; each wait for
// new output happens there.
func (a *App) remoteLogs(ctx context.Context, rec remote.Record, pf *paramFlags, follow, clean bool) error {
	params := pf.params()
	params["since"] = true
	if !pf.cleaning(clean) {
		params["raw"] = true
	}
	if !pf.given("max_lines") {
		params["max_lines"] = MaxLinesLimit
	}
	ctx = context.WithValue(ctx, privateReaderKey{}, "cli-"+randomHex())
	for first := true; ; first = false {
		if !first {
			delete(params, "tail") // -n applies to the first read only.
			if follow {
				params["wait_seconds"] = 10.0
			}
		}
		raw, err := json.Marshal(params)
		if err != nil {
			return err
		}
		res, _, err := a.runRemote(ctx, bgOutput(), route{host: rec.Host, params: raw, rec: rec})
		if err != nil {
			return err
		}
		out := res.(OutputResult)
		printStreams(out.Stdout, out.Stderr, a.Stdout, a.Stderr)
		more := out.StdoutMeta != nil && out.StdoutMeta.Remaining > 0 || out.StderrMeta != nil && out.StderrMeta.Remaining > 0
		if more {
			continue
		}
		if !follow || out.Status != supervisor.StatusRunning {
			if follow {
				// The exit code is in the task's detail.
				var code *int
				raw, _ := json.Marshal(map[string]string{"task_id": rec.ID}) // Strings always marshal.
				if res, _, err := a.runRemote(ctx, bgStatus(), route{host: rec.Host, params: raw, rec: rec}); err == nil {
					code = res.(TaskDetail).ExitCode
				}
				fmt.Fprintf(a.Stderr, "[%s ended on %s: %s]\n", printable(rec.Label), rec.Host, endedAs(out.Status, code, a.palette(a.Stderr)))
			}
			return nil
		}
	}
}

// HostInfo is a line of `bgtask hosts`.
type HostInfo struct {
	Host      string `json:"host"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	Version   string `json:"version,omitempty"`  // deployed there
	Platform  string `json:"platform,omitempty"` // linux/amd64
	Running   int    `json:"running"`            // tasks running there (all of them)
	Tasks     int    `json:"tasks"`              // tasks started from here, known
}

// cliHosts lists the hosts used from here: reachable or not, the version
// deployed there, its running tasks.
func cliHosts(ctx context.Context, a *App, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print JSON, for scripts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage
	}
	d, err := a.remoteDeployer()
	if err != nil {
		return err
	}
	var hosts []string
	deployed := map[string]remote.Deployed{}
	for _, dep := range d.KnownHosts() {
		deployed[dep.Host] = dep
		hosts = append(hosts, dep.Host)
	}
	counts := map[string]int{}
	for _, r := range remote.RecordsIn(a.Store.Dir).List() {
		counts[r.Host]++
		if !slices.Contains(hosts, r.Host) {
			hosts = append(hosts, r.Host)
		}
	}
	infos := make([]HostInfo, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() {
			info := HostInfo{Host: h, Tasks: counts[h], Version: deployed[h].Version, Platform: deployed[h].Platform}
			cctx, cancel := context.WithTimeout(ctx, listHostTimeout)
			defer cancel()
			ans, _, err := a.callRemote(cctx, h, "bg_status", []byte(`{}`))
			var l StatusList
			if err == nil {
				err = json.Unmarshal(ans, &l)
			}
			if err != nil {
				info.Error = err.Error()
				if cctx.Err() != nil {
					info.Error = fmt.Sprintf("no answer within %s", listHostTimeout)
				}
			} else {
				info.Reachable, info.Running = true, l.Summary.Running
				if dep, ok := d.Known(h); ok {
					info.Version, info.Platform = dep.Version, dep.Platform
				}
			}
			infos[i] = info
		})
	}
	wg.Wait()
	if *asJSON {
		return printJSON(a.Stdout, map[string]any{"hosts": infos})
	}
	if len(infos) == 0 {
		fmt.Fprintln(a.Stdout, "No hosts used yet: bgtask run --host HOST -- COMMAND starts a task on one.")
		return nil
	}
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tREACHABLE\tVERSION\tPLATFORM\tRUNNING\tTASKS FROM HERE")
	for _, h := range infos {
		reach := "yes"
		if !h.Reachable {
			reach = "no: " + h.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", h.Host, reach, h.Version, h.Platform, h.Running, h.Tasks)
	}
	return tw.Flush()
}
