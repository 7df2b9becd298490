using System.Diagnostics.CodeAnalysis;
using CsvHelper;

namespace CodeGen.Core.Storage;

/// <summary>
/// Reads RFC 4180 CSV with CsvHelper: quoted fields with separators, quotes and line breaks, any encoding (UTF-8
/// by default, byte order marks honoured). Malformed quoting and records with more fields than the header are
/// errors naming the line; a record with fewer fields reads the missing ones as empty, as Import-Csv does.
/// </summary>
internal sealed class CsvRowReader : IRowReader
{
    private readonly FileStream _stream;
    private readonly CsvReader _csv;
    private readonly string[] _header;
    private readonly NameIndex? _index;

    public CsvRowReader(string path, CsvSettings settings, bool sideFile = false)
    {
        Path = path;
        _stream = RowFiles.OpenRead(path, sideFile);
        var options = settings.ReaderOptions(CsvMalformedDataHandling.Throw) with { SkipEmptyLines = true };
        _csv = CsvReader.Create(_stream, options, leaveOpen: false);
        try
        {
            _header = _csv.Headers.ToArray();
        }
        catch (CsvFormatException ex)
        {
            _csv.Dispose();
            throw new DataFileException(path, ex.LineNumber, "the header is malformed: " + ex.Message, inner: ex);
        }
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < _header.Length; i++)
        {
            if (!seen.Add(_header[i]))
            {
                _csv.Dispose();
                throw new DataFileException(path, 1, $"the header names the column '{_header[i]}' twice.");
            }
        }
        // one index for all the rows of a wide file; a narrow header is scanned faster than hashed
        _index = _header.Length > NameIndex.ScanLimit ? NameIndex.For(_header) : null;
    }

    public string Path { get; }

    public IReadOnlyList<string>? Columns => _header;

    public long Position => _stream.CanSeek ? _stream.Position : 0;

    public long Length => _stream.CanSeek ? _stream.Length : 0;

    public bool Read([NotNullWhen(true)] out DataRow? row)
    {
        try
        {
            if (!_csv.Read())
            {
                row = null;
                return false;
            }
        }
        catch (CsvFormatException ex)
        {
            throw new DataFileException(Path, ex.LineNumber, ex.Message, inner: ex);
        }
        int count = _csv.FieldCount;
        if (count > _header.Length)
        {
            throw new DataFileException(Path, _csv.LineNumber, $"the record has {count} fields but the header has {_header.Length}.");
        }
        var values = new object?[_header.Length];
        for (int i = 0; i < count; i++)
        {
            values[i] = _csv.GetString(i) ?? string.Empty;
        }
        for (int i = count; i < values.Length; i++)
        {
            values[i] = string.Empty;
        }
        row = new DataRow(_header, values, _header.Length, _csv.LineNumber, index: _index);
        return true;
    }

    public void Dispose() => _csv.Dispose();
}
