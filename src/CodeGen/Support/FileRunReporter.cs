using System.Globalization;
using System.Management.Automation;
using CodeGen.Commands.Rows;
using CodeGen.Core.Batch;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Commands.Support;

/// <summary>
/// Turns the events of a file run or a batch job into pipeline output, on the pipeline thread (the engine
/// calls back on the thread that runs it): a non-terminating error per failed row, warnings and verbose
/// lines, Write-Progress, and each row under -PassThru.
/// </summary>
internal sealed class FileRunReporter : IBatchJobListener
{
    private static int s_nextBatchActivityId = 0x4247;

    private readonly CancellableCmdlet _cmdlet;
    private readonly RunProgress _progress;
    private readonly bool _passThru;
    private readonly bool _verbose;
    private ProgressRecord? _batchProgress;
    private string? _lastBatchStatus;

    public FileRunReporter(CancellableCmdlet cmdlet, RunProgress progress, bool passThru, bool verbose)
    {
        _cmdlet = cmdlet;
        _progress = progress;
        _passThru = passThru;
        _verbose = verbose;
    }

    public void OnRow(RowOutcome outcome, DataRow row)
    {
        ReportNotices(_cmdlet, outcome);
        PSObject? item = null;
        if (outcome.Error is { IsFatal: false } error)
        {
            item = RowConversion.ToPSObject(row);
            _cmdlet.WriteError(ErrorRecords.ForRow(error, item, _cmdlet));
        }
        else
        {
            ReportRow(_cmdlet, outcome, _verbose);
        }
        if (_passThru)
        {
            _cmdlet.WriteObject(item ?? RowConversion.ToPSObject(row));
        }
    }

    public void OnProgress(RunStatistics statistics, double fractionRead) => _progress.Update(statistics, fractionRead);

    public void OnNotice(string message) => _cmdlet.WriteVerbose(message);

    public void OnWarning(string message) => _cmdlet.WriteWarning(message);

    public void OnBatchStatus(BatchJobState state)
    {
        string status = string.Format(CultureInfo.InvariantCulture, "{0}: {1} of {2} requests done, {3} failed ({4})",
            state.Status, state.Completed + state.Failed, state.Requests, state.Failed, string.Join(", ", state.Parts.Select(p => $"{p.BatchId} {p.Status}")));
        _batchProgress ??= new ProgressRecord(Interlocked.Increment(ref s_nextBatchActivityId), $"Batch job for {Path.GetFileName(state.OutputPath)}", status);
        _batchProgress.StatusDescription = status;
        _batchProgress.PercentComplete = state.Requests == 0 ? 100 : (int)Math.Min(100, (state.Completed + state.Failed) * 100 / state.Requests);
        _batchProgress.RecordType = state.Parts.All(p => p.IsFinished) ? ProgressRecordType.Completed : ProgressRecordType.Processing;
        _cmdlet.WriteProgress(_batchProgress);
        if (status != _lastBatchStatus)
        {
            _cmdlet.WriteVerbose("Batch job " + status + ".");
            _lastBatchStatus = status;
        }
    }

    /// <summary>What the run changed while answering the row (whatever became of it), as warnings: each is told once.</summary>
    public static void ReportNotices(Cmdlet cmdlet, RowOutcome outcome)
    {
        foreach (var notice in outcome.Notices)
        {
            cmdlet.WriteWarning(notice);
        }
    }

    /// <summary>The warning and verbose line of a row that produced code.</summary>
    public static void ReportRow(PSCmdlet cmdlet, RowOutcome outcome, bool verbose)
    {
        if (outcome.Warning is not null)
        {
            // the engine states what happened; the advice names the parameter when the command has it
            bool cutOff = string.Equals(outcome.FinishReason, "length", StringComparison.OrdinalIgnoreCase);
            cmdlet.WriteWarning(cutOff && ErrorRecords.HasParameter(cmdlet, "MaxTokens") ? outcome.Warning + " Raise -MaxTokens." : outcome.Warning);
        }
        if (verbose && !outcome.Resumed)
        {
            string tokens = outcome.Usage is { } usage ? $", {usage.TotalTokens} tokens" : string.Empty;
            string retries = outcome.Retried.Count == 0 ? string.Empty : $" after {outcome.Retried.Count + 1} attempts (retried for {string.Join(", ", outcome.Retried)})";
            // the time on the wire apart from the wait for a free slot (-ThrottleLimit), the pace or a retry, which a full run adds to most rows
            string time = outcome.WireTime is { } wire
                ? $"answered in {wire.TotalMilliseconds:0} ms on the wire ({Math.Max(0, (outcome.Elapsed - wire).TotalMilliseconds):0} ms more waiting for a free slot, the pace or a retry)"
                : $"answered in {outcome.Elapsed.TotalMilliseconds:0} ms";
            cmdlet.WriteVerbose($"Row {outcome.RowNumber}: {time}{retries}{tokens}.");
        }
    }

    /// <summary>Whether verbose output is on for the command (-Verbose, or $VerbosePreference).</summary>
    public static bool IsVerbose(PSCmdlet cmdlet)
    {
        if (cmdlet.MyInvocation.BoundParameters.TryGetValue("Verbose", out var bound))
        {
            return bound is SwitchParameter s ? s.IsPresent : LanguagePrimitives.IsTrue(bound);
        }
        var preference = cmdlet.GetVariableValue("VerbosePreference");
        return preference is ActionPreference p ? p != ActionPreference.SilentlyContinue && p != ActionPreference.Ignore
            : preference is not null && !string.Equals(preference.ToString(), "SilentlyContinue", StringComparison.OrdinalIgnoreCase);
    }
}
