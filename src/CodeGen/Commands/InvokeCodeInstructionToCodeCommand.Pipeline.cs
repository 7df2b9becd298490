using System.Management.Automation;
using System.Text;
using CodeGen.Commands.Rows;
using CodeGen.Commands.Support;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;

namespace CodeGen.Commands;

/// <summary>Invoke-CodeInstructionToCode, pipeline and -Instruction input: rows submitted as they come, outcomes written back in input order, and what -WhatIf -Verbose shows of them.</summary>
public sealed partial class InvokeCodeInstructionToCodeCommand
{
    private void Submit(PipelineRow row)
    {
        var run = _run!;
        var prepared = run.Prepare(row);
        if (prepared.IsSendable && !ShouldProcess($"Row {prepared.RowNumber}: {Preview(prepared.Instruction)}", _action))
        {
            ShowWouldSend(prepared);
            return;
        }
        run.Enqueue(prepared, row);
        Pump(drainAll: false);
    }

    /// <summary>
    /// Writes every outcome that is ready, in input order. With <paramref name="drainAll"/> it waits for all
    /// of them; otherwise it waits only while the run is full (backpressure), so memory stays bounded.
    /// </summary>
    private void Pump(bool drainAll)
    {
        var run = _run!;
        run.Drain(drainAll, Emit, () => _progress!.Update(run.GetStatistics()), PumpInterval, StoppingToken);
        _progress!.Update(run.GetStatistics());
    }

    private void Emit(RowOutcome outcome)
    {
        var row = (PipelineRow)outcome.State!;
        FileRunReporter.ReportNotices(this, outcome);
        if (outcome.Error is { } error)
        {
            if (error.Kind == RowErrorKind.Cancelled)
            {
                return;
            }
            if (!error.IsFatal) // a fatal error stops the command with its own terminating error
            {
                WriteError(ErrorRecords.ForRow(error, row.Source, this));
            }
        }
        else
        {
            ReportRow(outcome);
        }
        _columns!.Fill(outcome, row);
        WriteObject(row.Result);
    }

    private void ReportRow(RowOutcome outcome) => FileRunReporter.ReportRow(this, outcome, _verbose);

    /// <summary>-WhatIf -Verbose: the messages a row would send, in full (a row that is not sent says why).</summary>
    private void ShowWouldSend(PreparedRow prepared)
    {
        if (!_verbose || !WhatIfInEffect)
        {
            return;
        }
        if (prepared.Prompt.Messages is not { } messages)
        {
            WriteVerbose($"Row {prepared.RowNumber} would send nothing: {prepared.Error?.Detail}");
            return;
        }
        var text = new System.Text.StringBuilder($"Row {prepared.RowNumber} would send {messages.Length} message{(messages.Length == 1 ? "" : "s")}:");
        foreach (var message in messages)
        {
            text.Append('\n').Append(message.Role).Append(":\n    ").Append(message.Content.ReplaceLineEndings("\n    "));
        }
        WriteVerbose(text.ToString());
    }

    private static string Preview(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }
        string line = text.ReplaceLineEndings(" ").Trim();
        return line.Length <= 60 ? line : line[..57] + "...";
    }
}
