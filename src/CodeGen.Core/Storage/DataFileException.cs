namespace CodeGen.Core.Storage;

/// <summary>A problem with a data file, located as precisely as the parser can: file, line, column.</summary>
public sealed class DataFileException : Exception
{
    public DataFileException(string path, long line, string detail, long? column = null, Exception? inner = null, string errorId = MalformedDataFile,
        bool startOver = false)
        : base(Format(path, line, column, detail), inner)
    {
        StartOver = startOver;
        Path = path;
        Line = line;
        Column = column;
        Detail = detail;
        ErrorId = errorId;
    }

    public const string MalformedDataFile = "MalformedDataFile";
    public const string DataFileNotFound = "DataFileNotFound";
    public const string UnknownDataFormat = "UnknownDataFormat";
    public const string MissingInputColumn = "MissingInputColumn";
    public const string OutputColumnExists = "OutputColumnExists";
    public const string OutputFileExists = "OutputFileExists";
    public const string OutputDoesNotMatchInput = "OutputDoesNotMatchInput";
    public const string SameInputAndOutput = "SameInputAndOutput";
    public const string OutputInUse = "OutputInUse";
    /// <summary>A file CodeGen keeps beside the output is a link, a FIFO, a device or a folder (see <see cref="SideFile"/>).</summary>
    public const string UnsafeSideFile = "UnsafeSideFile";
    /// <summary>The output, or a file the run keeps beside it, could not be written (a full disk): the run stopped sending (see <see cref="DiskWrites"/>).</summary>
    public const string OutputWriteFailed = "OutputWriteFailed";
    /// <summary>A file to check whose extension names no language there is a checker for, and no -Language names one (see <see cref="Checking.CodeFiles"/>).</summary>
    public const string UnknownCodeLanguage = "UnknownCodeLanguage";
    /// <summary>A source file to check could not be read (its permissions, a device error).</summary>
    public const string CodeFileUnreadable = "CodeFileUnreadable";

    /// <summary>Stable identifier of the kind of problem (one of the constants of this class).</summary>
    public string ErrorId { get; }

    public string Path { get; }

    /// <summary>1-based line, or 0 when the problem is not tied to a line (a missing file, an unknown format).</summary>
    public long Line { get; }

    /// <summary>1-based column (in bytes for JSON, as the parser counts), when known.</summary>
    public long? Column { get; }

    public string Detail { get; }

    /// <summary>The file is an output that cannot be continued (damaged before its end, or made from other input): only replacing it helps.</summary>
    public bool StartOver { get; }

    private static string Format(string path, long line, long? column, string detail)
    {
        string where = line > 0 ? column is > 0 ? $"{path}, line {line}, column {column}" : $"{path}, line {line}" : path;
        return $"{where}: {detail}";
    }
}
