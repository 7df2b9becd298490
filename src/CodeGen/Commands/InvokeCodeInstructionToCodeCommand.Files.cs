using System.Management.Automation;
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
        bool toFolder = OutputFolder.Holds(_pathInputs.Count, OutputPath, output);
        if (toFolder && File.Exists(output))
        {
            string message = $"{_pathInputs.Count} input files go to a folder of outputs, one each, but '{output}' is a file.";
            ThrowTerminatingError(ErrorRecords.ForUsage("OutputPathIsAFile", message, "Pass -OutputPath a folder (it is created when missing), or one input file.",
                OutputPath, new IOException(message)));
        }
        var names = toFolder ? OutputFolder.Names(_pathInputs, Files.InputDataFormat, Files.OutputDataFormat) : null;
        foreach (string input in _pathInputs)
        {
            RunFile(input, names is null ? output : System.IO.Path.Combine(output, names[input]), storage: null, createFolder: toFolder);
        }
    }, Endpoint);

    /// <summary>File mode: one input file (or storage step) through a run of its own into its output file.</summary>
    /// <param name="createFolder">Create the output's folder (a folder of outputs) once the run is confirmed.</param>
    private void RunFile(string inputPath, string outputPath, StepStorage? storage, bool createFolder = false)
    {
        string input = GetUnresolvedProviderPathFromPSPath(inputPath);
        string output = GetUnresolvedProviderPathFromPSPath(outputPath);
        var (inputFormat, outputFormat) = (storage?.InputFormat ?? Files.InputDataFormat, storage?.CacheType ?? Files.OutputDataFormat);
        if (!ShouldProcess(output, $"{_action} for the rows of {input}"))
        {
            ShowFileWouldSend(input, inputFormat);
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
            InputFormat = inputFormat,
            OutputFormat = outputFormat,
            Csv = Files.Csv,
            Resume = Resume,
        });
        var run = new GenerationRun(_generation!, _backend!);
        Volatile.Write(ref _run, run);
        var cacheStart = _cache?.Counts;
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
        summary = WithCacheCounts(summary, cacheStart);
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
        if (!ShowsWhatWouldBeSent)
        {
            return;
        }
        try
        {
            foreach (string messages in RowPreview.OfFile(_generation!, _backend!, input, format, Files.Csv))
            {
                WriteVerbose(messages);
            }
        }
        catch (Exception ex) when (ex is DataFileException or IOException or UnauthorizedAccessException)
        {
            WriteVerbose($"The rows of {input} cannot be shown: {ex.Message}");
        }
    }
}
