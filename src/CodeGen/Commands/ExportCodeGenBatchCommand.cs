using System.Management.Automation;
using System.Text;
using CodeGen.Commands.Endpoints;
using CodeGen.Commands.Rows;
using CodeGen.Commands.Support;
using CodeGen.Core.Batch;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Commands;

/// <summary>
/// Export-CodeGenBatch: writes one OpenAI batch request line per row (custom_id, method, url, body), the body
/// being exactly the chat request Invoke-CodeInstructionToCode would send for the row. Splits into several
/// files at the provider limits. Needs no endpoint or key: the files can go to any batch runner (the OpenAI or
/// Azure OpenAI Batch API, vLLM's run_batch).
/// </summary>
[Cmdlet(VerbsData.Export, "CodeGenBatch", SupportsShouldProcess = true, DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(BatchRequestFile))]
public sealed class ExportCodeGenBatchCommand : CancellableCmdlet
{
    private const string InputObjectSet = "InputObject";
    private const string PathSet = "Path";

    private BatchRequestExporter? _exporter;
    private GenerationOptions? _generation;
    private BatchTarget? _target;
    private string _outFile = string.Empty;
    private bool _skip;
    private long _rows;
    private int _files;

    /// <summary>A row (as for Invoke-CodeInstructionToCode): an object with the instruction column, a hashtable, or the instruction itself.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public PSObject InputObject { get; set; } = null!;

    /// <summary>A CSV, JSON or JSONL file of rows.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath", "LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>
    /// The request file to write (.jsonl); more files are name.2.jsonl, name.3.jsonl... when the rows exceed a limit.
    /// An existing folder receives &lt;input name&gt;.requests.jsonl for each -Path.
    /// </summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string OutFile { get; set; } = null!;

    /// <summary>The model each request names (for Azure OpenAI, the Global Batch deployment). Default: the session default or CODEGEN_MODEL.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ModelCompleter))]
    public string? Model { get; set; }

    /// <summary>OpenAI (url /v1/chat/completions: OpenAI, vLLM) or AzureOpenAI (url /chat/completions).</summary>
    [Parameter]
    [ValidateSet(nameof(LlmProvider.OpenAI), nameof(LlmProvider.AzureOpenAI))]
    public string? Provider { get; set; }

    /// <summary>Azure OpenAI: the deployment the requests name as their model.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Deployment { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnCompleter))]
    public string InputKey { get; set; } = GenerationOptions.DefaultInputKey;

    /// <summary>The column the code will go to at the import: a row that already has it is left out unless -Force.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(OutputKeyCompleter))]
    public string OutputKey { get; set; } = GenerationOptions.DefaultOutputKey;

    /// <summary>Replace an existing -OutFile, and export rows that already have the output column.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PromptTemplate { get; set; }

    [Parameter]
    public string? SystemPrompt { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LanguageCompleter))]
    public string? Language { get; set; }

    [Parameter]
    [ValidateRange(0.0, 2.0)]
    public double? Temperature { get; set; }

    /// <summary>The most tokens an answer may have (max_completion_tokens for OpenAI and Azure OpenAI, max_tokens for other servers).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? MaxTokens { get; set; }

    /// <summary>reasoning_effort for reasoning models (none, minimal, low, medium, high, xhigh; providers add values).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ReasoningEffortCompleter))]
    public string? ReasoningEffort { get; set; }

    /// <summary>Fields merged into every request body, with their JSON types.</summary>
    [Parameter]
    public System.Collections.IDictionary? AdditionalBody { get; set; }

    /// <summary>Requests per file (the OpenAI limit is 50,000).</summary>
    [Parameter]
    [ValidateRange(1L, long.MaxValue)]
    public long MaxRequestsPerFile { get; set; } = 50_000;

    /// <summary>Bytes per file (the OpenAI limit is 200 MB).</summary>
    [Parameter]
    [ValidateRange(1024L, long.MaxValue)]
    public long MaxBytesPerFile { get; set; } = 200L * 1024 * 1024;

    /// <summary>The format of -Path when its extension does not say it.</summary>
    [Parameter(ParameterSetName = PathSet)]
    [ValidateSet("csv", "json", "jsonl", "ndjson", IgnoreCase = true)]
    public string? InputFormat { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    public char Delimiter { get; set; } = ',';

    [Parameter(ParameterSetName = PathSet)]
    [EncodingTransformation]
    [ArgumentCompleter(typeof(EncodingCompleter))]
    public Encoding? Encoding { get; set; }

    protected override void BeginProcessing()
    {
        try
        {
            var layers = new List<EndpointSettings> { new(null, Model, null, "parameters", EndpointSettings.ParseProvider(Provider), Deployment), SessionDefaults.Current.ToLayer() };
            layers.AddRange(EndpointSettings.FromEnvironment(Environment.GetEnvironmentVariable));
            var (provider, model, endpoint) = LlmEndpoint.ResolveModel(layers);
            _target = BatchTarget.For(provider, model, endpoint);
        }
        catch (EndpointConfigurationException ex)
        {
            ThrowTerminatingError(new ErrorRecord(ex, "InvalidEndpointConfiguration", ErrorCategory.InvalidArgument, Model));
        }
        var template = PromptTemplates.ParseOrThrow(this, PromptTemplate);
        PromptTemplates.WarnAboutUse(this, template, InputKey, Language);
        _generation = new GenerationOptions
        {
            InputKey = InputKey,
            OutputKey = OutputKey,
            Overwrite = Force,
            Template = template,
            SystemPrompt = SystemPrompt,
            Language = Language,
            Parameters = RequestParameters.ResolveOrThrow(this, Temperature, MaxTokens, ReasoningEffort, AdditionalBody),
        };
        _outFile = GetUnresolvedProviderPathFromPSPath(OutFile);
        if (!Directory.Exists(_outFile) && File.Exists(_outFile) && !Force)
        {
            ThrowTerminatingError(new ErrorRecord(new IOException($"{_outFile} already exists. Pass -Force to replace it."), "OutputFileExists", ErrorCategory.ResourceExists, _outFile));
        }
        _skip = !ShouldProcess(_outFile, $"Write batch requests for model '{_target!.Model}'");
    }

    protected override void ProcessRecord()
    {
        if (_skip)
        {
            return;
        }
        if (ParameterSetName == PathSet)
        {
            string input = GetUnresolvedProviderPathFromPSPath(Path);
            string target = _outFile;
            if (Directory.Exists(_outFile))
            {
                target = System.IO.Path.Combine(_outFile, System.IO.Path.GetFileNameWithoutExtension(input) + ".requests.jsonl");
                if (File.Exists(target) && !Force)
                {
                    WriteError(new ErrorRecord(new IOException($"{target} already exists. Pass -Force to replace it."), "OutputFileExists", ErrorCategory.ResourceExists, target));
                    return;
                }
            }
            else if (++_files > 1)
            {
                ThrowTerminatingError(new ErrorRecord(new ArgumentException($"Several input files need -OutFile to be a folder, so that each gets its own request files; {_outFile} is not one."),
                    "OutFileNotFolder", ErrorCategory.InvalidArgument, _outFile));
            }
            ExportFile(input, target);
            return;
        }
        if (Directory.Exists(_outFile))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException($"{_outFile} is a folder: pipeline rows need a file name for -OutFile."), "OutFileIsFolder", ErrorCategory.InvalidArgument, _outFile));
        }
        _exporter ??= new BatchRequestExporter(_outFile, _target!, _generation!, MaxRequestsPerFile, MaxBytesPerFile);
        var row = PipelineRow.From(InputObject, InputKey);
        _rows++;
        RowError? error = null;
        try
        {
            error = _exporter.Add(row);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(new ErrorRecord(ex, "DataFileWriteFailed", ErrorCategory.WriteError, _outFile));
        }
        if (error is not null)
        {
            WriteError(RowErrorRecords.Create(error, row.Source, this));
        }
    }

    protected override void EndProcessing()
    {
        if (_exporter is null)
        {
            return;
        }
        var files = _exporter.Complete();
        WriteVerbose($"Wrote {files.Sum(f => f.Requests)} requests for {_rows} rows into {files.Count} file(s).");
        WriteObject(files, enumerateCollection: true);
    }

    private void ExportFile(string input, string target)
    {
        IReadOnlyList<BatchRequestFile> files;
        long rows;
        try
        {
            files = BatchJob.ExportFile(input, InputFormat is null ? null : DataFormats.Parse(InputFormat), new CsvSettings(Delimiter, Encoding), target, _target!,
                _generation!, MaxRequestsPerFile, MaxBytesPerFile, hashOnly: false,
                (error, row) => WriteError(RowErrorRecords.Create(error, RowConversion.ToPSObject(row), this)), out rows);
        }
        catch (DataFileException ex)
        {
            ThrowTerminatingError(DataFileErrorRecords.Create(ex, this));
            return;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(new ErrorRecord(ex, "DataFileWriteFailed", ErrorCategory.WriteError, target));
            return;
        }
        WriteVerbose($"Wrote {files.Sum(f => f.Requests)} requests for the {rows} rows of {input} into {files.Count} file(s).");
        WriteObject(files, enumerateCollection: true);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _exporter?.Dispose();
        }
        base.Dispose(disposing);
    }
}
