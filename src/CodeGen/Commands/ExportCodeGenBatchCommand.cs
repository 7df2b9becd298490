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
/// Export-CodeGenBatch: writes one batch request line per row in its API's shape (OpenAI's custom_id, method, url,
/// body for chat completions and the Responses API; a Message Batch's custom_id, params for Anthropic), the body being
/// exactly the request Invoke-CodeInstructionToCode would send for the row. Splits into several files at the provider
/// limits. Needs no key: the files can go to any batch runner (the OpenAI or Azure OpenAI Batch API, vLLM's run_batch,
/// Anthropic's Message Batches).
/// </summary>
[Cmdlet(VerbsData.Export, "CodeGenBatch", SupportsShouldProcess = true, DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(BatchRequestFile))]
public sealed class ExportCodeGenBatchCommand : ModelCommandBase, IDynamicParameters
{
    private const string InputObjectSet = "InputObject";
    private const string PathSet = "Path";

    private BatchRequestExporter? _exporter;
    /// <summary>The parameter groups this command shares with others, each declared once (<see cref="ParameterGroups"/>).</summary>
    private readonly ParameterGroups _groups = new ParameterGroups()
        .Offer<GenerationParameters>()
        .Offer<BatchFileParameters>()
        .Offer<DataFileParameters>([PathSet], nameof(DataFileParameters.InputFormat), nameof(DataFileParameters.Delimiter), nameof(DataFileParameters.Encoding));
    private GenerationOptions? _generation;
    private BatchTarget? _target;
    private long _maxRequests, _maxBytes;
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

    public object GetDynamicParameters() => _groups.Parameters;

    /// <summary>The prompt, the request parameters, and -Force (replace an existing -OutFile, and export rows that already have the output column).</summary>
    private GenerationParameters Prompt => _groups.Get<GenerationParameters>();

    protected override void BeginProcessing()
    {
        _target = Engine(() =>
        {
            var (provider, api, model, endpoint, version) = LlmEndpoint.ResolveModel(LlmCommandBase.Layers(ModelLayer()));
            return BatchTarget.For(provider, api, model, endpoint, version);
        }, Model);
        var limits = _groups.Get<BatchFileParameters>();
        (_maxRequests, _maxBytes) = (limits.MaxRequestsPerFile ?? _target!.Api.BatchLimits.Requests, limits.MaxBytesPerFile ?? _target!.Api.BatchLimits.Bytes);
        _generation = Prompt.ToOptions(this);
        _outFile = GetUnresolvedProviderPathFromPSPath(OutFile);
        if (!Directory.Exists(_outFile) && File.Exists(_outFile) && !Prompt.Force)
        {
            ThrowTerminatingError(ErrorRecords.ForException(new DataFileException(_outFile, 0, "already exists.", errorId: DataFileException.OutputFileExists), this, _outFile));
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
                if (File.Exists(target) && !Prompt.Force)
                {
                    WriteError(ErrorRecords.ForException(new DataFileException(target, 0, "already exists.", errorId: DataFileException.OutputFileExists), this, target));
                    return;
                }
            }
            else if (++_files > 1)
            {
                ThrowTerminatingError(ErrorRecords.ForUsage("OutFileNotFolder", $"Several input files need -OutFile to be a folder, so that each gets its own request files; {_outFile} is not one.",
                    "Pass -OutFile a folder (ending in a separator, it is created when missing), or one input file.", _outFile));
            }
            ExportFile(input, target);
            return;
        }
        if (Directory.Exists(_outFile))
        {
            ThrowTerminatingError(ErrorRecords.ForUsage("OutFileIsFolder", $"{_outFile} is a folder: pipeline rows need a file name for -OutFile.",
                "Pass -OutFile a file name, such as requests.jsonl.", _outFile));
        }
        _exporter ??= Engine(() => new BatchRequestExporter(_outFile, _target!, _generation!, _maxRequests, _maxBytes), _outFile);
        var row = PipelineRow.From(InputObject, Prompt.InputKey);
        _rows++;
        if (Engine(() => _exporter.Add(row), _outFile) is { } error)
        {
            WriteError(ErrorRecords.ForRow(error, row.Source, this));
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
        long rows = 0;
        var data = _groups.Get<DataFileParameters>();
        var files = Engine(() => BatchJob.ExportFile(input, data.InputDataFormat, data.Csv, target, _target!,
            _generation!, _maxRequests, _maxBytes, hashOnly: false,
            (error, row) => WriteError(ErrorRecords.ForRow(error, RowConversion.ToPSObject(row), this)), out rows), target);
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
