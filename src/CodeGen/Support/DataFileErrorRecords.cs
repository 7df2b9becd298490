using System.Management.Automation;
using CodeGen.Core.Storage;

namespace CodeGen.Commands.Support;

/// <summary>
/// Turns data-file errors (a file that is missing, malformed, or in the way) into ErrorRecords: the error id,
/// a category, the file as target, and advice that names only parameters the command in use has.
/// </summary>
internal static class DataFileErrorRecords
{
    /// <param name="batch">The command runs a batch job (-Batch): an output in the way is replaced by a new job, not resumed.</param>
    public static ErrorRecord Create(DataFileException error, PSCmdlet cmdlet, bool batch = false)
    {
        var record = new ErrorRecord(error, error.ErrorId, CategoryOf(error.ErrorId), error.Path);
        if (RecommendedAction(error.ErrorId, cmdlet, batch) is { } action)
        {
            record.ErrorDetails = new ErrorDetails(error.Message) { RecommendedAction = action };
        }
        return record;
    }

    internal static ErrorCategory CategoryOf(string errorId) => errorId switch
    {
        DataFileException.DataFileNotFound => ErrorCategory.ObjectNotFound,
        DataFileException.MissingInputColumn => ErrorCategory.ObjectNotFound,
        DataFileException.OutputColumnExists or DataFileException.OutputFileExists => ErrorCategory.ResourceExists,
        DataFileException.UnknownDataFormat or DataFileException.SameInputAndOutput => ErrorCategory.InvalidArgument,
        _ => ErrorCategory.InvalidData,
    };

    private static string? RecommendedAction(string errorId, PSCmdlet cmdlet, bool batch)
    {
        bool Has(string parameter) => cmdlet.MyInvocation.MyCommand.Parameters.ContainsKey(parameter);
        return errorId switch
        {
            DataFileException.OutputFileExists when batch => "Pass -Force to replace it with the output of a new batch job.",
            DataFileException.OutputFileExists when Has("Resume") => "Pass -Resume to continue it, or -Force to replace it.",
            DataFileException.OutputFileExists when Has("OutputPath") => "Pass -Force to replace it, or write to another -OutputPath.",
            DataFileException.OutputFileExists => "Pass -Force to replace it.",
            DataFileException.UnknownDataFormat when Has("Format") => "Pass -Format csv, json or jsonl (or -InputFormat and -OutputFormat).",
            _ => null,
        };
    }
}
