using System.Text;
using CsvHelper;

namespace CodeGen.Core.Storage;

/// <summary>
/// Writes RFC 4180 CSV with CsvHelper under a fixed header. Fields are taken from each row by column name
/// (JSON values as their JSON text); fields a row has outside the header are not written, as with Export-Csv.
/// </summary>
internal sealed class CsvRowWriter : IRowWriter
{
    private readonly CsvWriter _csv;
    private readonly string[] _columns;
    private readonly int[] _map;
    private string[]? _mappedNames;
    private int _mappedCount;

    public CsvRowWriter(Stream stream, IReadOnlyList<string> columns, CsvSettings settings, bool writeHeader)
    {
        _columns = columns.ToArray();
        _map = new int[_columns.Length];
        if (!writeHeader)
        {
            RowFiles.SeekToEndOnNewLine(stream);
        }
        var encoding = settings.Encoding ?? new UTF8Encoding(false);
        var options = CsvWriterOptions.Default with
        {
            Separator = settings.Delimiter,
            WriteByteOrderMark = writeHeader && encoding is UTF8Encoding && encoding.GetPreamble().Length > 0,
        };
        _csv = encoding is UTF8Encoding
            ? CsvWriter.Create(stream, options, leaveOpen: false)
            : CsvWriter.Create(new StreamWriter(stream, encoding, RowFiles.BufferSize, leaveOpen: false), options, leaveOpen: false);
        if (writeHeader && _columns.Length > 0)
        {
            _csv.WriteHeader(_columns);
        }
    }

    public void Write(DataRow row)
    {
        if (!ReferenceEquals(row.Names, _mappedNames) || row.Count != _mappedCount)
        {
            // Rows of one file usually share their names array: map the columns once per distinct array.
            _mappedNames = row.Names;
            _mappedCount = row.Count;
            for (int c = 0; c < _columns.Length; c++)
            {
                _map[c] = row.IndexOf(_columns[c]);
            }
        }
        for (int c = 0; c < _columns.Length; c++)
        {
            _csv.WriteField(_map[c] < 0 ? null : row.ValueAt(_map[c]) switch
            {
                null => null,
                string s => s,
                JsonText json => json.Json,
                var other => other.ToString(),
            });
        }
        _csv.EndRecord();
    }

    public void Flush() => _csv.Flush();

    public void Dispose() => _csv.Dispose();
}
