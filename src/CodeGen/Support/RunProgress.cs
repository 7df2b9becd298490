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
    private readonly ProgressRecord _record;
    private readonly long? _total;
    private long _lastWrite;
    private bool _written;

    public RunProgress(Cmdlet cmdlet, string activity, long? total)
    {
        _cmdlet = cmdlet;
        _total = total;
        _record = new ProgressRecord(Interlocked.Increment(ref s_nextActivityId), activity, "Starting");
    }

    /// <summary>Shows the run's counters; the percentage comes from the row total, or from <paramref name="fraction"/> (of a file read).</summary>
    public void Update(RunStatistics stats, double? fraction = null)
    {
        long now = Stopwatch.GetTimestamp();
        if (now - _lastWrite < Interval)
        {
            return;
        }
        _lastWrite = now;
        _record.StatusDescription = Describe(stats);
        if (_total is > 0)
        {
            _record.PercentComplete = (int)Math.Min(100, stats.Completed * 100 / _total.Value);
        }
        else if (fraction is { } part)
        {
            _record.PercentComplete = (int)Math.Clamp(part * 100, 0, 100);
        }
        _cmdlet.WriteProgress(_record);
        _written = true;
    }

    public void Complete()
    {
        if (!_written)
        {
            return;
        }
        _record.RecordType = ProgressRecordType.Completed;
        _cmdlet.WriteProgress(_record);
    }

    internal static string Describe(RunStatistics s) => string.Format(CultureInfo.InvariantCulture,
        "{0} done, {1} failed, {2} in flight, {3:0.0} rows/s{4}", s.Completed, s.Failed, s.InFlight, s.RowsPerSecond,
        s.Throttled > 0 ? string.Format(CultureInfo.InvariantCulture, " ({0} rate-limited answers; concurrency now {1})", s.Throttled, s.ConcurrencyLimit) : string.Empty);

    /// <summary>The one-line end-of-run summary.</summary>
    internal static string Summary(string command, RunStatistics s)
    {
        string tokens = s.UsageReported
            ? string.Format(CultureInfo.InvariantCulture, "{0} tokens ({1} prompt{2}, {3} completion{4})", s.TotalTokens, s.PromptTokens,
                s.CachedTokens > 0 ? string.Format(CultureInfo.InvariantCulture, " of which {0} cached", s.CachedTokens) : string.Empty,
                s.CompletionTokens,
                s.ReasoningTokens > 0 ? string.Format(CultureInfo.InvariantCulture, " of which {0} reasoning", s.ReasoningTokens) : string.Empty)
            : "token usage not reported by the server";
        string skipped = s.Skipped > 0 ? string.Format(CultureInfo.InvariantCulture, ", {0} kept from the earlier output", s.Skipped) : string.Empty;
        return string.Format(CultureInfo.InvariantCulture,
            "{0}: {1} rows, {2} generated, {3} failed{4} in {5:0.00} s ({6:0.0} rows/s); {7}.",
            command, s.Rows, s.Succeeded, s.Failed, skipped, s.Elapsed.TotalSeconds, s.RowsPerSecond, tokens);
    }
}
