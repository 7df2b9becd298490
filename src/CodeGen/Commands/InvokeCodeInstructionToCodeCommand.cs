using System.Management.Automation;
using System.Security;
using System.Text;
using CodeGen.Commands.Endpoints;
using CodeGen.Commands.Rows;
using CodeGen.Commands.Support;
using CodeGen.Core.Batch;
using CodeGen.Core.Checking;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;
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
public sealed class InvokeCodeInstructionToCodeCommand : LlmCommandBase, IDynamicParameters
{
    private const string InputObjectSet = "InputObject";
    private const string InstructionSet = "Instruction";
    private const string PathSet = "Path";
    private const string StorageSet = "Storage";
    private static readonly TimeSpan PumpInterval = TimeSpan.FromMilliseconds(200);

    private ChatCompletionClient? _client;
    private IChatBackend? _backend;
    /// <summary>Pipeline mode: the column that holds why a row failed (&lt;OutputKey&gt;_error), set on every row.</summary>
    private string? _errorKey;
    /// <summary>File mode with -Path: the inputs, run in EndProcessing once it is known how many there are.</summary>
    private readonly List<string> _pathInputs = [];
    private ResponseCache? _cache;
    /// <summary>-Batch, unless the run is a replay (-CacheMode ReadOnly): then the rows are answered from the cache.</summary>
    private bool _batch;
    private GenerationRun? _run;
    private RunProgress? _progress;
    /// <summary>The prompt and request parameters, declared once for the commands that have them.</summary>
    private readonly GenerationParameters _prompt = new();
    /// <summary>The options of every run of this command (each file of a folder run gets a run of its own).</summary>
    private GenerationOptions? _generation;
    /// <summary>The checkers of -Check (a python3 and a bash process among them, started when first needed).</summary>
    private CodeCheckers? _checkers;
    private bool _verbose;
    private string _action = string.Empty;

    /// <summary>A row: an object with the instruction column, a hashtable, or a string that is the instruction itself.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public PSObject InputObject { get; set; } = null!;

    /// <summary>Instructions given directly; each becomes a row with the input and output columns.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = InstructionSet)]
    [ValidateNotNull]
    public string[] Instruction { get; set; } = [];

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

    /// <summary>Format of both files when their extensions do not say it.</summary>
    [Parameter(ParameterSetName = PathSet)]
    [ValidateSet("csv", "json", "jsonl", "ndjson", IgnoreCase = true)]
    public string? Format { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    [ValidateSet("csv", "json", "jsonl", "ndjson", IgnoreCase = true)]
    public string? InputFormat { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    [ValidateSet("csv", "json", "jsonl", "ndjson", IgnoreCase = true)]
    public string? OutputFormat { get; set; }

    /// <summary>CSV field separator (input and output).</summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = StorageSet)]
    public char Delimiter { get; set; } = ',';

    /// <summary>Encoding of a CSV input (default UTF-8; byte order marks are honoured). Output is UTF-8.</summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = StorageSet)]
    [EncodingTransformation]
    [ArgumentCompleter(typeof(EncodingCompleter))]
    public Encoding? Encoding { get; set; }

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

    /// <summary>With -Batch: requests per batch file; a bigger input is split into several batches. Default 50,000 (the provider's limit).</summary>
    [Parameter(ParameterSetName = PathSet)]
    [ValidateRange(1L, long.MaxValue)]
    public long MaxRequestsPerFile { get; set; } = 50_000;

    /// <summary>With -Batch: bytes per batch file. Default 200 MB (the provider's limit).</summary>
    [Parameter(ParameterSetName = PathSet)]
    [ValidateRange(1024L, long.MaxValue)]
    public long MaxBytesPerFile { get; set; } = 200L * 1024 * 1024;

    /// <summary>Overwrite the output column when a row already has it; in file mode, replace an existing output file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Requests in flight at once.</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = DefaultThrottleLimit;

    /// <summary>
    /// A folder of cached answers: a request already answered (same endpoint, model and body) is read from
    /// it instead of sent. Default: Set-CodeGenEndpoint -CachePath, else no cache.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CachePath { get; set; }

    /// <summary>
    /// ReadWrite (default): reuse cached answers, send and store the rest. ReadOnly: replay, answers come only
    /// from the cache and a request it does not hold is a CacheMiss row error (nothing is sent, no key needed).
    /// Refresh: send every request and replace the stored answers.
    /// </summary>
    [Parameter]
    [ValidateSet(nameof(Core.Llm.CacheMode.ReadWrite), nameof(Core.Llm.CacheMode.ReadOnly), nameof(Core.Llm.CacheMode.Refresh))]
    public string? CacheMode { get; set; }

    /// <summary>Neither read nor write the response cache, even when a session default sets one.</summary>
    [Parameter]
    public SwitchParameter NoCache { get; set; }

    /// <summary>Keep the model's whole answer instead of extracting the code.</summary>
    [Parameter]
    public SwitchParameter Raw { get; set; }

    /// <summary>Add the token counts of each row: &lt;OutputKey&gt;_prompt_tokens, _completion_tokens, _total_tokens.</summary>
    [Parameter]
    public SwitchParameter IncludeUsage { get; set; }

    /// <summary>Parse each row's code in its language and add &lt;OutputKey&gt;_check (ok, failed, unchecked) and &lt;OutputKey&gt;_check_detail.</summary>
    [Parameter]
    public SwitchParameter Check { get; set; }

    /// <summary>Send code that does not parse back to the model with the parser's messages, up to this many times a row (implies -Check).</summary>
    [Parameter]
    [ValidateRange(0, 10)]
    public int MaxRepairs { get; set; }

    private bool FileMode => ParameterSetName is PathSet or StorageSet;

    private int EffectiveThrottleLimit => ResolveThrottleLimit(ThrottleLimit);

    public object GetDynamicParameters() => _prompt;

    protected override void BeginProcessing()
    {
        if (Resume && Force)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-Resume continues an existing output and -Force replaces it: pass one of them."),
                "ResumeAndForce", ErrorCategory.InvalidArgument, null));
        }

        if (NoWait && !Batch)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-NoWait goes with -Batch: live runs always wait for their rows."),
                "NoWaitWithoutBatch", ErrorCategory.InvalidArgument, null));
        }
        if (Batch && Resume)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(
                "-Batch continues a saved batch job by itself when run again; -Resume (without -Batch) fills the rows a merged batch left without code. Pass one of them."),
                "ResumeAndBatch", ErrorCategory.InvalidArgument, null));
        }

        _client = CreateClientOrThrow(out var endpoint, EffectiveThrottleLimit);
        _backend = _client;
        var mode = ResolveCacheOrThrow();
        // A replay sends nothing, so there is no batch job to run: the rows are answered from the cache alone.
        _batch = Batch && mode != Core.Llm.CacheMode.ReadOnly;
        if (_cache is not null && !_batch)
        {
            _backend = new CachingChatBackend(_client, _cache, mode);
        }

        _checkers = Check || MaxRepairs > 0 ? PowerShellChecker.WithEngineCheckers() : null;
        if (!WhatIfInEffect)
        {
            _checkers?.Prepare(_prompt.Language);
        }
        _generation = _prompt.ToOptions(this, Force, Raw, IncludeUsage, checkers: _checkers, maxRepairs: MaxRepairs);
        if (_batch && MaxRepairs > 0)
        {
            WriteWarning("-MaxRepairs has no effect with -Batch: a merge of batch results has no model to send a repair to. The code is checked; run -Resume without -Batch on rows you want repaired.");
        }

        _verbose = FileRunReporter.IsVerbose(this);
        _action = _batch
            ? $"Run a batch job with model '{endpoint.BatchModel}' at {endpoint.DisplayUri}"
            : $"Generate code with model '{endpoint.Model}' at {endpoint.DisplayUri}";
        var resilience = _client.Settings;
        WriteVerbose($"Sending to {endpoint.DisplayUri} ({endpoint.Provider}) as model '{endpoint.Model}', up to {EffectiveThrottleLimit} requests at once, " +
            $"{resilience.MaxRetries} retries, {resilience.AttemptTimeout.TotalSeconds:0} s per attempt; auth: {endpoint.DescribeAuth()}{(endpoint.Auth == AuthKind.None ? string.Empty : " from " + endpoint.KeySource)}.");
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
            _errorKey = FileRun.ErrorKeyFor(_prompt.OutputKey);
            _run = new GenerationRun(_generation!, _backend);
            long? total = ParameterSetName == InstructionSet ? Instruction.Length : null;
            _progress = new RunProgress(this, $"Generating code with {endpoint.Model}", total);
        }
    }

    protected override void ProcessRecord() => Engine(() =>
    {
        switch (ParameterSetName)
        {
            case InstructionSet:
                foreach (var text in Instruction)
                {
                    Submit(new InstructionRow(text ?? string.Empty, _prompt.InputKey));
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
                Submit(PipelineRow.From(InputObject, _prompt.InputKey));
                break;
        }
    }, Endpoint);

    protected override void EndProcessing()
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
        Engine(() => Pump(drainAll: true), Endpoint);
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
            row.Set(_prompt.OutputKey, null, keepExisting: true);
            row.Set(_errorKey!, error.ColumnText);
            SetCheck(row.Set, null, keepExisting: true);
            SetUsage(row.Set, outcome, keepExisting: true);
            WriteObject(row.Result);
            return;
        }
        ReportRow(outcome);
        row.Set(_prompt.OutputKey, outcome.Code);
        // on every row, so that Export-Csv (which takes its columns from the first object) keeps the reasons
        row.Set(_errorKey!, null);
        SetCheck(row.Set, outcome.Check, keepExisting: false);
        SetUsage(row.Set, outcome, keepExisting: false);
        WriteObject(row.Result);
    }

    /// <summary>The -Check columns: ok, failed or unchecked, and the parser's messages or why it was not checked.</summary>
    private void SetCheck(Action<string, object?, bool> set, CheckResult? check, bool keepExisting)
    {
        if (_generation!.Checkers is null)
        {
            return;
        }
        set(_generation.CheckKey, check?.StatusText, keepExisting);
        set(_generation.CheckDetailKey, CheckColumns.DetailText(check), keepExisting);
    }

    /// <summary>The -IncludeUsage columns (null when the server reported no usage).</summary>
    private void SetUsage(Action<string, object?, bool> set, RowOutcome outcome, bool keepExisting)
    {
        if (!IncludeUsage)
        {
            return;
        }
        foreach (var column in _run!.Options.UsageColumns)
        {
            set(column.Key, outcome.Usage is { } usage ? column.Count(usage) : null, keepExisting);
        }
    }

    private void ReportRow(RowOutcome outcome) => FileRunReporter.ReportRow(this, outcome, _verbose);

    /// <summary>
    /// File mode with -Path: each input through a run of its own. -OutputPath is a folder when several inputs
    /// come, when it ends with a separator, or when it is an existing folder: then each input gets a file of its
    /// own in it, named after the input (the folder is created when missing).
    /// </summary>
    private void RunFiles() => Engine(() =>
    {
        string output = GetUnresolvedProviderPathFromPSPath(OutputPath);
        bool toFolder = _pathInputs.Count > 1 || Directory.Exists(output) || OutputPath.EndsWith('/') || OutputPath.EndsWith(System.IO.Path.DirectorySeparatorChar);
        if (toFolder && File.Exists(output))
        {
            ThrowTerminatingError(new ErrorRecord(new IOException(
                $"{_pathInputs.Count} input files go to a folder of outputs, one each, but '{output}' is a file."),
                "OutputPathIsAFile", ErrorCategory.InvalidArgument, OutputPath)
            {
                ErrorDetails = new ErrorDetails($"{_pathInputs.Count} input files go to a folder of outputs, one each, but '{output}' is a file.")
                {
                    RecommendedAction = "Pass -OutputPath a folder (it is created when missing), or one input file.",
                },
            });
        }
        var names = toFolder ? OutputNames(_pathInputs) : null;
        foreach (string input in _pathInputs)
        {
            RunFile(input, names is null ? output : System.IO.Path.Combine(output, names[input]), storage: null, createFolder: toFolder);
        }
    }, Endpoint);

    /// <summary>
    /// The names of the inputs' outputs in a folder of outputs: each input's name with the output format's extension
    /// (tasks.csv: tasks.jsonl). Inputs that would share a name keep their own extension when theirs differ
    /// (tasks.csv.jsonl, tasks.json.jsonl), else get their folder's name in front (x_tasks.jsonl, y_tasks.jsonl),
    /// then a number. Decided over the whole set, sorted, so the names do not depend on the order the inputs came
    /// in: a later -Resume with the same inputs finds the same outputs.
    /// </summary>
    private Dictionary<string, string> OutputNames(IReadOnlyList<string> inputs)
    {
        var outputFormat = ParseFormat(OutputFormat ?? Format);
        var inputFormat = ParseFormat(InputFormat ?? Format);
        string NameOf(string input, string stem) =>
            stem + DataFormats.Extension(outputFormat ?? inputFormat ?? DataFormats.FromExtension(input) ?? DataFormat.JsonLines);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in inputs.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
            .GroupBy(input => NameOf(input, System.IO.Path.GetFileNameWithoutExtension(input)), StringComparer.OrdinalIgnoreCase))
        {
            var members = group.ToList();
            if (members.Count == 1)
            {
                names[members[0]] = group.Key;
                continue;
            }
            bool extensionsDiffer = members.Select(System.IO.Path.GetExtension).Distinct(StringComparer.OrdinalIgnoreCase).Count() == members.Count;
            foreach (string input in members)
            {
                names[input] = extensionsDiffer
                    ? NameOf(input, System.IO.Path.GetFileName(input))
                    : NameOf(input, $"{System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(input))}_{System.IO.Path.GetFileNameWithoutExtension(input)}");
            }
        }
        // what is still shared (folders of the same name): numbered, in sorted order
        foreach (var clash in names.GroupBy(pair => pair.Value, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).ToList())
        {
            int n = 0;
            foreach (var pair in clash.OrderBy(p => p.Key, StringComparer.Ordinal).ToList())
            {
                if (n++ > 0)
                {
                    names[pair.Key] = $"{System.IO.Path.GetFileNameWithoutExtension(pair.Value)}.{n}{System.IO.Path.GetExtension(pair.Value)}";
                }
            }
        }
        return names;
    }

    /// <summary>File mode: one input file (or storage step) through a run of its own into its output file.</summary>
    /// <param name="createFolder">Create the output's folder (a folder of outputs) once the run is confirmed.</param>
    private void RunFile(string inputPath, string outputPath, StepStorage? storage, bool createFolder = false)
    {
        string input = GetUnresolvedProviderPathFromPSPath(inputPath);
        string output = GetUnresolvedProviderPathFromPSPath(outputPath);
        DataFormat? inputFormat = ParseFormat(InputFormat ?? Format);
        DataFormat? outputFormat = ParseFormat(OutputFormat ?? Format);
        if (!ShouldProcess(output, $"{_action} for the rows of {input}"))
        {
            ShowFileWouldSend(input, storage is null ? inputFormat : DataFormats.FromExtension(input) ?? storage.CacheType);
            return;
        }
        if (storage is not null)
        {
            Directory.CreateDirectory(storage.CachePath);
        }
        if (createFolder)
        {
            Engine(() => Directory.CreateDirectory(System.IO.Path.GetDirectoryName(output)!), output);
        }
        if (_batch)
        {
            RunBatch(input, output, inputFormat, outputFormat);
            return;
        }

        var fileRun = new FileRun(new FileRunOptions
        {
            InputPath = input,
            OutputPath = output,
            InputFormat = storage is null ? inputFormat : DataFormats.FromExtension(input) ?? storage.CacheType,
            OutputFormat = storage?.CacheType ?? outputFormat,
            Csv = new CsvSettings(Delimiter, Encoding),
            Resume = Resume,
        });
        var run = new GenerationRun(_generation!, _backend!);
        Volatile.Write(ref _run, run);
        var cacheStart = CacheCounts;
        var progress = new RunProgress(this, $"Generating code for {System.IO.Path.GetFileName(input)}", total: null);
        FileRunSummary summary;
        try
        {
            summary = Engine(() => fileRun.Execute(run, new FileRunReporter(this, progress, PassThru, _verbose), StoppingToken), output);
        }
        finally
        {
            Volatile.Write(ref _run, null);
            run.Dispose();
        }

        progress.Complete();
        WriteVerbose(RunProgress.Summary(MyInvocation.MyCommand.Name, run.GetStatistics()) + CacheNote() + PacingNote() + $" Output: {summary.OutputPath}");
        WithCacheCounts(summary, cacheStart);
        if (storage is not null)
        {
            if (summary.Failed == 0)
            {
                storage.Advance();
            }
            else
            {
                WriteWarning($"{summary.Failed} rows failed, so the storage stays at step {storage.Step}. Run again with -Resume to retry them, or call .Advance() on the storage to go on without them.");
            }
        }
        WriteObject(summary);
    }

    /// <summary>-Batch: export, upload, create, poll, download and merge, continuing a saved job if there is one.</summary>
    private void RunBatch(string input, string output, DataFormat? inputFormat, DataFormat? outputFormat)
    {
        var endpoint = _client!.Endpoint;
        var options = new BatchJobOptions
        {
            Files = new FileRunOptions { InputPath = input, OutputPath = output, InputFormat = inputFormat, OutputFormat = outputFormat, Csv = new CsvSettings(Delimiter, Encoding) },
            Generation = _generation!.WithoutRepairs(),
            MaxRequestsPerFile = MaxRequestsPerFile,
            MaxBytesPerFile = MaxBytesPerFile,
            Restart = Force,
            NoWait = NoWait,
            PollInterval = TimeSpan.FromSeconds(PollIntervalSec),
            // the answers a batch brings back are stored under the requests a live run would send
            MergeThrough = _cache is null ? null : results => new CachingChatBackend(_client, _cache, Core.Llm.CacheMode.Refresh, results),
        };
        var job = new BatchJob(options, new BatchClient(_client), endpoint.DisplayUri, endpoint.BatchModel);
        var progress = new RunProgress(this, $"Merging batch results into {System.IO.Path.GetFileName(output)}", total: null);
        var cacheStart = CacheCounts;
        var (state, summary) = Engine(() => PipelineThread.Run(() => job.RunAsync(new FileRunReporter(this, progress, PassThru, _verbose), StoppingToken)), output, batch: true);

        if (summary is null)
        {
            WriteVerbose($"Batch job {state.Status}: {state.Completed + state.Failed} of {state.Requests} requests done. Run the same command again to continue it.");
            WriteObject(state);
            return;
        }
        progress.Complete();
        WriteVerbose($"Merged the batch results ({string.Join(", ", state.BatchIds)}): {summary.RowsRead} rows, {summary.Generated} generated, {summary.Failed} failed.{CacheNote()} Output: {summary.OutputPath}");
        WriteObject(WithCacheCounts(summary, cacheStart));
    }

    /// <summary>
    /// The cache of this run and how it is used: -NoCache, else -CachePath or the session's; -CacheMode, else the
    /// session's, else ReadWrite. Stops the command when a mode has no folder, or the folder cannot serve it.
    /// </summary>
    private Core.Llm.CacheMode ResolveCacheOrThrow()
    {
        var bound = MyInvocation.BoundParameters;
        var session = SessionDefaults.Current;
        if (NoCache && bound.ContainsKey(nameof(CacheMode)))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-NoCache turns the response cache off and -CacheMode says how to use it: pass one of them."),
                "NoCacheAndCacheMode", ErrorCategory.InvalidArgument, null));
        }
        string? cachePath = NoCache ? null : CachePath ?? session.CachePath;
        var mode = CacheMode is not null ? Enum.Parse<Core.Llm.CacheMode>(CacheMode, ignoreCase: true) : session.CacheMode ?? Core.Llm.CacheMode.ReadWrite;
        if (cachePath is null)
        {
            if (!NoCache && mode != Core.Llm.CacheMode.ReadWrite)
            {
                ThrowTerminatingError(new ErrorRecord(new ArgumentException($"-CacheMode {mode} needs a response cache folder, and none is set."),
                    "CacheModeWithoutCachePath", ErrorCategory.InvalidArgument, null)
                {
                    ErrorDetails = new ErrorDetails($"-CacheMode {mode} needs a response cache folder, and none is set.")
                    {
                        RecommendedAction = "Pass -CachePath <folder>, or set one for the session with Set-CodeGenEndpoint -CachePath.",
                    },
                });
            }
            return Core.Llm.CacheMode.ReadWrite; // no cache: a session's ReadOnly must not turn a -Batch run into a live one
        }
        try
        {
            _cache = new ResponseCache(GetUnresolvedProviderPathFromPSPath(cachePath), writable: mode != Core.Llm.CacheMode.ReadOnly);
        }
        catch (ResponseCacheException ex)
        {
            ThrowTerminatingError(ErrorRecords.ForException(ex, this, cachePath));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            ThrowTerminatingError(new ErrorRecord(ex, "InvalidCachePath", ErrorCategory.InvalidArgument, cachePath));
        }
        WriteVerbose($"Response cache {_cache!.Directory}, mode {mode}" + (Batch && mode == Core.Llm.CacheMode.ReadOnly ? ": a replay, so no batch job is created; every row is answered from the cache." : "."));
        if (NoWait && mode == Core.Llm.CacheMode.ReadOnly)
        {
            WriteWarning("-NoWait has no effect with -CacheMode ReadOnly: a replay creates no batch job, and answers every row from the cache before it returns.");
        }
        return mode;
    }

    private string CacheNote() => _cache is { } cache
        ? $" Cache {cache.Directory}: {cache.Hits} answers reused, {cache.Misses} not found, {cache.Stored} stored." +
            (cache.Unreadable.IsEmpty ? string.Empty : $" Damaged entries (not used): {string.Join("; ", cache.Unreadable)}.")
        : string.Empty;

    private (long Hits, long Misses, long Stored) CacheCounts => _cache is { } cache ? (cache.Hits, cache.Misses, cache.Stored) : default;

    /// <summary>The summary of one file with the cache's counts since <paramref name="start"/>, when the run has a cache.</summary>
    private FileRunSummary WithCacheCounts(FileRunSummary summary, (long Hits, long Misses, long Stored) start)
    {
        if (_cache is not null)
        {
            var now = CacheCounts;
            (summary.CacheHits, summary.CacheMisses, summary.CacheStored) = (now.Hits - start.Hits, now.Misses - start.Misses, now.Stored - start.Stored);
        }
        return summary;
    }

    /// <summary>The budget the server announced (x-ratelimit-* headers) and kept to, when it announced one.</summary>
    private string PacingNote()
    {
        var pacer = _client!.Pacer;
        if (!pacer.Learned)
        {
            return string.Empty;
        }
        var budgets = new List<string>();
        if (pacer.LearnedRequestsPerMinute is { } requests)
        {
            budgets.Add($"{requests} requests");
        }
        if (pacer.LearnedTokensPerMinute is { } tokens)
        {
            budgets.Add($"{tokens} tokens");
        }
        return $" Paced to the server's announced {string.Join(" and ", budgets)} a minute" +
            (pacer.Holds > 0 ? $"; held back {pacer.Holds} times when it said the budget was spent." : ".");
    }

    private static DataFormat? ParseFormat(string? name) => name is null ? null : DataFormats.Parse(name);


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

    /// <summary>-WhatIf -Verbose in file mode: reads the input and shows what each of its rows would send.</summary>
    private void ShowFileWouldSend(string input, DataFormat? format)
    {
        if (!_verbose || !WhatIfInEffect)
        {
            return;
        }
        try
        {
            using var run = new GenerationRun(_generation!, _backend!);
            using var reader = RowFiles.OpenReader(input, DataFormats.Resolve(input, format), new CsvSettings(Delimiter, Encoding));
            while (reader.Read(out var row))
            {
                ShowWouldSend(run.Prepare(row));
            }
        }
        catch (Exception ex) when (ex is DataFileException or IOException or UnauthorizedAccessException)
        {
            WriteVerbose($"The rows of {input} cannot be shown: {ex.Message}");
        }
    }

    private bool WhatIfInEffect => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value)
        ? value is SwitchParameter { IsPresent: true }
        : SessionState.PSVariable.GetValue("WhatIfPreference") is SwitchParameter { IsPresent: true } or true;

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
