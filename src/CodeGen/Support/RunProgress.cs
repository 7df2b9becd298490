using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using CodeGen.Core.Running;

namespace CodeGen.Commands.Support;

/// <summary>Write-Progress for a run, at most a few times a second. Pipeline thread only.</summary>
internal sealed class RunProgress
{
    private static readonly long Interval = Stopwatch.Frequency / 4;
    private static int s_nextActivityId = 0x4347;

    private readonly Cmdlet _cmdlet;
    private readonly int _activityId;
    private readonly string _activity;
    private readonly long? _total;
    private long _lastWrite;
    private bool _written;

    public RunProgress(Cmdlet cmdlet, string activity, long? total)
    {
        _cmdlet = cmdlet;
        _total = total;
        _activityId = Interlocked.Increment(ref s_nextActivityId);
        _activity = activity;
    }

    /// <summary>
    /// Shows the run's counters, how far it is and the time left: from the row total when it is known, else from
    /// <paramref name="fraction"/> (of a file read), which gives the rows to expect.
    /// </summary>
    public void Update(RunStatistics stats, double? fraction = null)
    {
        long now = Stopwatch.GetTimestamp();
        if (now - _lastWrite < Interval)
        {
            return;
        }
        _lastWrite = now;
        // a record of its own each time: a host may keep the records it was given (a PowerShell API's Streams.Progress)
        var record = new ProgressRecord(_activityId, _activity, Describe(stats));
        double? expected = _total is > 0 ? _total.Value : fraction is > 0 and var part && stats.Rows > 0 ? stats.Rows / Math.Min(1.0, part) : null;
        if (expected is { } rows)
        {
            record.PercentComplete = (int)Math.Clamp(stats.Completed * 100 / rows, 0, 100);
            // the pace of rows answered: rows an earlier run already had (-Resume) are done at once and say nothing of it
            double rate = stats.Elapsed.TotalSeconds > 0 ? (stats.Succeeded + stats.Failed) / stats.Elapsed.TotalSeconds : 0;
            record.SecondsRemaining = rate > 0 ? (int)Math.Min(int.MaxValue, Math.Max(0, rows - stats.Completed) / rate) : -1;
        }
        _cmdlet.WriteProgress(record);
        _written = true;
    }

    public void Complete()
    {
        if (!_written)
        {
            return;
        }
        _cmdlet.WriteProgress(new ProgressRecord(_activityId, _activity, "Done") { RecordType = ProgressRecordType.Completed });
    }

    /// <summary>The status line: short enough for a console (PowerShell cuts it at the window's width).</summary>
    internal static string Describe(RunStatistics s) => string.Format(CultureInfo.InvariantCulture,
        "{0} done, {1} failed, {2} in flight, {3:0.0} rows/s{4}", s.Completed, s.Failed, s.InFlight, s.RowsPerSecond,
        s.Throttled > 0 ? string.Format(CultureInfo.InvariantCulture, "; {0} throttled, limit {1}", s.Throttled, s.ConcurrencyLimit) : string.Empty);

    /// <summary>The one-line end-of-run summary.</summary>
    internal static string Summary(string command, RunStatistics s)
    {
        string tokens = s.UsageReported
            ? string.Format(CultureInfo.InvariantCulture, "{0} tokens ({1} prompt{2}, {3} completion{4})", s.TotalTokens, s.PromptTokens,
                s.CachedTokens > 0 ? string.Format(CultureInfo.InvariantCulture, " of which {0} cached", s.CachedTokens) : string.Empty,
                s.CompletionTokens,
                s.ReasoningTokens > 0 ? string.Format(CultureInfo.InvariantCulture, " of which {0} reasoning", s.ReasoningTokens) : string.Empty)
            : "token usage not reported by the server";
        if (s.Cost is { } cost)
        {
            tokens += "; " + cost.Describe();
        }
        string skipped = s.Skipped > 0 ? string.Format(CultureInfo.InvariantCulture, ", {0} kept from the earlier output", s.Skipped) : string.Empty;
        var c = s.Checks;
        string checks = c.Checked + c.Unchecked > 0
            ? string.Format(CultureInfo.InvariantCulture, " Checked {0}: {1} ok, {2} failed, {3} unchecked; {4} repaired with {5} repair requests.",
                c.Checked, c.Ok, c.Failed, c.Unchecked, c.Repaired, c.RepairRequests)
            : string.Empty;
        return string.Format(CultureInfo.InvariantCulture,
            "{0}: {1} rows, {2} generated, {3} failed{4} in {5:0.00} s ({6:0.0} rows/s); {7}.{8}",
            command, s.Rows, s.Succeeded, s.Failed, skipped, s.Elapsed.TotalSeconds, s.RowsPerSecond, tokens, checks);
    }
}
