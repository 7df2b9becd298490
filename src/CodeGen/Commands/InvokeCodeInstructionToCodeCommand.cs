using System.Management.Automation;
using CodeGen.Commands.Endpoints;
using CodeGen.Commands.Rows;
using CodeGen.Commands.Support;
using CodeGen.Core.Batch;
using CodeGen.Core.Checking;
using CodeGen.Core.Llm;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Commands;

/// <summary>
/// Invoke-CodeInstructionToCode: for each row, asks an OpenAI-compatible LLM to write the code its instruction
/// describes and adds it to the row. Rows come from the pipeline, from -Instruction, from a file (-Path) or
/// from DataFlow-style step storage (-Storage). Requests overlap (-ThrottleLimit); rows come out in input order.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "CodeInstructionToCode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low,
    DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(PSObject), ParameterSetName = [InputObjectSet, InstructionSet])]
[OutputType(typeof(FileRunSummary), ParameterSetName = [PathSet, StorageSet])]
[OutputType(typeof(BatchJobState), ParameterSetName = [PathSet])]
public sealed partial class InvokeCodeInstructionToCodeCommand : GenerationCommandBase, IDynamicParameters
{
    private const string PathSet = "Path";
    private const string StorageSet = "Storage";

    private LlmClient? _client;
    private IChatBackend? _backend;
    /// <summary>Pipeline mode: how an outcome fills a row's columns (the error column on every row).</summary>
    private OutcomeColumns? _columns;
    /// <summary>File mode with -Path: the inputs, run in EndProcessing once it is known how many there are.</summary>
    private readonly List<string> _pathInputs = [];
    private ResponseCache? _cache;
    /// <summary>-Batch, unless the run is a replay (-CacheMode ReadOnly): then the rows are answered from the cache.</summary>
    private bool _batch;
    private GenerationRun? _run;
    private RunProgress? _progress;
    /// <summary>Pipeline mode: the run's outcomes on their way to the pipeline.</summary>
    private PipelineThread.Outcomes? _outcomes;
    /// <summary>The parameter groups this command shares with others, each declared once (<see cref="ParameterGroups"/>).</summary>
    private readonly ParameterGroups _groups = new ParameterGroups()
        .Offer<GenerationParameters>()
        .Offer<ResultParameters>()
        .Offer<ThrottleParameters>()
        .Offer<CacheParameters>()
        .Offer<DataFileParameters>([PathSet], DataFileParameters.Formats)
        .Offer<DataFileParameters>([PathSet, StorageSet], DataFileParameters.CsvDialect)
        .Offer<BatchFileParameters>([PathSet]);
    /// <summary>The options of every run of this command (each file of a folder run gets a run of its own).</summary>
    private GenerationOptions? _generation;
    /// <summary>The checkers of -Check (a python3 and a bash process among them, started when first needed).</summary>
    private CodeCheckers? _checkers;
    private bool _verbose;
    private string _action = string.Empty;

    /// <summary>A CSV, JSON or JSONL file of rows (file mode). Binds FullName from Get-ChildItem.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath", "LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>The file to write; a folder (one file per input) for several inputs, a path ending in a separator, or an existing folder.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string OutputPath { get; set; } = null!;

    /// <summary>Step storage from New-CodeGenStorage: reads the current step, writes the next, moves on a step.</summary>
    [Parameter(Mandatory = true, ParameterSetName = StorageSet)]
    [ValidateNotNull]
    [StepStorageTransformation]
    public object Storage { get; set; } = null!;

    /// <summary>Continue an existing output: keep rows that have code, ask again for the missing and failed ones.</summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = StorageSet)]
    public SwitchParameter Resume { get; set; }

    /// <summary>In file mode, also write each row to the pipeline (the summary comes last).</summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = StorageSet)]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Run the file through the provider's Batch API (half price, within 24 h) instead of live requests.</summary>
    [Parameter(ParameterSetName = PathSet)]
    public SwitchParameter Batch { get; set; }

    /// <summary>With -Batch: submit (or check on) the batch job and return its state without waiting for it.</summary>
    [Parameter(ParameterSetName = PathSet)]
    public SwitchParameter NoWait { get; set; }

    /// <summary>With -Batch: seconds between two polls of the batch job. Default 30.</summary>
    [Parameter(ParameterSetName = PathSet)]
    [ValidateRange(0.01, 3600.0)]
    public double PollIntervalSec { get; set; } = 30;

    /// <summary>Send code that does not parse back to the model with the parser's messages, up to this many times a row (implies -Check).</summary>
    [Parameter]
    [ValidateRange(0, 10)]
    public int MaxRepairs { get; set; }

    private bool FileMode => ParameterSetName is PathSet or StorageSet;

    private int EffectiveThrottleLimit => _groups.Get<ThrottleParameters>().Resolve(this);

    public object GetDynamicParameters() => _groups.Parameters;

    /// <summary>The prompt, the request parameters and -Force.</summary>
    private GenerationParameters Prompt => _groups.Get<GenerationParameters>();

    /// <summary>-Raw, -IncludeUsage, -Check.</summary>
    private ResultParameters Results => _groups.Get<ResultParameters>();

    /// <summary>The formats, separator and encoding of file mode.</summary>
    private DataFileParameters Files => _groups.Get<DataFileParameters>();

    private CacheParameters Cache => _groups.Get<CacheParameters>();

    protected override void BeginProcessing() => Engine(Begin, Endpoint);

    protected override void ProcessRecord() => Engine(Process, Endpoint);

    protected override void EndProcessing() => Engine(End, Endpoint);

    private void Begin()
    {
        RefuseConflictingSwitches();
        _client = CreateClientOrThrow(out var endpoint, EffectiveThrottleLimit);
        _backend = UseCache(_client);
        _checkers = Results.Check || MaxRepairs > 0 ? PowerShellChecker.WithEngineCheckers() : null;
        if (!WhatIfInEffect)
        {
            _checkers?.Prepare(Prompt.Language);
        }
        // the cost of the tokens the run pays for is in its summary when the model's prices are known
        var price = ResolvePrice(endpoint, sessionFileIsOptional: true);
        _generation = Prompt.ToOptions(this, Results, checkers: _checkers, maxRepairs: MaxRepairs, price: price);
        Engine(() => _client.CheckParameters(_generation.Parameters), Prompt.AdditionalBody);
        if (_batch && MaxRepairs > 0)
        {
            WriteWarning("-MaxRepairs has no effect with -Batch: a merge of batch results has no model to send a repair to. The code is checked; run -Resume without -Batch on rows you want repaired.");
        }

        _verbose = FileRunReporter.IsVerbose(this);
        _action = _batch
            ? $"Run a batch job with model '{endpoint.BatchModel}' at {endpoint.ForBatch().DisplayUri}"
            : $"Generate code with model '{endpoint.Model}' at {endpoint.DisplayUri}";
        WriteVerbose(_client.Describe());
        if (_generation.Parameters.AdditionalBody is { } extra)
        {
            WriteVerbose($"Every request body also carries {extra.ToJson()}.");
        }
        if (endpoint.WithheldKey is { } withheld)
        {
            WriteVerbose(withheld);
        }
        if (!FileMode)
        {
            _columns = OutcomeColumns.For(_generation, OutcomeRowKind.PipelineObject);
            _run = new GenerationRun(_generation!, _backend);
            long? total = ParameterSetName == InstructionSet ? Instruction.Length : null;
            _progress = new RunProgress(this, $"Generating code with {endpoint.Model}", total);
            _outcomes = new PipelineThread.Outcomes(_run, _progress, Emit);
        }
    }

    private void Process()
    {
        switch (ParameterSetName)
        {
            case InstructionSet:
                foreach (var text in Instruction)
                {
                    Submit(new InstructionRow(text ?? string.Empty, Prompt.InputKey));
                }
                break;
            case PathSet:
                // run in EndProcessing: whether -OutputPath is a folder depends on how many inputs come
                _pathInputs.Add(GetUnresolvedProviderPathFromPSPath(Path));
                break;
            case StorageSet:
                var storage = (StepStorage)Storage;
                RunFile(storage.InputPath, storage.OutputPath, storage);
                break;
            default:
                Submit(PipelineRow.From(InputObject, Prompt.InputKey));
                break;
        }
    }

    private void End()
    {
        if (_pathInputs.Count > 0)
        {
            RunFiles();
            return;
        }
        if (_run is null)
        {
            return;
        }
        _outcomes!.Take(all: true, StoppingToken);
        _progress!.Complete();
        WriteVerbose(RunProgress.Summary(MyInvocation.MyCommand.Name, _run.GetStatistics()) + CacheNote() + PacingNote());
    }

    protected override void OnStopping() => Volatile.Read(ref _run)?.Cancel();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _run?.Dispose();
            _client?.Dispose();
            _checkers?.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>
    /// Stops the command when its switches contradict each other (before anything is sent or read), saying why and what
    /// to pass instead.
    /// </summary>
    private void RefuseConflictingSwitches()
    {
        if (Resume && Prompt.Force)
        {
            ThrowTerminatingError(ErrorRecords.ForUsage("ResumeAndForce", "-Resume continues an existing output and -Force replaces it: pass one of them.",
                "Pass -Resume to continue the output, or -Force to replace it."));
        }
        if (NoWait && !Batch)
        {
            ThrowTerminatingError(ErrorRecords.ForUsage("NoWaitWithoutBatch", "-NoWait goes with -Batch: live runs always wait for their rows.",
                "Add -Batch to submit a batch job without waiting for it, or leave -NoWait out."));
        }
        if (Batch && Resume)
        {
            ThrowTerminatingError(ErrorRecords.ForUsage("ResumeAndBatch",
                "-Batch continues a saved batch job by itself when run again; -Resume (without -Batch) fills the rows a merged batch left without code. Pass one of them.",
                "Run with -Batch to continue the batch job, or with -Resume (without -Batch) to fill the rows it left without code."));
        }
    }

    /// <summary>
    /// Puts the response cache in front of the run (-CachePath, -CacheMode, the session's), and decides whether -Batch runs a
    /// batch job: a replay sends nothing, so there is no job to run, and the rows are answered from the cache alone. Returns what
    /// a live run sends its rows to: the client, or the cache in front of it.
    /// </summary>
    private IChatBackend UseCache(LlmClient client)
    {
        (_cache, var mode) = Cache.Resolve(this);
        bool replay = mode == Core.Llm.CacheMode.ReadOnly;
        if (_cache is not null)
        {
            WriteVerbose($"Response cache {_cache.Directory}, mode {mode}" + (Batch && replay ? ": a replay, so no batch job is created; every row is answered from the cache." : "."));
            if (NoWait && replay)
            {
                WriteWarning("-NoWait has no effect with -CacheMode ReadOnly: a replay creates no batch job, and answers every row from the cache before it returns.");
            }
        }
        _batch = Batch && !replay;
        return _cache is not null && !_batch ? new CachingChatBackend(client, _cache, mode) : client;
    }

    /// <summary>What the response cache did in the run, for the end of its summary (with a space before it); empty without a cache.</summary>
    private string CacheNote() => _cache is null ? string.Empty : " " + _cache.Describe();

    /// <summary>The budget the server announced and the run kept to, for the end of its summary (with a space before it); empty when it announced none.</summary>
    private string PacingNote() => _client!.Pacer.Describe() is { } pacing ? " " + pacing : string.Empty;

    /// <summary>A file's summary with what the response cache did since <paramref name="start"/>, when the run has a cache.</summary>
    private FileRunSummary WithCacheCounts(FileRunSummary summary, CacheCounts? start)
        => _cache is not null && start is { } before ? summary.WithCache(_cache.Counts - before) : summary;

    /// <summary>-WhatIf -Verbose: the run shows the messages each row would send.</summary>
    private bool ShowsWhatWouldBeSent => _verbose && WhatIfInEffect;

    private bool WhatIfInEffect => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value)
        ? value is SwitchParameter { IsPresent: true }
        : SessionState.PSVariable.GetValue("WhatIfPreference") is SwitchParameter { IsPresent: true } or true;
}
