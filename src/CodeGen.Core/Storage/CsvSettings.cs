using System.Text;
using CsvHelper;

namespace CodeGen.Core.Storage;

/// <summary>CSV dialect settings: the separator and the text encoding (null: UTF-8, byte order marks honoured).</summary>
public sealed record CsvSettings(char Delimiter = ',', Encoding? Encoding = null)
{
    public static readonly CsvSettings Default = new();

    /// <summary>
    /// How CodeGen reads CSV of this dialect: line numbers tracked, a record with fewer or more fields than the header
    /// passed on (the reader decides), and a malformed record handled as <paramref name="malformed"/> says.
    /// </summary>
    internal CsvReaderOptions ReaderOptions(CsvMalformedDataHandling malformed) => CsvReaderOptions.Default with
    {
        Separator = Delimiter,
        Encoding = Encoding,
        TrackLineNumbers = true,
        MalformedData = malformed,
        FieldCountMismatch = CsvFieldCountHandling.Allow,
    };
}
