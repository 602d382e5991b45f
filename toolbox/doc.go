// Package toolbox is the application: the Amp toolbox tools (bg_run,
// bg_status, bg_output, bg_stop), the human CLI (bgtask run|ls|status|stop|logs)
// and the hidden supervisor entry point, dispatched on argv[0] and the first
// argument. Only Main returns an exit code; everything below returns errors.
package toolbox
