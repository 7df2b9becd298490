using System.Globalization;
using System.Management.Automation;
using System.Text;
using CodeGen.Commands.Rows;
using CodeGen.Commands.Support;
using CodeGen.Core.Checking;
using CodeGen.Core.Extraction;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Commands;

/// <summary>
/// Test-CodeGenCode: the checks of -Check for rows that already have code (pipeline objects, or the rows of CSV,
/// JSON or JSONL files), without a model: each row comes back with &lt;CodeKey&gt;_check (ok, failed or unchecked)
/// and &lt;CodeKey&gt;_check_detail. Checks run beside each other, off the pipeline thread; rows come back in order.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "CodeGenCode", DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(PSObject))]
public sealed class TestCodeGenCodeCommand : CancellableCmdlet
{
    private const string InputObjectSet = "InputObject";
    private const string PathSet = "Path";

    /// <summary>Checks on the way at most; rows wait for their turn beyond it.</summary>
    private const int Window = 64;

    private readonly Queue<(Task<CheckResult> Check, PipelineRow Row)> _pending = new();
    private CodeCheckers? _checkers;
    private long _ok, _failed, _unchecked;

    /// <summary>A row (an object or a hashtable) with the code in its -CodeKey field, or the code itself as a string.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public PSObject InputObject { get; set; } = null!;

    /// <summary>CSV, JSON or JSONL files whose rows hold code.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath", "LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>The field that holds the code. Default generated_code, the column Invoke-CodeInstructionToCode writes.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnCompleter))]
    public string CodeKey { get; set; } = GenerationOptions.DefaultOutputKey;

    /// <summary>The language of the code; without it, the tag of a fenced code block in the field, else the row is unchecked.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(LanguageCompleter))]
    public string? Language { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    [ValidateSet("csv", "json", "jsonl", "ndjson", IgnoreCase = true)]
    public string? Format { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    public char Delimiter { get; set; } = ',';

    [Parameter(ParameterSetName = PathSet)]
    [EncodingTransformation]
    [ArgumentCompleter(typeof(EncodingCompleter))]
    public Encoding? Encoding { get; set; }

    private string CheckKey => CodeKey + "_check";

    private string DetailKey => CodeKey + "_check_detail";

    protected override void BeginProcessing()
    {
        _checkers = PowerShellChecker.WithEngineCheckers();
        _checkers.Prepare(Language);
    }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == InputObjectSet)
        {
            Submit(PipelineRow.From(InputObject, CodeKey));
            return;
        }
        foreach (string item in Path)
        {
            string path = GetUnresolvedProviderPathFromPSPath(item);
            Engine(() =>
            {
                using var reader = RowFiles.OpenReader(path, DataFormats.Resolve(path, Format is null ? null : DataFormats.Parse(Format)), new CsvSettings(Delimiter, Encoding));
                var objects = new RowObjectFactory();
                while (reader.Read(out var row))
                {
                    StoppingToken.ThrowIfCancellationRequested();
                    Submit(PipelineRow.From(objects.Create(row), CodeKey));
                }
            }, path);
        }
    }

    protected override void EndProcessing()
    {
        Drain(all: true);
        WriteVerbose(string.Format(CultureInfo.InvariantCulture, "Test-CodeGenCode: {0} rows, {1} ok, {2} failed, {3} unchecked.",
            _ok + _failed + _unchecked, _ok, _failed, _unchecked));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _checkers?.Dispose();
        }
        base.Dispose(disposing);
    }

    private void Submit(PipelineRow row)
    {
        _pending.Enqueue((Check(row), row));
        Drain(all: false);
    }

    /// <summary>The check of a row's code, started on the thread pool (the parsers run beside each other).</summary>
    private Task<CheckResult> Check(PipelineRow row)
    {
        if (!row.TryGetField(CodeKey, out var text) || string.IsNullOrWhiteSpace(text))
        {
            return Task.FromResult(CheckResult.Unchecked($"the row has no code in '{CodeKey}'."));
        }
        string code = text;
        string? tag = null;
        if (string.IsNullOrWhiteSpace(Language) && CodeExtractor.Extract(text) is { Source: CodeSource.FencedBlock, LanguageTag: { } fenced } extracted)
        {
            // a whole answer kept in the field (-Raw): its fenced block, in the block's language
            code = extracted.Code;
            tag = fenced;
        }
        var checkers = _checkers!;
        return Task.Run(() => checkers.CheckAsync(code, Language, tag, StoppingToken).AsTask(), StoppingToken);
    }

    /// <summary>Writes the rows whose check is done, in order; waits while the window is full (or for all, at the end).</summary>
    private void Drain(bool all)
    {
        while (_pending.Count > 0 && (all || _pending.Count >= Window || _pending.Peek().Check.IsCompleted))
        {
            var (check, row) = _pending.Dequeue();
            CheckResult result;
            try
            {
                result = check.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (StoppingToken.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }
            switch (result.Status)
            {
                case CheckStatus.Ok:
                    _ok++;
                    break;
                case CheckStatus.Failed:
                    _failed++;
                    break;
                default:
                    _unchecked++;
                    break;
            }
            row.Set(CheckKey, result.StatusText);
            row.Set(DetailKey, string.IsNullOrEmpty(result.Detail) ? null : result.Detail);
            WriteObject(row.Result);
        }
    }
}
