using System.Diagnostics.CodeAnalysis;
using CodeGen.Core.Checking;
using CodeGen.Core.Extraction;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;

namespace CodeGen.Core.Running;

/// <summary>
/// One run of the operator over a stream of rows. The caller (one thread: the PowerShell pipeline thread, a
/// file reader) prepares and enqueues rows and takes outcomes back in input order; requests run on the
/// thread pool, at most the client's concurrency (<see cref="ResilienceSettings.MaxConcurrency"/>) at once.
/// </summary>
/// <remarks>
/// Ordering is a FIFO of tasks: the next outcome is ready when the oldest task is done, whatever finished
/// after it. Backpressure is the caller's: when <see cref="IsFull"/>, wait for the next outcome before
/// enqueueing more, which bounds memory by <see cref="MaxPendingRows"/> rows however long the input is.
/// <see cref="Prepare"/>, <see cref="Enqueue"/>, <see cref="TryTakeNext"/> and <see cref="WaitForNext"/> are
/// for that one caller thread; <see cref="Cancel"/> and <see cref="GetStatistics"/> may be called from any thread.
/// </remarks>
public sealed class GenerationRun : IDisposable
{
    private readonly GenerationOptions _options;
    private readonly IChatBackend _client;
    private readonly PromptBuilder _prompts;
    private readonly CancellationTokenSource _cancel = new();
    private readonly Queue<Task<RowOutcome>> _pending = new();
    private readonly TimeProvider _time;
    /// <summary>When the first row was queued (<see cref="_time"/>'s timestamp); null before.</summary>
    private long? _startedAt;
    // set when the head's task completes; never disposed: it holds no handle (nothing asks for its WaitHandle), and a
    // continuation a timed-out wait left on a task may still set it after the run
    private readonly ManualResetEventSlim _headDone = new(false, spinCount: 0);
    private readonly Action _setHeadDone;
    private long _nextRowNumber;
    private long _rows, _succeeded, _failed, _skipped, _promptTokens, _completionTokens, _totalTokens, _reasoningTokens, _cachedTokens;
    // the tokens of answers this run paid for: not those read from the response cache or kept from an interrupted run
    private long _paidPrompt, _paidCompletion, _paidTotal, _paidReasoning, _paidCached;
    private long _checkOk, _checkFailed, _unchecked, _repaired, _repairRequests;
    private int _usageReported, _disposed;
    private long _pendingBytes;
    /// <summary>The first error in time that every other row would share: the run stops at its row (see <see cref="Drain"/>).</summary>
    private RowError? _stoppedBy;

    /// <exception cref="ArgumentException">The options are not valid, or the parameters cannot be sent to the API behind <paramref name="client"/>.</exception>
    public GenerationRun(GenerationOptions options, IChatBackend client)
    {
        options.Validate();
        client.CheckParameters(options.Parameters);
        _options = options;
        _client = client;
        _time = client.Time;
        _prompts = new PromptBuilder(options.InputKey, options.OutputKey, options.Overwrite, options.Template, options.SystemPrompt, options.Language);
        MaxPendingRows = options.EffectiveMaxPendingRows(client.MaxConcurrency);
        _setHeadDone = _headDone.Set;
    }

    public GenerationOptions Options => _options;

    /// <summary>The clock the run is timed on: its backend's (<see cref="IChatBackend.Time"/>).</summary>
    internal TimeProvider Time => _time;

    public int MaxPendingRows { get; }

    /// <summary>The most rows ever pending at once in this run (what backpressure held it to).</summary>
    public int PeakPendingCount { get; private set; }

    /// <summary>True when the caller should take an outcome before enqueueing another row.</summary>
    public bool IsFull => _pending.Count >= MaxPendingRows || Interlocked.Read(ref _pendingBytes) > _options.MaxPendingBytes;

    /// <summary>Cancelled by <see cref="Cancel"/>: stops waiting requests and aborts those in flight.</summary>
    public CancellationToken CancellationToken => _cancel.Token;

    /// <summary>
    /// Where a file run keeps every answer as it arrives (and finds those an interrupted run kept); null: nowhere.
    /// Set before the first row is enqueued.
    /// </summary>
    public AnswerJournal? Journal { get; set; }

    /// <summary>Numbers the row and builds its messages, or the row error that keeps it from being sent.</summary>
    public PreparedRow Prepare(IRowFields row)
    {
        long rowNumber = ++_nextRowNumber;
        return new PreparedRow(rowNumber, _prompts.Build(row, rowNumber));
    }

    /// <summary>Starts the request for a prepared row (or records its error) and queues its outcome.</summary>
    public void Enqueue(PreparedRow row, object? state)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        _startedAt ??= _time.GetTimestamp();
        Interlocked.Increment(ref _rows);
        Task<RowOutcome> task = row.IsSendable
            ? SendAsync(row, state)
            : Task.FromResult(Fail(row.RowNumber, state, row.Error!, TimeSpan.Zero));
        _pending.Enqueue(task);
        PeakPendingCount = Math.Max(PeakPendingCount, _pending.Count);
    }

    /// <summary>
    /// Queues a row whose answer is already known (a resumed run found it in the output): no request is sent,
    /// and its outcome, marked <see cref="RowOutcome.Resumed"/>, comes back in its place in the order.
    /// </summary>
    public void EnqueueKnown(object? state)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        _startedAt ??= _time.GetTimestamp();
        long rowNumber = ++_nextRowNumber;
        Interlocked.Increment(ref _rows);
        Interlocked.Increment(ref _skipped);
        _pending.Enqueue(Task.FromResult(new RowOutcome { RowNumber = rowNumber, State = state, Resumed = true }));
        PeakPendingCount = Math.Max(PeakPendingCount, _pending.Count);
    }

    /// <summary>
    /// Hands every ready outcome to <paramref name="emit"/> in input order. With <paramref name="all"/> it
    /// waits for every pending row; otherwise it waits only while the run is full (backpressure), so the
    /// caller can read more input. <paramref name="beforeWait"/> runs before each wait of up to
    /// <paramref name="interval"/> (to flush output, report progress). Throws when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    /// <exception cref="RunStoppedException">A row failed in a way every other row would (see <see cref="RowError.IsFatal"/>).</exception>
    public void Drain(bool all, Action<RowOutcome> emit, Action beforeWait, TimeSpan interval, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryTakeNext(out var outcome))
            {
                emit(outcome);
                if (outcome.Error is { IsFatal: true } fatal)
                {
                    throw new RunStoppedException(fatal);
                }
                continue;
            }
            if (_pending.Count == 0 || (!all && !IsFull))
            {
                return;
            }
            beforeWait();
            WaitFor(all ? _pending.Peek() : RefillMark(), interval, cancellationToken);
        }
    }

    /// <summary>
    /// The pending row a full run waits for before the caller reads more: not the oldest, but one further on, with at
    /// least <see cref="IChatBackend.MaxConcurrency"/> rows behind it. Waking the caller for every answer cost a thread
    /// switch per row; waking it once a batch is answered (rows still waiting for a request slot keep every slot busy
    /// meanwhile) costs one per batch. What is ready is still taken in order at every wake and every interval.
    /// </summary>
    private Task<RowOutcome> RefillMark()
    {
        // two waves of requests at most: larger bursts (75 rows at a concurrency of 10) allocated 15% more, pooled objects
        // being given back and rented again in bursts bigger than their pools keep
        int batch = Math.Min(Math.Min((MaxPendingRows - _client.MaxConcurrency) / 2, 2 * _client.MaxConcurrency), _pending.Count - _client.MaxConcurrency);
        if (batch <= 1)
        {
            return _pending.Peek();
        }
        // the queue is enumerated from its head; a batch is a fraction of the window, so this is short next to the batch it waits for
        using var rows = _pending.GetEnumerator();
        for (int i = 0; i < batch; i++)
        {
            rows.MoveNext();
        }
        // answered before the oldest (answers come in any order): then the oldest is what is waited for
        return rows.Current.IsCompleted ? _pending.Peek() : rows.Current;
    }

    /// <summary>Takes the next outcome in input order if it is ready.</summary>
    public bool TryTakeNext([NotNullWhen(true)] out RowOutcome? outcome)
    {
        if (_pending.TryPeek(out var head) && head.IsCompleted)
        {
            _pending.Dequeue();
            outcome = head.Result;
            Interlocked.Add(ref _pendingBytes, -outcome.RetainedBytes);
            return true;
        }
        outcome = null;
        return false;
    }

    /// <summary>
    /// Blocks until the next outcome in input order is ready or <paramref name="timeout"/> passes. Returns true
    /// when it is ready, false on timeout or when nothing is pending. Throws when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    /// <remarks>
    /// The caller sleeps until the head's task completes (its completion sets an event, without spinning): a wait
    /// that spun first (Task.Wait) took a core from the requests and answers it was waiting for, once per row.
    /// </remarks>
    public bool WaitForNext(TimeSpan timeout, CancellationToken cancellationToken)
        => _pending.TryPeek(out var head) && WaitFor(head, timeout, cancellationToken);

    /// <summary>Blocks until <paramref name="head"/> (a pending row's task) is done or <paramref name="timeout"/> passes; true when it is done.</summary>
    private bool WaitFor(Task<RowOutcome> head, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (head.IsCompleted)
        {
            return true;
        }
        if (!ReferenceEquals(head, _waitedHead))
        {
            // one continuation per head, however many waits it takes (a head that takes minutes is waited on thousands of times)
            _waitedHead = head;
            _headDone.Reset();
            head.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_setHeadDone);
        }
        long started = _time.GetTimestamp();
        while (true)
        {
            var left = timeout - _time.GetElapsedTime(started);
            if (head.IsCompleted)
            {
                return true;
            }
            if (left <= TimeSpan.Zero || !_headDone.Wait(left, cancellationToken))
            {
                return head.IsCompleted;
            }
            if (head.IsCompleted)
            {
                return true;
            }
            // set by an earlier head's continuation, late: wait on for this one's (which cannot be lost: it is checked above)
            _headDone.Reset();
        }
    }

    /// <summary>The head <see cref="WaitForNext"/> put its continuation on.</summary>
    private Task<RowOutcome>? _waitedHead;

    public RunStatistics GetStatistics()
    {
        var (limit, inFlight, throttled) = _client.ConcurrencySnapshot;
        var paid = new TokenUsage(Interlocked.Read(ref _paidPrompt), Interlocked.Read(ref _paidCompletion), Interlocked.Read(ref _paidTotal),
            Interlocked.Read(ref _paidReasoning), Interlocked.Read(ref _paidCached));
        bool usageReported = Volatile.Read(ref _usageReported) != 0;
        return new(
            Interlocked.Read(ref _rows),
            Interlocked.Read(ref _succeeded),
            Interlocked.Read(ref _failed),
            Interlocked.Read(ref _skipped),
            inFlight,
            _pending.Count,
            Interlocked.Read(ref _promptTokens),
            Interlocked.Read(ref _completionTokens),
            Interlocked.Read(ref _totalTokens),
            usageReported,
            _startedAt is { } startedAt ? _time.GetElapsedTime(startedAt) : TimeSpan.Zero,
            limit,
            throttled,
            Interlocked.Read(ref _reasoningTokens),
            Interlocked.Read(ref _cachedTokens),
            new CheckCounts(Interlocked.Read(ref _checkOk), Interlocked.Read(ref _checkFailed), Interlocked.Read(ref _unchecked),
                Interlocked.Read(ref _repaired), Interlocked.Read(ref _repairRequests)),
            paid,
            _options.Price is { } price && usageReported ? Costing.RunCost.Of(price, paid, _options.BatchPrices) : null);
    }

    /// <summary>
    /// Sends nothing more, without aborting what is on the wire: rows waiting for a slot (and retries, and repairs) end
    /// as cancelled, rows in flight get their answers (kept by the journal as they come). See <see cref="Cancel"/> for a stop.
    /// </summary>
    public void StopSending() => _client.StopSending();

    /// <summary>Requests of this run on the wire now (holding a place among those in flight).</summary>
    public int InFlight => _client.ConcurrencySnapshot.InFlight;

    /// <summary>
    /// Sends nothing more (<see cref="StopSending"/>) and waits until no request of this run is on the wire: the answers of
    /// those already sent come back and reach the journal as they come. Rows waiting for a slot are refused at once; rows
    /// waiting to try again (after a 429 or a 5xx) are not waited for: nothing of theirs is on the wire, and
    /// <see cref="Cancel"/> ends them. Polls every <paramref name="poll"/>; throws when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public void StopSendingAndWaitForTheWire(TimeSpan poll, CancellationToken cancellationToken)
    {
        StopSending();
        bool waited = false;
        while (InFlight > 0 || !waited)
        {
            // once more after the last answer came in: its row's outcome (and the journal's copy) is made just after
            waited = InFlight == 0;
            if (cancellationToken.WaitHandle.WaitOne(poll))
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }

    /// <summary>Stops the run: requests waiting for a slot never start, requests in flight are aborted.</summary>
    public void Cancel()
    {
        try
        {
            _cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // already disposed: nothing left to cancel
        }
    }

    /// <summary>Cancels what is left and waits (briefly) until no request of this run is running any more.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        Cancel();
        var remaining = _pending.ToArray();
        _pending.Clear();
        try
        {
            Task.WaitAll(remaining, TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // outcomes of abandoned rows do not matter any more
        }
        _cancel.Dispose();
    }

    private async Task<RowOutcome> SendAsync(PreparedRow row, object? state)
    {
        // Requests wait for a concurrency permit inside the client (a permit per attempt, adapting to 429s).
        var token = _cancel.Token;
        if (token.IsCancellationRequested)
        {
            return Cancelled(row.RowNumber, state, _time.GetTimestamp());
        }
        long started = _time.GetTimestamp();
        try
        {
            var journal = Journal;
            string? hash = journal is null ? null : AnswerJournal.HashOf(row.Prompt.Messages!, _options.Parameters);
            if (journal is not null && journal.TryTake(row.RowNumber, hash!, out var kept))
            {
                // answered before an interruption, and kept: not paid for again
                var recovered = FromAnswer(row, state, kept!, TimeSpan.Zero, [], paid: false, out var keptReading);
                if (recovered.Error is null && _options.Checkers is not null)
                {
                    await Task.Yield(); // the check runs off the caller's thread, as for an answer that came over the network
                    await CheckAsync(row, recovered, kept!, keptReading, journal, hash, token).ConfigureAwait(false);
                }
                Interlocked.Add(ref _pendingBytes, recovered.RetainedBytes);
                return recovered;
            }
            var result = await _client.CompleteAsync(row, _options.Parameters, token).ConfigureAwait(false);
            var elapsed = _time.GetElapsedTime(started);
            RowOutcome outcome;
            if (result.IsSuccess)
            {
                outcome = FromAnswer(row, state, result.Answer!, elapsed, result.Retried, paid: !result.FromCache, out var reading);
                if (outcome.Error is null)
                {
                    // kept the moment it is known to be usable (a refusal or an answer without code is asked again)
                    journal?.Append(row.RowNumber, hash!, result.Answer!);
                    if (_options.Checkers is not null)
                    {
                        await CheckAsync(row, outcome, result.Answer!, reading, journal, hash, token).ConfigureAwait(false);
                    }
                }
            }
            else if (result.FailureKind == RowErrorKind.Cancelled)
            {
                outcome = Cancelled(row.RowNumber, state, started); // not sent: the run stopped sending (StopSending)
            }
            else
            {
                var error = result.ToRowError(row.RowNumber);
                if (result.IsFatal)
                {
                    Interlocked.CompareExchange(ref _stoppedBy, error, null);
                    Cancel(); // stop sending: the caller stops at this row
                }
                outcome = Fail(row.RowNumber, state, error, elapsed);
            }
            outcome.Notices = result.Notices;
            outcome.WireTime = result.WireTime;
            Interlocked.Add(ref _pendingBytes, outcome.RetainedBytes);
            return outcome;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return Cancelled(row.RowNumber, state, started);
        }
        catch (SendingStoppedException)
        {
            // a repair the run no longer sends: the row's answer (in the journal) is not done, and is not counted as done
            Interlocked.Decrement(ref _succeeded);
            return Cancelled(row.RowNumber, state, started);
        }
        catch (Exception ex)
        {
            return Fail(row.RowNumber, state, RowError.Create(RowErrorKind.InternalError, row.RowNumber,
                $"CodeGen failed while handling the row ({ex.GetType().Name}: {ex.Message})."), _time.GetElapsedTime(started));
        }
    }

    /// <summary>The row's outcome from its answer (read by <see cref="AnswerInterpreter"/>), counted in the run's totals.</summary>
    /// <param name="paid">The answer was sent by the provider for this run (not read from the response cache or kept from an interrupted run).</param>
    private RowOutcome FromAnswer(PreparedRow row, object? state, ChatAnswer answer, TimeSpan elapsed, IReadOnlyList<string> retried, bool paid, out AnswerReading reading)
    {
        long rowNumber = row.RowNumber;
        CountUsage(answer.Usage, paid);
        reading = AnswerInterpreter.Read(answer, rowNumber, _options.KeepRawAnswer, row.Prompt.Language);
        if (reading.Error is { } error)
        {
            return Fail(rowNumber, state, error, elapsed, answer);
        }
        Interlocked.Increment(ref _succeeded);
        return new RowOutcome
        {
            RowNumber = rowNumber,
            State = state,
            Code = reading.Code,
            Answer = answer.Content,
            FinishReason = answer.FinishReason,
            Usage = answer.Usage,
            Warning = reading.Warning,
            Elapsed = elapsed,
            Retried = retried,
        };
    }

    /// <param name="paid">The answer was sent by the provider for this run: its tokens count in <see cref="RunStatistics.PaidUsage"/> too.</param>
    private void CountUsage(TokenUsage? reported, bool paid)
    {
        if (reported is { } usage)
        {
            if (paid)
            {
                Interlocked.Add(ref _paidPrompt, usage.PromptTokens);
                Interlocked.Add(ref _paidCompletion, usage.CompletionTokens);
                Interlocked.Add(ref _paidTotal, usage.TotalTokens);
                Interlocked.Add(ref _paidReasoning, usage.ReasoningTokens ?? 0);
                Interlocked.Add(ref _paidCached, usage.CachedTokens ?? 0);
            }
            Interlocked.Add(ref _promptTokens, usage.PromptTokens);
            Interlocked.Add(ref _completionTokens, usage.CompletionTokens);
            Interlocked.Add(ref _totalTokens, usage.TotalTokens);
            Interlocked.Add(ref _reasoningTokens, usage.ReasoningTokens ?? 0);
            Interlocked.Add(ref _cachedTokens, usage.CachedTokens ?? 0);
            Volatile.Write(ref _usageReported, 1);
        }
    }

    /// <summary>
    /// Checks the row's code (off the caller's thread, beside the requests in flight) and, while it does not parse and
    /// repairs are left, sends the conversation back with the parser's messages through the same backend (cache, rate
    /// limits, retries): the last code and its check are kept, the repairs' tokens are added to the row's.
    /// </summary>
    private async Task CheckAsync(PreparedRow row, RowOutcome outcome, ChatAnswer answer, AnswerReading first, AnswerJournal? journal, string? hash, CancellationToken token)
    {
        var checkers = _options.Checkers!;
        string? language = row.Prompt.Language; // -Language, or the row's own (-Language '{column}')
        string? tag = first.LanguageTag;
        var check = await checkers.CheckAsync(first.CheckCode ?? outcome.Code!, language, tag, token).ConfigureAwait(false);
        List<ChatMessage>? messages = null; // the conversation, built only for a row that is repaired
        while (check.Status == CheckStatus.Failed && outcome.Repairs < _options.MaxRepairs)
        {
            messages ??= [.. row.Prompt.Messages!];
            messages.Add(new ChatMessage("assistant", answer.Content ?? string.Empty));
            messages.Add(ChatMessage.User(PromptBuilder.RepairPrompt(check.Detail, language ?? tag ?? check.Language)));
            var repair = new PreparedRow(row.RowNumber, PromptResult.Ok([.. messages], row.Instruction ?? string.Empty, language));
            outcome.Repairs++;
            Interlocked.Increment(ref _repairRequests);
            var result = await _client.CompleteAsync(repair, _options.Parameters, token).ConfigureAwait(false);
            if (!result.IsSuccess && result.FailureKind == RowErrorKind.Cancelled)
            {
                // not sent: the run stopped sending. The row is not done (a resume takes its first answer from the journal and
                // checks and repairs it again), so it must not be written as it stands
                throw new SendingStoppedException();
            }
            if (!result.IsSuccess)
            {
                // the row keeps the code it has; an error every request would get (a key, a quota) stops the run at
                // the next row that meets it, which reports it as such
                outcome.Warning = Join(outcome.Warning, $"Row {row.RowNumber}: repair {outcome.Repairs} failed ({result.Detail}); the code is the last answer's.");
                break;
            }
            CountUsage(result.Answer!.Usage, paid: !result.FromCache);
            outcome.Usage = Sum(outcome.Usage, result.Answer.Usage);
            var reading = AnswerInterpreter.Read(result.Answer, row.RowNumber, _options.KeepRawAnswer, language);
            if (reading.Error is not null || reading.Code is null)
            {
                outcome.Warning = Join(outcome.Warning, $"Row {row.RowNumber}: repair {outcome.Repairs} brought no code ({reading.Error?.Detail}); the code is the last answer's.");
                break;
            }
            answer = result.Answer;
            outcome.Code = reading.Code;
            outcome.Answer = answer.Content;
            outcome.FinishReason = answer.FinishReason;
            tag = reading.LanguageTag ?? tag;
            check = await checkers.CheckAsync(reading.CheckCode ?? reading.Code, language, tag, token).ConfigureAwait(false);
            if (check.Status != CheckStatus.Failed)
            {
                // the repaired answer is the row's: a resumed run starts from it, not from the broken one
                journal?.Append(row.RowNumber, hash!, answer);
            }
        }
        outcome.Check = check;
        switch (check.Status)
        {
            case CheckStatus.Ok:
                Interlocked.Increment(ref _checkOk);
                break;
            case CheckStatus.Failed:
                Interlocked.Increment(ref _checkFailed);
                break;
            default:
                Interlocked.Increment(ref _unchecked);
                break;
        }
        if (outcome.Repairs > 0 && check.Status == CheckStatus.Ok)
        {
            Interlocked.Increment(ref _repaired);
        }
    }

    private static string Join(string? first, string second) => first is null ? second : first + " " + second;

    private static TokenUsage? Sum(TokenUsage? a, TokenUsage? b) => (a, b) switch
    {
        (null, _) => b,
        (_, null) => a,
        ({ } x, { } y) => new TokenUsage(x.PromptTokens + y.PromptTokens, x.CompletionTokens + y.CompletionTokens, x.TotalTokens + y.TotalTokens,
            x.ReasoningTokens is null && y.ReasoningTokens is null ? null : (x.ReasoningTokens ?? 0) + (y.ReasoningTokens ?? 0),
            x.CachedTokens is null && y.CachedTokens is null ? null : (x.CachedTokens ?? 0) + (y.CachedTokens ?? 0)),
    };

    private RowOutcome Fail(long rowNumber, object? state, RowError error, TimeSpan elapsed, ChatAnswer? answer = null)
    {
        Interlocked.Increment(ref _failed);
        return new RowOutcome
        {
            RowNumber = rowNumber,
            State = state,
            Error = error,
            Answer = answer?.Content,
            FinishReason = answer?.FinishReason,
            Usage = answer?.Usage,
            Elapsed = elapsed,
        };
    }

    /// <summary>
    /// A row the run gave up on. When an error every row would share stopped it at a later row, the rows before that one
    /// fail with that error (they come out before the stop, and each is reported); otherwise (the caller cancelled, or the
    /// row comes after the stop) the row is cancelled, and nothing after it is written.
    /// </summary>
    private RowOutcome Cancelled(long rowNumber, object? state, long started)
    {
        if (Volatile.Read(ref _stoppedBy) is { } stop && rowNumber < stop.RowNumber)
        {
            return Fail(rowNumber, state, new RowError(stop.Kind, rowNumber, $"not answered: the run stopped, because {stop.Detail}",
                stop.StatusCode, stop.ServerMessage, stop.ServerCode), _time.GetElapsedTime(started));
        }
        return new()
        {
            RowNumber = rowNumber,
            State = state,
            Error = RowError.Create(RowErrorKind.Cancelled, rowNumber, "the run was stopped before this row was answered."),
        };
    }
}
