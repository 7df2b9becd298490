using System.ComponentModel;
using System.Text;
using System.Text.Json;

namespace CodeGen.Core.Checking;

/// <summary>
/// A checker that hands code to one long-lived process of the machine (python3, bash), fed over stdin, never a process
/// per row. It starts with the run (or at the first check), takes many checks at once and answers each in the order
/// they were written, each answer carrying its request's number (an answer out of step stops the process rather than be
/// given to the wrong row). A process that dies is started again; after <see cref="MaxStarts"/> starts in a row without
/// an answer, its rows come back unchecked. Without the program the rows come back unchecked, saying why. A check that
/// the process has been on for longer than <see cref="CheckTimeout"/> (a hostile answer can be made to stall a parser)
/// stops the process: that check is unchecked, and the checks behind it go to a new one. The process gets a bare
/// environment: the run's keys and secrets are not handed to it, and no start-up file of the user's runs in it.
/// </summary>
public abstract partial class ProcessChecker : ICodeChecker, IDisposable
{
    public const int MaxStarts = 3;

    /// <summary>Code larger than this is not handed over (a parser's time and memory grow with it).</summary>
    public const int MaxCodeBytes = 4 * 1024 * 1024;

    private readonly object _lock = new();
    private Worker? _worker;
    private int _startsWithoutAnswer;
    private string? _unavailable;
    private bool _disposed;

    /// <param name="program">The program to start, found on PATH (python3, bash).</param>
    protected ProcessChecker(string program) => Program = program;

    public abstract string Language { get; }

    public abstract IReadOnlyCollection<string> Tags { get; }

    /// <summary>The program the checks run in.</summary>
    public string Program { get; }

    /// <summary>How long the process may be on one check before it is stopped.</summary>
    public TimeSpan CheckTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The clock of <see cref="CheckTimeout"/> (tests); the system's by default.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>The process id of the running checker, or null (tests and the benchmark's memory count use it).</summary>
    public int? ProcessId
    {
        get
        {
            lock (_lock)
            {
                return _worker?.ProcessId;
            }
        }
    }

    /// <summary>The arguments the program starts with (the checking loop).</summary>
    protected abstract IReadOnlyList<string> Arguments { get; }

    /// <summary>The bytes of request <paramref name="number"/>; the process answers with one line that starts with the number.</summary>
    protected abstract byte[] Request(long number, string code);

    /// <summary>The result an answer (the line after its number) stands for.</summary>
    protected abstract CheckResult Parse(string answer);

    /// <summary>An answer the program need not be asked for (code it cannot take, such as a NUL for bash), or null.</summary>
    protected virtual CheckResult? Precheck(string code) => null;

    /// <summary>Starts the process now, if it is not running (a failure to start is told by the first check).</summary>
    public void Start()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                Acquire();
            }
        }
    }

    public async ValueTask<CheckResult> CheckAsync(string code, CancellationToken cancellationToken)
    {
        if (Precheck(code) is { } known)
        {
            return known;
        }
        if (Encoding.UTF8.GetByteCount(code) > MaxCodeBytes)
        {
            return CheckResult.Unchecked($"the code is larger than {MaxCodeBytes / (1024 * 1024)} MB, the most handed to {Program}.", Language);
        }
        // a check whose process ended under it (stalled or crashed by another check) goes once more, to a new process
        for (int attempt = 0; ; attempt++)
        {
            Worker? worker;
            Task<Reply> reply;
            lock (_lock)
            {
                worker = Acquire();
                if (worker is null)
                {
                    return CheckResult.Unchecked(_unavailable!, Language);
                }
                try
                {
                    reply = worker.Send(number => Request(number, code));
                }
                catch (ArgumentException ex)
                {
                    // text that cannot be encoded (a lone surrogate): nothing was queued or sent
                    return CheckResult.Unchecked($"the code cannot be handed to {Program} ({ex.Message}).", Language);
                }
            }
            var answer = await reply.WaitAsync(cancellationToken).ConfigureAwait(false);
            switch (answer.Kind)
            {
                case ReplyKind.Answer:
                    Volatile.Write(ref _startsWithoutAnswer, 0);
                    return ParseOrUnchecked(answer.Text!);
                case ReplyKind.TimedOut:
                    Retire(worker);
                    Volatile.Write(ref _startsWithoutAnswer, 0); // a stalled parser, stopped: not a process that would not start
                    return CheckResult.Unchecked($"{Program} took longer than {CheckTimeout.TotalSeconds:0} s to parse it, and was stopped.", Language);
                case ReplyKind.Ended when attempt == 0:
                    Retire(worker);
                    continue;
                default:
                    Retire(worker);
                    return CheckResult.Unchecked($"{Program} stopped while checking{answer.Text}.", Language);
            }
        }
    }

    private CheckResult ParseOrUnchecked(string answer)
    {
        try
        {
            return Parse(answer);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            return CheckResult.Unchecked($"{Program} answered something that is not a check ({ex.GetType().Name}).", Language);
        }
    }

    /// <summary>The running worker, started when there is none; null when the program is not available. Under the lock.</summary>
    private Worker? Acquire()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_worker is { IsAlive: true })
        {
            return _worker;
        }
        var dead = _worker;
        _worker = null;
        dead?.Kill();
        if (_unavailable is not null)
        {
            return null;
        }
        if (++_startsWithoutAnswer > MaxStarts)
        {
            _unavailable = $"{Program} stopped {MaxStarts} times in a row without answering, so no more code is given to it.";
            return null;
        }
        try
        {
            _worker = new Worker(Program, Arguments, CheckTimeout, Clock);
        }
        catch (Exception ex) when (ex is Win32Exception or IOException or InvalidOperationException)
        {
            _unavailable = $"{Program} could not be started ({ex.Message}); install it (on PATH) to check {Language} code.";
        }
        return _worker;
    }

    /// <summary>Lets a worker go (killed, not waited for): the next check starts a new one.</summary>
    private void Retire(Worker worker)
    {
        lock (_lock)
        {
            if (ReferenceEquals(_worker, worker))
            {
                _worker = null;
            }
        }
        worker.Kill();
    }

    public void Dispose()
    {
        Worker? worker;
        lock (_lock)
        {
            _disposed = true;
            worker = _worker;
            _worker = null;
        }
        worker?.Close();
        GC.SuppressFinalize(this);
    }
}
