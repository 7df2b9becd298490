namespace CodeGen.Core.Storage;

/// <summary>The file formats rows are read from and written to.</summary>
public enum DataFormat
{
    /// <summary>RFC 4180 CSV with a header row.</summary>
    Csv,
    /// <summary>One JSON array of objects.</summary>
    Json,
    /// <summary>One JSON object per line (JSONL / NDJSON).</summary>
    JsonLines,
}

public static class DataFormats
{
    /// <summary>
    /// Every format and the names users write for it, its own name (and extension) first. The one list of them: the
    /// parameters that take a format validate and complete against it, and <see cref="Parse"/>, <see cref="FromExtension"/>
    /// and <see cref="Extension"/> read it.
    /// </summary>
    private static readonly (DataFormat Format, string[] Names)[] Known =
    [
        (DataFormat.Csv, ["csv"]),
        (DataFormat.Json, ["json"]),
        (DataFormat.JsonLines, ["jsonl", "ndjson"]),
    ];

    /// <summary>Every name a format parameter takes: csv, json, jsonl, ndjson.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Known.SelectMany(known => known.Names)];

    /// <summary>Each format's own name: csv, json, jsonl.</summary>
    public static IReadOnlyList<string> OwnNames { get; } = [.. Known.Select(known => known.Names[0])];

    /// <summary>The own names as a sentence lists them: "csv, json and jsonl" (or "or").</summary>
    private static string Listed(string conjunction) => string.Join(", ", OwnNames.Take(OwnNames.Count - 1)) + $" {conjunction} " + OwnNames[^1];

    /// <summary>The format an extension implies: .csv, .json, .jsonl or .ndjson; null for anything else.</summary>
    public static DataFormat? FromExtension(string path)
    {
        string extension = System.IO.Path.GetExtension(path);
        return extension.Length > 1 ? Named(extension[1..]) : null;
    }

    /// <summary>Parses a format name as users write it: csv, json, jsonl, ndjson (any case), or the format's own name (JsonLines).</summary>
    public static DataFormat Parse(string name)
    {
        string trimmed = name.Trim();
        return Named(trimmed)
            ?? Enum.GetValues<DataFormat>().Cast<DataFormat?>().FirstOrDefault(format => format.ToString()!.Equals(trimmed, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"Unknown format '{name}'. Use {Listed("or")}.", nameof(name));
    }

    private static DataFormat? Named(string name)
    {
        foreach (var (format, names) in Known)
        {
            if (names.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                return format;
            }
        }
        return null;
    }

    /// <summary>The explicit format if given, else the one the extension implies; an error naming the file otherwise.</summary>
    public static DataFormat Resolve(string path, DataFormat? explicitFormat)
        => explicitFormat ?? FromExtension(path)
           ?? throw new DataFileException(path, 0, $"cannot tell the format from the extension '{System.IO.Path.GetExtension(path)}' ({Listed("and")} are known).",
               errorId: DataFileException.UnknownDataFormat);

    /// <summary>The extension of a file in <paramref name="format"/>: .csv, .json, .jsonl.</summary>
    public static string Extension(DataFormat format)
    {
        foreach (var (known, names) in Known)
        {
            if (known == format)
            {
                return "." + names[0];
            }
        }
        throw Unknown(format);
    }

    /// <summary>The exception for a format a switch does not know: a format added to the enum and forgotten there.</summary>
    internal static ArgumentOutOfRangeException Unknown(DataFormat format) => new(nameof(format), format, "Not a known data format.");
}
