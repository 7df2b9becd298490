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
/// and &lt;CodeKey&gt;_check_detail. Source files (-Path ./scripts/*.ps1, or piped FileInfo) are checked whole, in the
/// language of their extension (<see cref="CodeFiles"/>): one <see cref="CodeFileCheck"/> each. Checks run beside
/// each other, off the pipeline thread; results come back in order.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "CodeGenCode", DefaultParameterSetName = InputObjectSet)]
[OutputType(typeof(PSObject), typeof(CodeFileCheck))]
public sealed class TestCodeGenCodeCommand : CancellableCmdlet, IDynamicParameters
{
    private const string InputObjectSet = "InputObject";
    private const string PathSet = "Path";

    /// <summary>
    /// -Language, as the commands that ask for code have it (the language of the code, or {column}: each row's; without
    /// it, the tag of a fenced code block in the field, else the row is unchecked; a source file's extension), and the
    /// format, separator and encoding of -Path's data files (<see cref="ParameterGroups"/>).
    /// </summary>
    private readonly ParameterGroups _groups = new ParameterGroups()
        .Offer<PromptParameters>(only: nameof(PromptParameters.Language))
        .Offer<DataFileParameters>([PathSet], DataFileParameters.OneFormat);
    private CodeCheckers? _checkers;
    private CheckRun? _run;
    private string? _fixedLanguage;

    /// <summary>A row (an object or a hashtable) with the code in its -CodeKey field, the code itself as a string, or a file (FileInfo, from Get-ChildItem).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputObjectSet)]
    public PSObject InputObject { get; set; } = null!;

    /// <summary>Source files to check whole (.ps1 .psm1 .psd1 .py .sh .bash .cs .csx .json), or CSV, JSON or JSONL files whose rows hold code; wildcards expand.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath", "LiteralPath")]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    /// <summary>The field that holds the code. Default generated_code, the column Invoke-CodeInstructionToCode writes.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnCompleter))]
    public string CodeKey { get; set; } = GenerationOptions.DefaultOutputKey;

    public object GetDynamicParameters() => _groups.Parameters;

    private DataFileParameters Files => _groups.Get<DataFileParameters>();

    private string? Language => _groups.Get<PromptParameters>().Language;

    protected override void BeginProcessing()
    {
        _fixedLanguage = PromptTemplates.ParseLanguageOrThrow(this, Language)?.Fixed;
        _checkers = PowerShellChecker.WithEngineCheckers();
        _checkers.Prepare(_fixedLanguage);
        _run = new CheckRun(_checkers, CodeKey, Language);
    }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == InputObjectSet)
        {
            switch (InputObject.BaseObject)
            {
                case FileInfo file:
                    CheckFile(file.FullName);
                    break;
                case DirectoryInfo folder:
                    CheckFile(folder.FullName); // says it is a folder
                    break;
                default:
                    Submit(PipelineRow.From(InputObject, CodeKey));
                    break;
            }
            return;
        }
        foreach (string file in FilePatterns.ExpandEach(this, Path, nameof(Path)))
        {
            CheckFile(file);
        }
    }

    protected override void EndProcessing()
    {
        Emit(all: true);
        var counts = _run!.Counts;
        WriteVerbose(string.Format(CultureInfo.InvariantCulture, "Test-CodeGenCode: {0} rows and files, {1} ok, {2} failed, {3} unchecked.",
            counts.Checked + counts.Unchecked, counts.Ok, counts.Failed, counts.Unchecked));
    }

    /// <summary>
    /// A file: its rows (a data file) or its text (a source file), checked in order with the rest. A file that is
    /// missing, unreadable or of an unknown language is a non-terminating error; a malformed data file stops the command.
    /// </summary>
    private void CheckFile(string path)
    {
        DataFormat? format = Files.InputDataFormat;
        CheckedFileKind kind;
        string? code = null;
        try
        {
            kind = CodeFiles.KindOf(path, format, CodeKey, MyInvocation.BoundParameters.ContainsKey(nameof(CodeKey)), _fixedLanguage);
            if (kind == CheckedFileKind.Source)
            {
                code = CodeFiles.Read(path, Files.Encoding);
            }
        }
        catch (DataFileException ex)
        {
            WriteError(ErrorRecords.ForException(ex, this, path));
            return;
        }
        if (kind == CheckedFileKind.Source)
        {
            string language = _fixedLanguage ?? CodeFiles.LanguageOf(path)!;
            _run!.EnqueueCode(code!, language, new SourceFile(path, language), StoppingToken);
            Emit(all: false);
            return;
        }
        Engine(() =>
        {
            using var reader = RowFiles.OpenReader(path, DataFormats.Resolve(path, format), Files.Csv);
            var objects = new RowObjectFactory();
            while (reader.Read(out var row))
            {
                StoppingToken.ThrowIfCancellationRequested();
                Submit(PipelineRow.From(objects.Create(row), CodeKey));
            }
        }, path);
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

    /// <summary>Writes the rows (with the two check columns) and files whose check is done, in order.</summary>
    private void Emit(bool all) => Engine(() =>
    {
        foreach (var (state, result) in _run!.Take(all))
        {
            if (state is SourceFile file)
            {
                WriteObject(new CodeFileCheck(file.Path, result, file.Language));
                continue;
            }
            var row = (PipelineRow)state!;
            _run.Columns.FillCheck(result, row);
            WriteObject(row.Result);
        }
    }, target: null);

    /// <summary>A source file on its way through the checks.</summary>
    private sealed record SourceFile(string Path, string Language);
}
