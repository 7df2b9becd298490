using System.Management.Automation;
using System.Text;
using CodeGen.Commands.Support;
using CodeGen.Core.Batch;
using CodeGen.Core.Prompting;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Commands;

/// <summary>
/// Import-CodeGenBatchResult: merges the result (and error) files of a batch made by Export-CodeGenBatch back
/// into the input rows, in input order, with the code extraction and error columns of file mode. Rows that
/// failed or have no result are reported as errors and written without code, ready for a live -Resume.
/// </summary>
[Cmdlet(VerbsData.Import, "CodeGenBatchResult", SupportsShouldProcess = true)]
[OutputType(typeof(FileRunSummary))]
public sealed class ImportCodeGenBatchResultCommand : PSCmdlet
{
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>The input file the requests were exported from.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [Alias("LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>The batch output files (OpenAI output_file, vLLM run_batch output), in any order.</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string[] ResultPath { get; set; } = [];

    /// <summary>The batch error files, if any (OpenAI error_file).</summary>
    [Parameter]
    public string[] ErrorPath { get; set; } = [];

    /// <summary>The file to write: the input rows with the code (and the error column for rows without code).</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string OutputPath { get; set; } = null!;

    /// <summary>The instruction column, as at the export.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnCompleter))]
    public string InputKey { get; set; } = GenerationOptions.DefaultInputKey;

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnCompleter))]
    public string OutputKey { get; set; } = GenerationOptions.DefaultOutputKey;

    /// <summary>Replace an existing output file (and the output column of rows that have one), as at the export.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>The template used at the export (rows it could not fill are reported again).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PromptTemplate { get; set; }

    /// <summary>The language to prefer among several code blocks of an answer.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Language { get; set; }

    /// <summary>Keep the model's whole answer instead of extracting the code.</summary>
    [Parameter]
    public SwitchParameter Raw { get; set; }

    /// <summary>Add the token counts the batch reported for each row.</summary>
    [Parameter]
    public SwitchParameter IncludeUsage { get; set; }

    /// <summary>Also write each row to the pipeline (the summary comes last).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    [Parameter]
    [ValidateSet("csv", "json", "jsonl", "ndjson", IgnoreCase = true)]
    public string? Format { get; set; }

    [Parameter]
    [ValidateSet("csv", "json", "jsonl", "ndjson", IgnoreCase = true)]
    public string? InputFormat { get; set; }

    [Parameter]
    [ValidateSet("csv", "json", "jsonl", "ndjson", IgnoreCase = true)]
    public string? OutputFormat { get; set; }

    [Parameter]
    public char Delimiter { get; set; } = ',';

    [Parameter]
    [EncodingTransformation]
    [ArgumentCompleter(typeof(EncodingCompleter))]
    public Encoding? Encoding { get; set; }

    protected override void EndProcessing()
    {
        string input = GetUnresolvedProviderPathFromPSPath(Path);
        string output = GetUnresolvedProviderPathFromPSPath(OutputPath);
        if (!ShouldProcess(output, $"Merge the batch results into the rows of {input}"))
        {
            return;
        }
        var template = PromptTemplates.ParseOrThrow(this, PromptTemplate);
        var generation = new GenerationOptions
        {
            InputKey = InputKey,
            OutputKey = OutputKey,
            Overwrite = Force,
            Template = template,
            Language = Language,
            KeepRawAnswer = Raw,
            IncludeUsage = IncludeUsage,
        };
        var results = ResultPath.Select(GetUnresolvedProviderPathFromPSPath).ToList();
        var errors = ErrorPath.Select(GetUnresolvedProviderPathFromPSPath).ToList();
        var fileRun = new FileRun(new FileRunOptions
        {
            InputPath = input,
            OutputPath = output,
            InputFormat = Parse(InputFormat ?? Format),
            OutputFormat = Parse(OutputFormat ?? Format),
            Csv = new CsvSettings(Delimiter, Encoding),
            KeepIntact = [.. results, .. errors], // the paid results must not be the file the merge writes
        });
        var progress = new RunProgress(this, $"Merging batch results into {System.IO.Path.GetFileName(output)}", total: null);
        FileRunSummary summary;
        try
        {
            using var index = BatchResultIndex.Open(results, errors);
            WriteVerbose($"Found results for {index.Count} rows" + (index.ForeignLines > 0 ? $"; {index.ForeignLines} lines have a custom_id CodeGen did not write and were ignored." : "."));
            using var run = new GenerationRun(generation, new BatchResultBackend(index));
            summary = fileRun.Execute(run, new FileRunReporter(this, progress, PassThru, FileRunReporter.IsVerbose(this)), _stopping.Token);
        }
        catch (DataFileException ex)
        {
            ThrowTerminatingError(new ErrorRecord(ex, ex.ErrorId, InvokeCodeInstructionToCodeCommand.CategoryOf(ex.ErrorId), ex.Path));
            return;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(new ErrorRecord(ex, "DataFileWriteFailed", ErrorCategory.WriteError, output));
            return;
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return;
        }
        progress.Complete();
        WriteObject(summary);
    }

    protected override void StopProcessing() => _stopping.Cancel();

    private static DataFormat? Parse(string? name) => name is null ? null : DataFormats.Parse(name);
}
