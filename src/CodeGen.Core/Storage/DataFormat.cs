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
    /// <summary>The format an extension implies: .csv, .json, .jsonl or .ndjson; null for anything else.</summary>
    public static DataFormat? FromExtension(string path) => System.IO.Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".csv" => DataFormat.Csv,
        ".json" => DataFormat.Json,
        ".jsonl" or ".ndjson" => DataFormat.JsonLines,
        _ => null,
    };

    /// <summary>Parses a format name as users write it: csv, json, jsonl, ndjson (any case).</summary>
    public static DataFormat Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "csv" => DataFormat.Csv,
        "json" => DataFormat.Json,
        "jsonl" or "ndjson" or "jsonlines" => DataFormat.JsonLines,
        _ => throw new ArgumentException($"Unknown format '{name}'. Use csv, json or jsonl.", nameof(name)),
    };

    /// <summary>The explicit format if given, else the one the extension implies; an error naming the file otherwise.</summary>
    public static DataFormat Resolve(string path, DataFormat? explicitFormat)
        => explicitFormat ?? FromExtension(path)
           ?? throw new DataFileException(path, 0, $"cannot tell the format from the extension '{System.IO.Path.GetExtension(path)}' (csv, json and jsonl are known).",
               errorId: DataFileException.UnknownDataFormat);

    public static string Extension(DataFormat format) => format switch
    {
        DataFormat.Csv => ".csv",
        DataFormat.Json => ".json",
        _ => ".jsonl",
    };
}
