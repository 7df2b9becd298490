using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CodeGen.Core.Checking;

/// <summary>
/// A checker that hands code to one long-lived process of the machine (python3, bash), fed over stdin, never a process
/// per row. It starts at the first check, answers checks in the order they were written (many can be on the way at
/// once), and is started again when it dies (at most <see cref="MaxStarts"/> times a run). Without the program the
/// rows come back unchecked, saying why. A check that takes longer than <see cref="CheckTimeout"/> (a hostile answer
/// can be made to stall a parser) stops the process: that check and those behind it come back unchecked.
/// </summary>
public abstract class ProcessChecker : ICodeChecker, IDisposable
{
    public const int MaxStarts = 3;

    private readonly object _lock = new();
    private Worker? _worker;
    private int _starts;
    private string? _unavailable;
    private bool _disposed;

    /// <param name="program">The program to start, found on PATH (python3, bash).</param>
    protected ProcessChecker(string program) => Program = program;

    public abstract string Language { get; }

    /// <summary>The program the checks run in.</summary>
    public string Program { get; }

    /// <summary>How long one check may take before the process is stopped.</summary>
    public TimeSpan CheckTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The process id of the running checker, or null (tests and the benchmark's memory count use it).</summary>
    public int? ProcessId
    {
        get
        {
            lock (_lock)
            {
                return _worker?.Process.Id;
            }
        }
    }

    /// <summary>The arguments the program starts with (the checking loop).</summary>
    protected abstract IReadOnlyList<string> Arguments { get; }

    /// <summary>The bytes of one request; the process answers each with one line.</summary>
    protected abstract byte[] Request(string code);

    /// <summary>The result an answer line stands for.</summary>
    protected abstract CheckResult Parse(string line);

    /// <summary>An answer the program need not be asked for (code it cannot take, such as a NUL for bash), or null.</summary>
    protected virtual CheckResult? Precheck(string code) => null;

    public async ValueTask<CheckResult> CheckAsync(string code, CancellationToken cancellationToken)
    {
        if (Precheck(code) is { } known)
        {
            return known;
        }
        Worker? worker;
        Task<string?> answer;
        lock (_lock)
        {
            worker = Acquire();
            if (worker is null)
            {
                return CheckResult.Unchecked(_unavailable!, Language);
            }
            answer = worker.Send(Request(code));
        }
        try
        {
            string? line = await answer.WaitAsync(CheckTimeout, cancellationToken).ConfigureAwait(false);
            return line is null ? CheckResult.Unchecked($"{Program} stopped while checking{worker.Exit()}.", Language) : Parse(line);
        }
        catch (TimeoutException)
        {
            Retire(worker);
            return CheckResult.Unchecked($"{Program} took longer than {CheckTimeout.TotalSeconds:0} s to parse it, and was stopped.", Language);
        }
    }

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

    /// <summary>The running worker, started when there is none; null when the program is not available.</summary>
    private Worker? Acquire()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(GetType().Name);
        }
        if (_worker is { IsAlive: true })
        {
            return _worker;
        }
        _worker?.Dispose();
        _worker = null;
        if (_unavailable is not null)
        {
            return null;
        }
        if (++_starts > MaxStarts)
        {
            _unavailable = $"{Program} stopped {MaxStarts} times during the run, so no more code is given to it.";
            return null;
        }
        try
        {
            _worker = new Worker(Program, Arguments);
        }
        catch (Exception ex) when (ex is Win32Exception or IOException or InvalidOperationException)
        {
            _unavailable = $"{Program} could not be started ({ex.Message}); install it (on PATH) to check {Language} code.";
        }
        return _worker;
    }

    private void Retire(Worker worker)
    {
        lock (_lock)
        {
            if (ReferenceEquals(_worker, worker))
            {
                _worker = null;
            }
        }
        worker.Dispose();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _worker?.Dispose();
            _worker = null;
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>One process: requests written in order, answers read in order by one reader.</summary>
    private sealed class Worker : IDisposable
    {
        private readonly ConcurrentQueue<TaskCompletionSource<string?>> _waiting = new();
        private readonly Stream _input;
        private readonly Task _reader;
        private readonly StringBuilder _errors = new();
        private volatile bool _ended;

        public Worker(string program, IReadOnlyList<string> arguments)
        {
            var start = new ProcessStartInfo(program)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                StandardOutputEncoding = new UTF8Encoding(false),
                StandardErrorEncoding = new UTF8Encoding(false),
            };
            foreach (string argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }
            start.Environment["LC_ALL"] = "C";
            start.Environment["PYTHONIOENCODING"] = "utf-8";
            Process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
            _input = Process.StandardInput.BaseStream;
            Process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { } text)
                {
                    lock (_errors)
                    {
                        if (_errors.Length < 2000)
                        {
                            _errors.AppendLine(text);
                        }
                    }
                }
            };
            Process.BeginErrorReadLine();
            _reader = Task.Run(ReadAnswers);
        }

        public Process Process { get; }

        public bool IsAlive => !_ended && !Process.HasExited;

        /// <summary>Writes a request; the task ends with its answer line, or null when the process ended first.</summary>
        public Task<string?> Send(byte[] request)
        {
            var answer = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue(answer);
            try
            {
                _input.Write(request);
                _input.Flush();
            }
            catch (IOException)
            {
                End(); // the process is gone: this request and any behind it get no answer
            }
            if (_ended)
            {
                End();
            }
            return answer.Task;
        }

        /// <summary>What the process said as it ended (its exit code and error output), for a message.</summary>
        public string Exit()
        {
            string errors;
            lock (_errors)
            {
                errors = _errors.ToString().Trim();
            }
            string code = Process.HasExited ? string.Create(CultureInfo.InvariantCulture, $" (exit code {Process.ExitCode})") : string.Empty;
            return code + (errors.Length > 0 ? ": " + errors.ReplaceLineEndings(" ") : string.Empty);
        }

        private async Task ReadAnswers()
        {
            try
            {
                var output = Process.StandardOutput;
                while (await output.ReadLineAsync().ConfigureAwait(false) is { } line)
                {
                    if (_waiting.TryDequeue(out var answer))
                    {
                        answer.TrySetResult(line);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
            {
            }
            End();
        }

        private void End()
        {
            _ended = true;
            while (_waiting.TryDequeue(out var answer))
            {
                answer.TrySetResult(null);
            }
        }

        public void Dispose()
        {
            _ended = true;
            try
            {
                _input.Dispose();
                if (!Process.WaitForExit(1000))
                {
                    Process.Kill(entireProcessTree: true);
                }
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or Win32Exception)
            {
            }
            End();
            Process.Dispose();
        }
    }
}

/// <summary>
/// Python, with the machine's python3: <c>compile(code, mode='exec', flags=ast.PyCF_ONLY_AST)</c>, the parser of
/// <c>ast.parse</c>, in one python3 process per run (isolated mode: no site packages, no PYTHON* variables). The code
/// is parsed, never run.
/// </summary>
public sealed class PythonChecker : ProcessChecker
{
    // one JSON request per line in, one JSON answer per line out, in order
    private const string Loop = """
        import ast, json, sys, warnings
        warnings.simplefilter("ignore")
        for request in sys.stdin:
            try:
                compile(json.loads(request), "<answer>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
                answer = {"ok": True}
            except (SyntaxError, ValueError) as e:
                answer = {"ok": False, "line": getattr(e, "lineno", None), "column": getattr(e, "offset", None), "message": getattr(e, "msg", None) or str(e)}
            except (RecursionError, MemoryError) as e:
                answer = {"unchecked": "the code is nested too deeply for the parser (" + type(e).__name__ + ")"}
            except Exception as e:
                answer = {"unchecked": type(e).__name__ + ": " + str(e)}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
        """;

    /// <param name="program">The Python to use (python3 on PATH by default).</param>
    public PythonChecker(string program = "python3") : base(program)
    {
    }

    public override string Language => "python";

    protected override IReadOnlyList<string> Arguments => ["-I", "-X", "utf8", "-c", Loop];

    protected override byte[] Request(string code)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStringValue(code);
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    protected override CheckResult Parse(string line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        if (root.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True)
        {
            return CheckResult.Ok(Language);
        }
        if (root.TryGetProperty("unchecked", out var why))
        {
            return CheckResult.Unchecked(why.GetString() ?? "python3 could not check it.", Language);
        }
        string message = root.TryGetProperty("message", out var m) ? m.GetString() ?? "syntax error" : "syntax error";
        string where = root.TryGetProperty("line", out var l) && l.ValueKind == JsonValueKind.Number
            ? root.TryGetProperty("column", out var c) && c.ValueKind == JsonValueKind.Number
                ? string.Create(CultureInfo.InvariantCulture, $"line {l.GetInt64()}, column {c.GetInt64()}: ")
                : string.Create(CultureInfo.InvariantCulture, $"line {l.GetInt64()}: ")
            : string.Empty;
        return CheckResult.Failed(Language, [where + message]);
    }
}

/// <summary>
/// Bash, with <c>bash -n</c> (read the script, run nothing). Bash parses a script only when started on it, so one
/// long-lived bash reads the code over stdin and runs <c>bash -n</c> on each in a child (a fork, not a .NET process
/// start per row); the child never runs the code.
/// </summary>
public sealed class BashChecker : ProcessChecker
{
    // a request is the code's length in bytes, a line break and the code; the answer is "<exit code><TAB><messages>"
    // on one line (the messages' own line breaks as \x1f)
    private const string Loop = """
        while IFS= read -r length; do
            code=
            if [ "$length" -gt 0 ]; then IFS= read -r -d '' -N "$length" code; fi
            messages=$(printf '%s' "$code" | bash -n 2>&1)
            status=$?
            printf '%s\t%s\n' "$status" "${messages//$'\n'/$'\x1f'}"
        done
        """;

    /// <param name="program">The bash to use (bash on PATH by default).</param>
    public BashChecker(string program = "bash") : base(program)
    {
    }

    public override string Language => "bash";

    protected override IReadOnlyList<string> Arguments => ["--norc", "--noprofile", "-c", Loop];

    protected override CheckResult? Precheck(string code)
        => code.Contains('\0') ? CheckResult.Failed(Language, ["the code holds a NUL character, which no shell script can"]) : null;

    protected override byte[] Request(string code)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(code);
        byte[] head = Encoding.ASCII.GetBytes(bytes.Length.ToString(CultureInfo.InvariantCulture) + "\n");
        return [.. head, .. bytes];
    }

    protected override CheckResult Parse(string line)
    {
        int tab = line.IndexOf('\t');
        string status = tab < 0 ? line : line[..tab];
        if (status == "0")
        {
            return CheckResult.Ok(Language);
        }
        var messages = (tab < 0 ? string.Empty : line[(tab + 1)..]).Split('\x1f', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(m => m.StartsWith("bash: ", StringComparison.Ordinal) ? m["bash: ".Length..] : m)
            .ToList();
        return CheckResult.Failed(Language, messages.Count > 0 ? messages : [$"bash -n exited with {status}"]);
    }
}
