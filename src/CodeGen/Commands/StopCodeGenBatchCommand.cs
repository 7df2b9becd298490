using System.Management.Automation;
using CodeGen.Commands.Support;
using CodeGen.Core.Batch;

namespace CodeGen.Commands;

/// <summary>
/// Stop-CodeGenBatch: cancels a batch job's unfinished batches (or batches by id). The provider stops them
/// and keeps what they already ran; run Invoke-CodeInstructionToCode -Batch again to merge that part.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "CodeGenBatch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = OutputPathSet)]
[OutputType(typeof(BatchJobState), ParameterSetName = [OutputPathSet])]
[OutputType(typeof(BatchInfo), ParameterSetName = [IdSet])]
public sealed class StopCodeGenBatchCommand : BatchCommandBase
{
    /// <summary>Write the job (or batches) after the cancel.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == IdSet)
        {
            var (client, batches) = CreateBatchService(job: null);
            using var owned = client;
            foreach (var id in Id.Where(id => ShouldProcess(id, "Cancel batch")))
            {
                var info = Engine(() => PipelineThread.Run(() => batches.CancelAsync(id, StoppingToken)), id);
                if (PassThru)
                {
                    WriteObject(info);
                }
            }
            return;
        }
        var state = LoadJob();
        var running = state.Parts.Where(p => p.BatchId is not null && !p.IsFinished && p.Status != BatchStatus.Cancelling).Select(p => p.BatchId!).ToList();
        if (running.Count == 0)
        {
            // said without -Verbose: a stop that stops nothing should not look like one that worked
            WriteWarning($"The batch job for {state.OutputPath} has no running batch to cancel: it is already {state.Status}.");
        }
        else if (ShouldProcess($"{string.Join(", ", running)} ({state.OutputPath})", "Cancel batch"))
        {
            var (client, batches) = CreateBatchService(state);
            using var owned = client;
            var cancelled = Engine(() => PipelineThread.Run(() => BatchJob.CancelAsync(state, batches, StoppingToken)), state.OutputPath);
            WriteVerbose($"Asked the provider to cancel {string.Join(", ", cancelled)}. Run Invoke-CodeInstructionToCode -Batch again to merge what they ran.");
        }
        if (PassThru)
        {
            WriteObject(state);
        }
    }
}
