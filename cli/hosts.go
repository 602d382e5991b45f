package cli

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/amp-bg-tasks/amp-bg-tasks/toolbox"
)

// cliHosts lists the hosts used from here: reachable or not, the version
// deployed there, its running tasks.
func cliHosts(ctx context.Context, a *toolbox.App, fs *flag.FlagSet, args []string) error {
	asJSON := fs.Bool("json", false, "print JSON, for scripts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return ErrUsage
	}
	infos, err := a.Hosts(ctx)
	if err != nil {
		return err
	}
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
