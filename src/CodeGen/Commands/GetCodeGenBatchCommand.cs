using System.Management.Automation;
using CodeGen.Commands.Support;
using CodeGen.Core.Batch;
using CodeGen.Core.Llm;

namespace CodeGen.Commands;

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
                WriteObject(Engine(() => PipelineThread.Run(() => batches.GetAsync(id, StoppingToken)), id));
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
                    PipelineThread.Run(() => BatchJob.RefreshAsync(state, batches, StoppingToken));
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
