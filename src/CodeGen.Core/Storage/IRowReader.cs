using System.Diagnostics.CodeAnalysis;

namespace CodeGen.Core.Storage;

/// <summary>Streams the rows of a data file, one at a time, never holding the whole file.</summary>
public interface IRowReader : IDisposable
{
    string Path { get; }

    /// <summary>The header of a CSV file; null for JSON, where each row has its own fields.</summary>
    IReadOnlyList<string>? Columns { get; }

    /// <summary>Reads the next row, or returns false at the end. Throws <see cref="DataFileException"/> (file, line, column) for a malformed record.</summary>
    bool Read([NotNullWhen(true)] out DataRow? row);

    /// <summary>Bytes of the file read so far and its length, for progress.</summary>
    long Position { get; }

    long Length { get; }
}
