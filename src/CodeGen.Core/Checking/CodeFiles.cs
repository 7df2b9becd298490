using System.Text;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Checking;

/// <summary>What a file given to a check holds: rows with code in a column, or source code.</summary>
public enum CheckedFileKind
{
    /// <summary>A data file (CSV, JSON, JSON Lines) whose rows hold code in a column.</summary>
    Rows,
    /// <summary>Source code, checked whole in one language.</summary>
    Source,
}

/// <summary>
/// Source files checked whole (Test-CodeGenCode -Path ./scripts/*.ps1): the language by extension, whether a file
/// holds rows or source, and its text. A data file (.csv, .jsonl, .ndjson) holds rows; a .json file holds rows when it is
/// an array of objects with the code column (what a run writes), else it is JSON source.
/// </summary>
public static class CodeFiles
{
    /// <summary>The extensions of source files there is a checker for, with their language's canonical tag.</summary>
    private static readonly (string Extension, string Language)[] Known =
    [
        (".ps1", "powershell"), (".psm1", "powershell"), (".psd1", "powershell"),
        (".py", "python"),
        (".sh", "bash"), (".bash", "bash"),
        (".cs", "csharp"), (".csx", "csharp"),
        (".json", "json"),
    ];

    /// <summary>The source extensions known, as a sentence lists them (.ps1, .psm1, ...).</summary>
    public static string KnownExtensions => string.Join(" ", Known.Select(k => k.Extension));

    /// <summary>The language of a source file by its extension (any case), or null for an extension no checker is for.</summary>
    public static string? LanguageOf(string path)
    {
        string extension = Path.GetExtension(path);
        foreach (var (known, language) in Known)
        {
            if (string.Equals(extension, known, StringComparison.OrdinalIgnoreCase))
            {
                return language;
            }
        }
        return null;
    }

    /// <summary>
    /// What <paramref name="path"/> holds. Rows: a <paramref name="format"/> is given, the extension is .csv, .jsonl or
    /// .ndjson, or it is .json and either <paramref name="codeKeyGiven"/> or its first row has <paramref name="codeKey"/>.
    /// Source: a known source extension, or any file when <paramref name="language"/> names its language.
    /// </summary>
    /// <exception cref="DataFileException">The file is missing, or nothing tells its language (<see cref="DataFileException.UnknownCodeLanguage"/>).</exception>
    public static CheckedFileKind KindOf(string path, DataFormat? format, string codeKey, bool codeKeyGiven, string? language)
    {
        if (!File.Exists(path))
        {
            throw new DataFileException(path, 0, Directory.Exists(path) ? "is a folder, not a file." : "the file does not exist.",
                errorId: DataFileException.DataFileNotFound);
        }
        if (format is not null)
        {
            return CheckedFileKind.Rows;
        }
        switch (DataFormats.FromExtension(path))
        {
            case DataFormat.Csv or DataFormat.JsonLines:
                return CheckedFileKind.Rows;
            case DataFormat.Json:
                return codeKeyGiven || FirstRowHas(path, codeKey) ? CheckedFileKind.Rows : CheckedFileKind.Source;
        }
        if (LanguageOf(path) is not null || !string.IsNullOrWhiteSpace(language))
        {
            return CheckedFileKind.Source;
        }
        throw new DataFileException(path, 0,
            $"cannot tell the language of the code from the extension '{Path.GetExtension(path)}': source files are checked by their extension ({KnownExtensions}), and rows are read from .csv, .json and .jsonl files.",
            errorId: DataFileException.UnknownCodeLanguage);
    }

    /// <summary>The text of a source file: UTF-8, or the encoding its byte order mark names (or <paramref name="encoding"/>).</summary>
    /// <exception cref="DataFileException">The file cannot be read (<see cref="DataFileException.CodeFileUnreadable"/>).</exception>
    public static string Read(string path, Encoding? encoding = null)
    {
        try
        {
            return File.ReadAllText(path, encoding ?? new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DataFileException(path, 0, $"cannot be read ({ex.Message})", inner: ex, errorId: DataFileException.CodeFileUnreadable);
        }
    }

    /// <summary>True when the JSON file is an array whose first element is an object with the column (a file of rows, as a run writes them).</summary>
    private static bool FirstRowHas(string path, string codeKey)
    {
        try
        {
            using var reader = RowFiles.OpenReader(path, DataFormat.Json);
            return reader.Read(out var row) && row.HasField(codeKey);
        }
        catch (DataFileException)
        {
            return false; // not an array of objects (or not JSON at all): source, whose check says what is wrong with it
        }
    }
}

/// <summary>The check of one source file: its path, its language, the verdict (ok, failed, unchecked) and the parser's messages.</summary>
public sealed class CodeFileCheck
{
    public CodeFileCheck(string path, CheckResult result, string language)
    {
        Path = path;
        Language = result.Language ?? language;
        Check = result.StatusText;
        Detail = result.DetailText;
    }

    /// <summary>The file's full path.</summary>
    public string Path { get; }

    /// <summary>The language it was checked as (powershell, python, bash, csharp, json...).</summary>
    public string Language { get; }

    /// <summary>ok, failed or unchecked, as the check columns of rows say.</summary>
    public string Check { get; }

    /// <summary>The parser's messages with line and column, or why the file was not checked; null when it parses.</summary>
    public string? Detail { get; }

    public override string ToString() => $"{Path}: {Check}";
}
