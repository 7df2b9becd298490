using CodeGen.Commands.Support;
using CodeGen.Core.Batch;
using CodeGen.Core.Costing;
using CodeGen.Core.Llm;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Commands;

/// <summary>Invoke-CodeInstructionToCode, -Batch: a file through the provider's Batch API, continuing a saved job if there is one.</summary>
public sealed partial class InvokeCodeInstructionToCodeCommand
{
    /// <summary>-Batch: export, upload, create, poll, download and merge, continuing a saved job if there is one.</summary>
    private void RunBatch(string input, string output, DataFormat? inputFormat, DataFormat? outputFormat)
    {
        var batches = BatchService.For(_client!);
        var endpoint = batches.Endpoint; // a codex model's batches run on the Responses API
        var options = new BatchJobOptions
        {
            Files = new FileRunOptions { InputPath = input, OutputPath = output, InputFormat = inputFormat, OutputFormat = outputFormat, Csv = Files.Csv },
            Generation = _generation!.WithoutRepairs(),
            MaxRequestsPerFile = _groups.Get<BatchFileParameters>().MaxRequestsPerFile,
            MaxBytesPerFile = _groups.Get<BatchFileParameters>().MaxBytesPerFile,
            Restart = Prompt.Force,
            NoWait = NoWait,
            PollInterval = TimeSpan.FromSeconds(PollIntervalSec),
            // the answers a batch brings back are stored under the requests a live run would send
            MergeThrough = _cache is null ? null : results => new CachingChatBackend(_client!, _cache, Core.Llm.CacheMode.Refresh, results),
        };
        var job = new BatchJob(options, batches, endpoint.DisplayUri, endpoint.Api.Api, endpoint.BatchModel);
        var progress = new RunProgress(this, $"Merging batch results into {System.IO.Path.GetFileName(output)}", total: null);
        var cacheStart = _cache?.Counts;
        var (state, summary) = Engine(() => PipelineThread.Run(() => job.RunAsync(new FileRunReporter(this, progress, PassThru, _verbose), StoppingToken)), output, batch: true);

        if (summary is null)
        {
            WriteVerbose($"Batch job {state.Status}: {state.Completed + state.Failed} of {state.Requests} requests done. Run the same command again to continue it.");
            WriteObject(state);
            return;
        }
        progress.Complete();
        string cost = summary.TotalCost is { } total ? "; " + RunCost.Describe(total, summary.PriceSource!) : string.Empty;
        WriteVerbose($"Merged the batch results ({string.Join(", ", state.BatchIds)}): {summary.RowsRead} rows, {summary.Generated} generated, {summary.Failed} failed{cost}.{CacheNote()} Output: {summary.OutputPath}");
        WriteObject(WithCacheCounts(summary, cacheStart));
    }
}
