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
public sealed class ImportCodeGenBatchResultCommand : CancellableCmdlet, IDynamicParameters
{
    /// <summary>
    /// The parameter groups this command shares with others, each declared once (<see cref="ParameterGroups"/>): the prompt
    /// parameters as at the export (which rows the results belong to, where the code goes; -Force replaces an existing
    /// output file and the output column of rows that have one), what a row's result carries, and the data files'.
    /// </summary>
    private readonly ParameterGroups _groups = new ParameterGroups()
        .Offer<PromptParameters>()
        .Offer<ResultParameters>()
        .Offer<DataFileParameters>();

    public object GetDynamicParameters() => _groups.Parameters;

    /// <summary>The input file the requests were exported from.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [Alias("LiteralPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = null!;

    /// <summary>The batch output files (OpenAI output_file, vLLM run_batch output), in any order; wildcards expand (output*.jsonl).</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[] ResultPath { get; set; } = [];

    /// <summary>The batch error files, if any (OpenAI error_file); wildcards expand (errors*.jsonl).</summary>
    [Parameter]
    [SupportsWildcards]
    public string[] ErrorPath { get; set; } = [];

    /// <summary>The file to write: the input rows with the code (and the error column for rows without code).</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string OutputPath { get; set; } = null!;

    /// <summary>Also write each row to the pipeline (the summary comes last).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>
    /// The files that <paramref name="patterns"/> name (see <see cref="FilePatterns"/>; a path without wildcards is
    /// taken as given, and its absence is reported when it is read). A pattern that matches nothing stops the
    /// command: a result file left out would leave its rows without code.
    /// </summary>
    private List<string> ResolveFiles(string[] patterns, string parameter, bool required)
    {
        var files = new List<string>();
        foreach (string pattern in patterns)
        {
            var found = FilePatterns.Expand(this, pattern, out bool wildcard);
            if (wildcard && found.Count == 0)
            {
                ThrowTerminatingError(ErrorRecords.NoFileMatches(parameter, pattern));
            }
            files.AddRange(found);
        }
        var distinct = files.Distinct(StringComparer.Ordinal).ToList();
        if (required && distinct.Count == 0)
        {
            ThrowTerminatingError(ErrorRecords.ForUsage(DataFileException.DataFileNotFound, $"-{parameter} names no file.",
                $"Pass -{parameter} the result files the provider gave (wildcards allowed).", null, null, ErrorCategory.ObjectNotFound));
        }
        return distinct;
    }

    protected override void EndProcessing()
    {
        string input = GetUnresolvedProviderPathFromPSPath(Path);
        string output = GetUnresolvedProviderPathFromPSPath(OutputPath);
        if (!ShouldProcess(output, $"Merge the batch results into the rows of {input}"))
        {
            return;
        }
        var (answers, data) = (_groups.Get<ResultParameters>(), _groups.Get<DataFileParameters>());
        using var checkers = answers.Check ? PowerShellChecker.WithEngineCheckers() : null;
        var generation = _groups.Get<PromptParameters>().ToOptions(this, answers, warn: false, checkers: checkers);
        var results = ResolveFiles(ResultPath, nameof(ResultPath), required: true);
        var errors = ResolveFiles(ErrorPath, nameof(ErrorPath), required: false);
        var fileRun = new FileRun(new FileRunOptions
        {
            InputPath = input,
            OutputPath = output,
            InputFormat = data.InputDataFormat,
            OutputFormat = data.OutputDataFormat,
            Csv = data.Csv,
            KeepIntact = [.. results, .. errors], // the paid results must not be the file the merge writes
            Journal = false, // a merge costs nothing to do again
        });
        var progress = new RunProgress(this, $"Merging batch results into {System.IO.Path.GetFileName(output)}", total: null);
        var summary = Engine(() =>
        {
            using var index = BatchResultIndex.Open(results, errors);
            WriteVerbose($"Found results for {index.Count} rows" + (index.ForeignLines > 0 ? $"; {index.ForeignLines} lines have a custom_id CodeGen did not write and were ignored." : "."));
            using var run = new GenerationRun(generation, new BatchResultBackend(index));
            return fileRun.Execute(run, new FileRunReporter(this, progress, PassThru, FileRunReporter.IsVerbose(this)), StoppingToken);
        }, output);
        progress.Complete();
        WriteObject(summary);
    }

}
