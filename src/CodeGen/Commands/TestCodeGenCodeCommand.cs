using System.Globalization;
using System.Management.Automation;
using System.Text;
using CodeGen.Commands.Rows;
using CodeGen.Commands.Support;
using CodeGen.Core.Checking;
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

    private CodeCheckers? _checkers;
    private CheckRun? _run;

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

    protected override void BeginProcessing()
    {
        _checkers = PowerShellChecker.WithEngineCheckers();
        _checkers.Prepare(Language);
        _run = new CheckRun(_checkers, CodeKey, Language);
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
        Emit(all: true);
        var counts = _run!.Counts;
        WriteVerbose(string.Format(CultureInfo.InvariantCulture, "Test-CodeGenCode: {0} rows, {1} ok, {2} failed, {3} unchecked.",
            counts.Checked + counts.Unchecked, counts.Ok, counts.Failed, counts.Unchecked));
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
        _run!.Enqueue(row, row, StoppingToken);
        Emit(all: false);
    }

    /// <summary>Writes the rows whose check is done, in order, with the two check columns.</summary>
    private void Emit(bool all) => Engine(() =>
    {
        foreach (var (state, result) in _run!.Take(all))
        {
            var row = (PipelineRow)state!;
            row.Set(_run.CheckKey, result.StatusText);
            row.Set(_run.DetailKey, CheckColumns.DetailText(result));
            WriteObject(row.Result);
        }
    }, target: null);
}
