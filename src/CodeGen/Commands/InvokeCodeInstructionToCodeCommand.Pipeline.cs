using System.Management.Automation;
using CodeGen.Commands.Rows;
using CodeGen.Commands.Support;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;

namespace CodeGen.Commands;

/// <summary>Invoke-CodeInstructionToCode, pipeline and -Instruction input: rows submitted as they come, outcomes written back in input order, and what -WhatIf shows of them.</summary>
public sealed partial class InvokeCodeInstructionToCodeCommand
{
    private void Submit(PipelineRow row)
    {
        var run = _run!;
        var prepared = run.Prepare(row);
        if (prepared.IsSendable && !ShouldProcess(RowPreview.Target(prepared), _action))
        {
            if (ShowsWhatWouldBeSent)
            {
                WriteVerbose(RowPreview.Messages(prepared));
            }
            return;
        }
        run.Enqueue(prepared, row);
        _outcomes!.Take(all: false, StoppingToken);
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
}
