namespace CodeGen.Commands.Support;

/// <summary>
/// The cmdlets' one way to wait for an engine task that reports as it goes (a batch job): the pipeline thread
/// waits by running the task's continuations itself. The engine's awaits come back to the synchronization context
/// installed here, so its listener calls (WriteObject, WriteError, WriteVerbose, WriteProgress) happen on the
/// pipeline thread, the only thread PowerShell lets write.
/// </summary>
internal static class PipelineThread
{
    /// <summary>Starts <paramref name="start"/> on this thread and returns its result once it has run to the end (or throws its exception).</summary>
    public static T Run<T>(Func<Task<T>> start)
    {
        var previous = SynchronizationContext.Current;
        var context = new WaitingContext();
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            var task = start();
            task.ContinueWith(static (_, waiting) => ((WaitingContext)waiting!).Complete(), context,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            context.RunUntilComplete();
            return task.GetAwaiter().GetResult();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    /// <summary>Starts <paramref name="start"/> on this thread and returns once it has run to the end (or throws its exception).</summary>
    public static void Run(Func<Task> start) => Run(async () =>
    {
        await start();
        return true;
    });

    /// <summary>Queues what is posted to it, for the thread in <see cref="RunUntilComplete"/> to run in order.</summary>
    private sealed class WaitingContext : SynchronizationContext
    {
        private readonly Queue<(SendOrPostCallback Callback, object? State)> _queue = new();
        private bool _complete;

        public override void Post(SendOrPostCallback d, object? state)
        {
            lock (_queue)
            {
                if (!_complete)
                {
                    _queue.Enqueue((d, state));
                    Monitor.Pulse(_queue);
                    return;
                }
            }
            // the task has ended and nothing waits any more: what comes late runs on the thread pool
            ThreadPool.QueueUserWorkItem(static item => item.Callback(item.State), (Callback: d, State: state), preferLocal: false);
        }

        public override SynchronizationContext CreateCopy() => this;

        public void Complete()
        {
            lock (_queue)
            {
                _complete = true;
                Monitor.Pulse(_queue);
            }
        }

        public void RunUntilComplete()
        {
            while (true)
            {
                (SendOrPostCallback Callback, object? State) next;
                lock (_queue)
                {
                    while (_queue.Count == 0 && !_complete)
                    {
                        Monitor.Wait(_queue);
                    }
                    if (_queue.Count == 0)
                    {
                        return;
                    }
                    next = _queue.Dequeue();
                }
                next.Callback(next.State);
            }
        }
    }
}
