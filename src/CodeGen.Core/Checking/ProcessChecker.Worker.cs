using System.Buffers;
using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;

namespace CodeGen.Core.Checking;

// the process a ProcessChecker talks to, and the replies it gives to the checks
public abstract partial class ProcessChecker
{
    private enum ReplyKind
    {
        Answer,
        TimedOut,
        Ended,
    }

    /// <param name="Text">The answer, or for <see cref="ReplyKind.Ended"/> what the process said as it ended.</param>
    private readonly record struct Reply(ReplyKind Kind, string? Text = null);

    /// <summary>
    /// One process. Requests are numbered and queued for one writer (no caller waits on the pipe); one reader matches
    /// each answer line to the oldest request by its number; a watchdog stops the process when the request at the head
    /// of the line has been on longer than the timeout (time in the queue does not count).
    /// </summary>
    private sealed class Worker
    {
        private readonly Process _process;
        private readonly Channel<byte[]> _requests = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
        private readonly ConcurrentQueue<(long Number, TaskCompletionSource<Reply> Reply)> _waiting = new();
        private readonly object _order = new();
        private readonly StringBuilder _errors = new();
        private readonly TimeSpan _timeout;
        private readonly TimeProvider _clock;
        private readonly ITimer _watchdog;
        private long _next;
        private long _headSince;
        private int _ended;
        private readonly object _ending = new();
        private string _exit = string.Empty;

        public Worker(string program, IReadOnlyList<string> arguments, TimeSpan timeout, TimeProvider clock)
        {
            _timeout = timeout;
            _clock = clock;
            _headSince = clock.GetTimestamp();
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
            // a bare environment: what finds the program, and nothing else (no keys, no BASH_ENV, no PYTHON*)
            string[] kept = ["PATH", "HOME", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "WINDIR"];
            var keep = start.Environment.Where(v => kept.Contains(v.Key, StringComparer.OrdinalIgnoreCase) || v.Key.StartsWith("PYENV_", StringComparison.OrdinalIgnoreCase)).ToList();
            start.Environment.Clear();
            foreach (var (key, value) in keep)
            {
                start.Environment[key] = value;
            }
            start.Environment["LC_ALL"] = "C";
            _process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
            ProcessId = _process.Id;
            _process.ErrorDataReceived += (_, e) =>
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
            _process.BeginErrorReadLine();
            var tick = TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 50, TimeSpan.TicksPerSecond));
            _watchdog = clock.CreateTimer(_ => Watch(), null, tick, tick); // before the tasks that may end the worker at once
            _ = Task.Run(WriteRequestsAsync);
            _ = Task.Run(ReadAnswersAsync);
        }

        public int ProcessId { get; }

        public bool IsAlive => Volatile.Read(ref _ended) == 0;

        /// <summary>Numbers and queues a request; the task ends with its answer, or says why there is none.</summary>
        public Task<Reply> Send(Func<long, byte[]> request)
        {
            var reply = new TaskCompletionSource<Reply>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_order)
            {
                long number = _next + 1;
                byte[] bytes = request(number); // first: a request that cannot be built is never queued
                _next = number;
                if (_waiting.IsEmpty)
                {
                    Volatile.Write(ref _headSince, _clock.GetTimestamp());
                }
                _waiting.Enqueue((number, reply));
                if (!_requests.Writer.TryWrite(bytes))
                {
                    End(); // the process is gone
                }
            }
            if (!IsAlive)
            {
                End();
            }
            return reply.Task;
        }

        /// <summary>About how many bytes of requests go to the process in one write.</summary>
        private const int BatchBytes = 64 * 1024;

        private async Task WriteRequestsAsync()
        {
            try
            {
                var input = _process.StandardInput.BaseStream;
                var reader = _requests.Reader;
                var batch = new ArrayBufferWriter<byte>(BatchBytes);
                while (await reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    // the requests queued meanwhile go in one write to the pipe (the pipe is not buffered: a write per
                    // request was a system call per row, and a wake of the checker for each)
                    batch.ResetWrittenCount();
                    while (batch.WrittenCount < BatchBytes && reader.TryRead(out var request))
                    {
                        batch.Write(request);
                    }
                    await input.WriteAsync(batch.WrittenMemory).ConfigureAwait(false);
                    await input.FlushAsync().ConfigureAwait(false);
                    if (batch.Capacity > 4 * BatchBytes)
                    {
                        batch = new ArrayBufferWriter<byte>(BatchBytes); // a huge request's buffer is not kept
                    }
                }
            }
            catch (Exception)
            {
                // whatever stops the writer (the process gone, a bug) ends the worker: no check waits for a request never sent
            }
            End();
        }

        private async Task ReadAnswersAsync()
        {
            try
            {
                var output = _process.StandardOutput.BaseStream;
                var line = new MemoryStream();
                var buffer = new byte[64 * 1024];
                int read;
                while ((read = await output.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                {
                    for (int i = 0; i < read; i++)
                    {
                        if (buffer[i] != (byte)'\n')
                        {
                            line.WriteByte(buffer[i]); // only LF ends an answer: a CR the code holds is text
                            continue;
                        }
                        if (!Deliver(Encoding.UTF8.GetString(line.GetBuffer(), 0, (int)line.Length)))
                        {
                            End();
                            return;
                        }
                        line.SetLength(0);
                    }
                }
            }
            catch (Exception)
            {
                // whatever stops the reader ends the worker: the checks waiting hear that it stopped
            }
            End();
            _process.Dispose(); // the reader is the last to use it: its handle and pipes go now, not at a collection
        }

        /// <summary>Gives an answer to the oldest request, if it is that request's; false for an answer out of step.</summary>
        private bool Deliver(string line)
        {
            int space = line.IndexOf(' ');
            if (space <= 0 || !long.TryParse(line.AsSpan(0, space), NumberStyles.None, CultureInfo.InvariantCulture, out long number))
            {
                return false;
            }
            (long Number, TaskCompletionSource<Reply> Reply) head;
            lock (_order)
            {
                if (!_waiting.TryPeek(out head) || head.Number != number)
                {
                    return false;
                }
                _waiting.TryDequeue(out _);
                Volatile.Write(ref _headSince, _clock.GetTimestamp());
            }
            head.Reply.TrySetResult(new Reply(ReplyKind.Answer, line[(space + 1)..]));
            return true;
        }

        private void Watch()
        {
            (long Number, TaskCompletionSource<Reply> Reply) head;
            lock (_order)
            {
                if (!IsAlive || _waiting.IsEmpty || _clock.GetElapsedTime(Volatile.Read(ref _headSince)) <= _timeout || !_waiting.TryDequeue(out head))
                {
                    return;
                }
            }
            head.Reply.TrySetResult(new Reply(ReplyKind.TimedOut));
            Kill();
        }

        /// <summary>No more answers: every waiting check hears why (the exit code and what the process said, once known).</summary>
        private void End()
        {
            lock (_ending)
            {
                if (Interlocked.Exchange(ref _ended, 1) == 0)
                {
                    _requests.Writer.TryComplete();
                    _watchdog.Dispose();
                    string errors;
                    lock (_errors)
                    {
                        errors = _errors.ToString().Trim();
                    }
                    try
                    {
                        _exit = (_process.HasExited ? string.Create(CultureInfo.InvariantCulture, $" (exit code {_process.ExitCode})") : string.Empty)
                            + (errors.Length > 0 ? ": " + errors.ReplaceLineEndings(" ") : string.Empty);
                    }
                    catch (InvalidOperationException)
                    {
                    }
                }
            }
            while (_waiting.TryDequeue(out var waiting))
            {
                waiting.Reply.TrySetResult(new Reply(ReplyKind.Ended, _exit));
            }
        }

        /// <summary>Stops the process at once (a stalled parser).</summary>
        public void Kill()
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (Exception ex) when (ex is InvalidOperationException or Win32Exception or NotSupportedException)
            {
            }
            End();
        }

        /// <summary>Ends the process the polite way (its input closes and it exits), then lets it go.</summary>
        public void Close()
        {
            _requests.Writer.TryComplete();
            try
            {
                _process.StandardInput.Close();
                if (!_process.WaitForExit(1000))
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or Win32Exception)
            {
            }
            End();
            _process.Dispose();
        }
    }
}
