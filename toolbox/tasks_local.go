package toolbox

import "context"

// localTasks is Tasks on this machine: the supervisor's store under
// App.Store.
type localTasks struct{ a *App }

func (l localTasks) Start(ctx context.Context, in RunInput) (RunResult, error) {
	if in.Service != "" {
		return l.a.runServiceCall(ctx, in)
	}
	return l.a.StartRun(ctx, in, 0)
}

func (l localTasks) Status(ctx context.Context, in StatusInput) (TaskDetail, error) {
	return taskDetail(ctx, l.a, in)
}

func (l localTasks) List(ctx context.Context, in StatusInput) (StatusList, error) {
	return listTasks(ctx, l.a, in)
}

func (l localTasks) Read(ctx context.Context, in OutputInput) (OutputResult, error) {
	return readWaiting(ctx, l.a, in)
}

func (l localTasks) Stop(ctx context.Context, in StopInput) (StopResult, error) {
	return stopTask(ctx, l.a, in)
}

func (l localTasks) Cleanup(ctx context.Context, in StopInput) (CleanupResult, error) {
	return cleanupTasks(ctx, l.a, in)
}

func (l localTasks) Send(ctx context.Context, in SendInput) (SendResult, error) {
	return sendHere(ctx, l.a, in)
}

func (l localTasks) Restart(ctx context.Context, id string) (RunResult, int, error) {
	return l.a.restartHere(ctx, id)
}
