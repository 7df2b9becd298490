using System.Management.Automation;
using System.Text;
using CodeGen.Commands.Support;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;

namespace CodeGen.Commands;

/// <summary>Invoke-CodeInstructionToCode, file mode: one input file (or a folder of them, or a storage step) through a run of its own into its output file.</summary>
public sealed partial class InvokeCodeInstructionToCodeCommand
{
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
            string message = $"{_pathInputs.Count} input files go to a folder of outputs, one each, but '{output}' is a file.";
            ThrowTerminatingError(ErrorRecords.ForUsage("OutputPathIsAFile", message, "Pass -OutputPath a folder (it is created when missing), or one input file.",
                OutputPath, new IOException(message)));
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
        var (outputFormat, inputFormat) = (Files.OutputDataFormat, Files.InputDataFormat);
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
        var (inputFormat, outputFormat) = (Files.InputDataFormat, Files.OutputDataFormat);
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
            Csv = Files.Csv,
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
            using var reader = RowFiles.OpenReader(input, DataFormats.Resolve(input, format), Files.Csv);
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
}
