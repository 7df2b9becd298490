using System.Globalization;
using System.Management.Automation;
using System.Text;
using CodeGen.Commands.Endpoints;
using CodeGen.Commands.Rows;
using CodeGen.Commands.Support;
using CodeGen.Core.Costing;
using CodeGen.Core.Llm;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Commands;

/// <summary>
/// Measure-CodeGenCost: what Invoke-CodeInstructionToCode would cost on the same rows, before it is paid. Builds each
/// row's request exactly as a run would and counts its prompt tokens (the model's tokenizer, or Anthropic's free
/// count_tokens); prices them with the user's prices. Sends no row's request, except the -SampleRows it is asked to
/// run for real to measure how long the answers are.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "CodeGenCost", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(CostEstimate))]
public sealed class MeasureCodeGenCostCommand : GenerationCommandBase, IDynamicParameters
{
    private const string PathSet = "Path";

    /// <summary>The parameter groups this command shares with others, each declared once (<see cref="ParameterGroups"/>).</summary>
    private readonly ParameterGroups _groups = new ParameterGroups()
        .Offer<GenerationParameters>()
        .Offer<ThrottleParameters>()
        .Offer<CacheParameters>()
        .Offer<DataFileParameters>([PathSet], DataFileParameters.OneFormat);
    private GenerationOptions? _generation;
    private LlmEndpoint? _endpoint;
    private CostEstimator? _estimator;
    private ModelPrice? _price;
    /// <summary>The response cache the sample rows go through (-SampleRows), when there is one, and how.</summary>
    private (ResponseCache? Cache, CacheMode Mode) _sampleCache;

    /// <summary>CSV, JSON or JSONL files of rows (wildcards expand); their rows are counted together.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath", "LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>Price the run as a batch job (-Batch of Invoke-CodeInstructionToCode): the batch prices, else half.</summary>
    [Parameter]
    public SwitchParameter Batch { get; set; }

    /// <summary>Run this many rows (chosen at random) for real, and estimate the answers' tokens from theirs. These are the only requests that cost anything.</summary>
    [Parameter]
    [ValidateRange(1, 10_000)]
    public int SampleRows { get; set; }

    public object GetDynamicParameters() => _groups.Parameters;

    /// <summary>The prompt, the request parameters, and -Force (count rows that already have the output column, as a run with -Force would send them).</summary>
    private GenerationParameters Prompt => _groups.Get<GenerationParameters>();

    /// <summary>The format, separator and encoding of -Path's files.</summary>
    private DataFileParameters Files => _groups.Get<DataFileParameters>();

    /// <summary>Requests in flight at once (count_tokens calls and sample rows).</summary>
    private int ThrottleLimit => _groups.Get<ThrottleParameters>().Resolve(this);

    protected override void BeginProcessing() => Engine(Begin, Endpoint);

    protected override void ProcessRecord() => Engine(Process, Endpoint);

    protected override void EndProcessing() => Engine(End, Endpoint);

    private void Begin()
    {
        // counting sends nothing to OpenAI's models, so an estimate needs no endpoint configured: OpenAI's own is assumed
        _endpoint = ResolveEndpointOrThrow(SampleRows > 0 ? null
            : new EndpointSettings(EndpointSettings.DefaultEndpointOf(LlmProvider.OpenAI), Source: "OpenAI's API (nothing is sent to count its models' tokens)", OnlyFor: LlmProvider.OpenAI));
        _generation = Prompt.ToOptions(this);
        Engine(() => _endpoint.Api.Check(_generation.Parameters, _endpoint.ApiVersion), Prompt.AdditionalBody);
        _price = ResolvePrice(_endpoint); // before the rows are read: a price that cannot be used stops the command at once
        _estimator = new CostEstimator(_generation, _endpoint, SampleRows);
        if (SampleRows > 0)
        {
            // before the rows are read, as a run does: a cache that cannot serve stops the command at once
            _sampleCache = _groups.Get<CacheParameters>().Resolve(this);
            if (_sampleCache.Cache is { } cache)
            {
                WriteVerbose($"Response cache {cache.Directory}, mode {_sampleCache.Mode}: the sample rows are read from it when it holds their answers.");
            }
        }
    }

    private void Process()
    {
        switch (ParameterSetName)
        {
            case InstructionSet:
                foreach (var text in Instruction)
                {
                    _estimator!.Add(new InstructionRow(text ?? string.Empty, Prompt.InputKey));
                }
                break;
            case PathSet:
                foreach (string file in FilePatterns.ExpandEach(this, Path, nameof(Path)))
                {
                    CountFile(file);
                }
                break;
            default:
                if (InputObject.BaseObject is FileInfo info)
                {
                    // Get-ChildItem's files are counted as -Path counts them (as Test-CodeGenCode takes them)
                    CountFile(info.FullName);
                }
                else
                {
                    _estimator!.Add(PipelineRow.From(InputObject, Prompt.InputKey));
                }
                break;
        }
    }

    private void CountFile(string path)
    {
        var files = Files;
        using var reader = RowFiles.OpenReader(path, DataFormats.Resolve(path, files.InputDataFormat), files.Csv);
        var progress = new ProgressRecord(1, $"Counting the tokens of {System.IO.Path.GetFileName(path)}", "Reading rows");
        long next = 0;
        while (reader.Read(out var row))
        {
            _estimator!.Add(row);
            if (++next % 10_000 == 0 && reader.Length > 0)
            {
                StoppingToken.ThrowIfCancellationRequested();
                progress.PercentComplete = (int)Math.Clamp(100 * reader.Position / reader.Length, 0, 100);
                progress.StatusDescription = string.Format(CultureInfo.InvariantCulture, "{0:N0} rows", next);
                WriteProgress(progress);
            }
        }
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
    }

    private void End()
    {
        var estimator = _estimator!;
        var endpoint = _endpoint!;
        if (estimator.UnsendableCount > 0)
        {
            WriteWarning(string.Format(CultureInfo.InvariantCulture, "{0:N0} {1} not be sent (a run fails them before asking) and {2} not counted. The first: {3}",
                estimator.UnsendableCount, estimator.UnsendableCount == 1 ? "row would" : "rows would", estimator.UnsendableCount == 1 ? "is" : "are", estimator.Unsendable[0].Message));
        }
        var price = _price;
        if (price is null)
        {
            WriteWarning("No price is known for model '" + endpoint.Model + "': only tokens are counted. Give -Price @{ Input = …; Output = … } (USD per million tokens) or -PriceFile, or set one with Set-CodeGenEndpoint.");
        }

        LlmClient? client = null;
        try
        {
            SampleUsage? sample = null;
            var rows = estimator.SampleRows;
            string ask = _sampleCache.Cache is null
                ? $"Send {rows.Count} paid requests to model '{endpoint.Model}'"
                : $"Ask model '{endpoint.Model}' for {rows.Count} sample rows through the response cache (paid requests for those it does not hold{(_sampleCache.Mode == CacheMode.ReadOnly ? ": none, it is a replay" : string.Empty)})";
            if (rows.Count > 0 && ShouldProcess($"{rows.Count} sample rows of {estimator.Rows:N0} at {endpoint.DisplayUri}", ask))
            {
                client ??= CreateClientOrThrow(out _, ThrottleLimit);
                sample = RunSample(UseCache(client), rows);
            }
            ApiCalls? calls = null;
            if (estimator.UsesProviderCount && estimator.Rows > 0
                && ShouldProcess($"the prompts of {estimator.Rows:N0} rows at {endpoint.DisplayUri}", "Count the tokens with Anthropic's count_tokens (free, no answer is written)"))
            {
                client ??= CreateClientOrThrow(out _, ThrottleLimit);
                calls = new ApiCalls(client, endpoint, ApiCallException.TokenCountFailed);
            }
            var estimate = PipelineThread.Run(() => estimator.EstimateAsync(price, Batch, sample, calls, ThrottleLimit, StoppingToken));
            if (estimate.CountProblem is { } problem)
            {
                WriteWarning("Anthropic's count_tokens could not be used, so the prompt tokens are an estimate: " + problem);
            }
            WriteVerbose(string.Format(CultureInfo.InvariantCulture, "{0:N0} rows for model '{1}' on {2}: {3:N0} prompt tokens ({4}){5}.", estimate.Rows, estimate.Model,
                estimate.Api, estimate.PromptTokens, estimate.TokenCounting, price is null ? string.Empty : "; prices from " + price.Source));
            if (estimate.OutputCost is null && price is not null)
            {
                WriteWarning("The answers' tokens are not known: give -MaxTokens for a ceiling, or -SampleRows N to measure them on N rows.");
            }
            WriteObject(estimate);
        }
        finally
        {
            client?.Dispose();
        }
    }

    /// <summary>
    /// The sample's requests go through the response cache of -CachePath (or the session's), as a run's would: a sample
    /// asked again is read from it, and a run with the same cache later pays nothing for the sample's rows.
    /// </summary>
    private IChatBackend UseCache(LlmClient client)
        => _sampleCache.Cache is { } cache ? new CachingChatBackend(client, cache, _sampleCache.Mode) : client;

    /// <summary>Runs the sample rows for real; a row that fails is an error record, and the rest are measured.</summary>
    private SampleUsage RunSample(IChatBackend backend, IReadOnlyList<PreparedRow> rows)
    {
        var parameters = _generation!.Parameters;
        var results = PipelineThread.Run(() => Task.WhenAll(rows.Select(row => backend.CompleteAsync(row, parameters, StoppingToken))));
        for (int i = 0; i < results.Length; i++)
        {
            if (results[i].Answer is { Usage: null })
            {
                WriteWarning($"Sample row {rows[i].RowNumber} was answered without token counts: it is not measured.");
            }
            else if (results[i].Answer is null)
            {
                WriteError(ErrorRecords.ForRow(results[i].ToRowError(rows[i].RowNumber), rows[i].RowNumber, this));
            }
        }
        var sample = SampleUsage.Of(rows.Count, results);
        WriteVerbose(string.Format(CultureInfo.InvariantCulture, "Sample: {0} of {1} rows answered ({2} from the response cache, not paid again), {3:N0} prompt and {4:N0} completion tokens ({5:N0} reasoning).",
            sample.Answered, rows.Count, sample.Reused, sample.Measured.PromptTokens, sample.Measured.CompletionTokens, sample.Measured.ReasoningTokens ?? 0));
        if (backend is CachingChatBackend { Cache: var cache })
        {
            WriteVerbose(cache.Describe());
        }
        return sample;
    }
}
