using CodeGen.Core.Running;

namespace CodeGen.Commands.Support;

/// <summary>
/// How the engine's results reach the pipeline thread, the only thread PowerShell lets write (WriteObject, WriteError,
/// WriteVerbose, WriteProgress). Two jobs, two ways:
/// <list type="bullet">
/// <item><see cref="Run{T}"/> awaits one engine task that reports as it goes (a batch job, Get-/Stop-CodeGenBatch's calls,
/// Measure-CodeGenCost's counts and samples): the pipeline thread waits by running the task's continuations itself. The
/// engine's awaits come back to the synchronization context installed here, so its listener calls happen on this thread.</item>
/// <item><see cref="Outcomes"/> streams a run's outcomes as its rows are answered (pipeline mode): the pipeline thread takes
/// those that are ready, in input order, between rows it reads, and waits in the run's own wait (<see cref="GenerationRun.Drain"/>,
/// which file mode's <see cref="FileRun"/> uses on this thread too) only while the run is full, or at the end. That wait
/// wakes once for a batch of answers, not for each (a continuation posted per row would cost a thread switch per row), and
/// at an interval to show progress; reading more input is the backpressure.</item>
/// </list>
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

    /// <summary>
    /// A run's outcomes, streamed to the pipeline thread (see <see cref="PipelineThread"/>): each handed to the emit it was made
    /// with, in input order, and the run's progress shown as it goes. Made once for a run, so taking outcomes after each
    /// row allocates nothing.
    /// </summary>
    internal sealed class Outcomes
    {
        /// <summary>The longest the pipeline thread waits before it shows progress again.</summary>
        private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(200);

        private readonly GenerationRun _run;
        private readonly RunProgress _progress;
        private readonly Action<RowOutcome> _emit;
        private readonly Action _showProgress;

        public Outcomes(GenerationRun run, RunProgress progress, Action<RowOutcome> emit)
        {
            _run = run;
            _progress = progress;
            _emit = emit;
            _showProgress = () => progress.Update(run.GetStatistics());
        }

        /// <summary>
        /// Emits every outcome that is ready, in input order. With <paramref name="all"/> it waits for all of them (the
        /// input has ended); otherwise it waits only while the run is full (backpressure), so memory stays bounded.
        /// </summary>
        /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while it waited.</exception>
        public void Take(bool all, CancellationToken cancellationToken)
        {
            _run.Drain(all, _emit, _showProgress, ProgressInterval, cancellationToken);
            _showProgress();
        }
    }

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
