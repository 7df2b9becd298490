using System.Management.Automation;
using CodeGen.Commands.Endpoints;
using CodeGen.Commands.Support;
using CodeGen.Core.Batch;
using CodeGen.Core.Llm;
using CodeGen.Core.Storage;

namespace CodeGen.Commands;

/// <summary>What Get-CodeGenBatch and Stop-CodeGenBatch share: finding a job by its output, or a batch by id.</summary>
public abstract class BatchCommandBase : LlmCommandBase
{
    protected const string OutputPathSet = "OutputPath";
    protected const string IdSet = "Id";

    /// <summary>The -OutputPath of the Invoke-CodeInstructionToCode -Batch run (its job is saved in &lt;OutputPath&gt;.batch).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = OutputPathSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string OutputPath { get; set; } = null!;

    /// <summary>Provider batch ids (batch_..., msgbatch_...), for batches CodeGen did not start or whose folder is gone.</summary>
    [Parameter(Mandatory = true, ParameterSetName = IdSet, ValueFromPipelineByPropertyName = true)]
    [Alias("BatchId")]
    [ValidateNotNullOrEmpty]
    public string[] Id { get; set; } = [];

    /// <summary>The saved job, or a terminating error saying there is none.</summary>
    protected BatchJobState LoadJob()
    {
        string output = GetUnresolvedProviderPathFromPSPath(OutputPath);
        var state = Engine(() => BatchJobState.Load(output), output);
        if (state is null)
        {
            string message = $"There is no batch job for {output} ({BatchJobState.DirectoryFor(output)} has no state.json).";
            ThrowTerminatingError(ErrorRecords.ForUsage("BatchJobNotFound", message,
                "Pass -OutputPath the -OutputPath of the Invoke-CodeInstructionToCode -Batch run; or pass -Id with the provider's batch id.", output, new ItemNotFoundException(message), ErrorCategory.ObjectNotFound));
        }
        return state!;
    }

    /// <summary>
    /// What a saved job says of its endpoint: where its batches run (the request URL, except an Azure resource's, whose
    /// saved form lacks its api-version), with which model and API.
    /// </summary>
    protected static EndpointSettings? JobLayer(BatchJobState? job)
        => job is null ? null : new EndpointSettings(IsAzure(job.Endpoint) ? null : job.Endpoint, Model: job.Model, Api: job.Api, Source: "the saved batch job");

    private static bool IsAzure(string endpoint)
        => Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.IdnHost.EndsWith(".azure.com", StringComparison.OrdinalIgnoreCase);

    /// <summary>The batch service of the endpoint; for a saved job, the endpoint must be the job's.</summary>
    protected (LlmClient Client, BatchService Batches) CreateBatchService(BatchJobState? job)
    {
        // the batches of a saved job run at its endpoint with its model and API: a command that only looks at them need not name them again
        var client = CreateClientOrThrow(out var endpoint, maxConcurrency: 4, fallback: JobLayer(job));
        if (job is not null && !string.Equals(endpoint.DisplayUri, job.Endpoint, StringComparison.OrdinalIgnoreCase))
        {
            client.Dispose();
            string message = $"The batch job for {job.OutputPath} runs at {job.Endpoint}, but the endpoint now configured is {endpoint.DisplayUri}.";
            ThrowTerminatingError(ErrorRecords.ForUsage("BatchJobMismatch", message,
                "Pass -Endpoint (and -ApiKey) for the job's endpoint; or clear the session's (Clear-CodeGenEndpoint) and CODEGEN_ENDPOINT: the job's own endpoint is then used.", job.OutputPath,
                new InvalidOperationException(message)));
        }
        return (client, BatchService.For(client));
    }
}

/// <summary>
/// Get-CodeGenBatch: how far a batch job is. With -OutputPath, the job saved by Invoke-CodeInstructionToCode
/// -Batch, refreshed from the provider; with -Id, the provider's batches themselves.
/// </summary>
[Cmdlet(VerbsCommon.Get, "CodeGenBatch", DefaultParameterSetName = OutputPathSet)]
[OutputType(typeof(BatchJobState), ParameterSetName = [OutputPathSet])]
[OutputType(typeof(BatchInfo), ParameterSetName = [IdSet])]
public sealed class GetCodeGenBatchCommand : BatchCommandBase
{
    /// <summary>Show the saved state without asking the provider.</summary>
    [Parameter(ParameterSetName = OutputPathSet)]
    public SwitchParameter Offline { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == IdSet)
        {
            var (client, batches) = CreateBatchService(job: null);
            using var owned = client;
            foreach (var id in Id)
            {
                WriteObject(Engine(() => batches.GetAsync(id, StoppingToken).GetAwaiter().GetResult(), id));
            }
            return;
        }
        var state = LoadJob();
        if (!Offline && !state.Merged && state.Parts.Any(p => p.BatchId is not null && !p.IsFinished))
        {
            LlmEndpoint endpoint;
            try
            {
                endpoint = ResolveEndpoint(JobLayer(state));
            }
            catch (EndpointConfigurationException ex)
            {
                WriteWarning($"Showing the saved state of the batch job: {ex.Message}");
                WriteObject(state);
                return;
            }
            var (client, batches) = CreateBatchService(state);
            using var owned = client;
            bool refreshed = Engine(() =>
            {
                try
                {
                    BatchJob.RefreshAsync(state, batches, StoppingToken).GetAwaiter().GetResult();
                    return true;
                }
                catch (ApiCallException ex) when (ex.StatusCode is 401 && endpoint.Auth == AuthKind.None)
                {
                    return false; // the job names its endpoint: what is missing is the key
                }
            }, state.OutputPath);
            if (!refreshed)
            {
                WriteWarning($"Showing the saved state of the batch job: {endpoint.DisplayUri} asks for an API key and none is set. " +
                    "Pass -ApiKey, or set CODEGEN_API_KEY (or the provider's own variable, such as OPENAI_API_KEY).");
            }
        }
        WriteObject(state);
    }
}

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
                var info = Engine(() => batches.CancelAsync(id, StoppingToken).GetAwaiter().GetResult(), id);
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
            var cancelled = Engine(() => BatchJob.CancelAsync(state, batches, StoppingToken).GetAwaiter().GetResult(), state.OutputPath);
            WriteVerbose($"Asked the provider to cancel {string.Join(", ", cancelled)}. Run Invoke-CodeInstructionToCode -Batch again to merge what they ran.");
        }
        if (PassThru)
        {
            WriteObject(state);
        }
    }
}
