using System.Management.Automation;
using CodeGen.Commands.Endpoints;
using CodeGen.Commands.Support;
using CodeGen.Core.Batch;
using CodeGen.Core.Llm;

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
