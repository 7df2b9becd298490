using System.Text;

namespace CodeGen.Core.Storage;

/// <summary>CSV dialect settings: the separator and the text encoding (null: UTF-8, byte order marks honoured).</summary>
public sealed record CsvSettings(char Delimiter = ',', Encoding? Encoding = null)
{
    public static readonly CsvSettings Default = new();
}
