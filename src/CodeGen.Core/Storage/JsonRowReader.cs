using System.Diagnostics.CodeAnalysis;

namespace CodeGen.Core.Storage;

/// <summary>
/// What the JSON readers (<see cref="JsonLinesRowReader"/>, <see cref="JsonArrayRowReader"/>) share: the file's bytes
/// through a <see cref="ByteWindow"/> (its byte order mark skipped), its progress, and no header (each row has its own fields).
/// </summary>
internal abstract class JsonRowReader : IRowReader
{
    protected JsonRowReader(string path, bool sideFile)
    {
        Path = path;
        Window = new ByteWindow(RowFiles.OpenRead(path, sideFile));
        Window.SkipByteOrderMark();
    }

    /// <summary>The bytes of the file, read as the rows need them.</summary>
    protected ByteWindow Window { get; }

    public string Path { get; }

    public IReadOnlyList<string>? Columns => null;

    public long Position => Window.StreamPosition;

    public long Length => Window.StreamLength;

    public abstract bool Read([NotNullWhen(true)] out DataRow? row);

    public void Dispose() => Window.Dispose();
}
