using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CodeGen.Core.Batch;

/// <summary>
/// The custom_id of a batch request: <c>row-&lt;n&gt;-&lt;hash&gt;</c>, the 1-based input row and the first 8 hex
/// digits of the SHA-256 of its instruction. Stable (the same input gives the same ids), it maps a result back
/// to its row, and it tells when the input changed between export and import.
/// </summary>
public static class BatchCustomId
{
    public static string For(long rowNumber, string? instruction)
        => string.Create(CultureInfo.InvariantCulture, $"row-{rowNumber}-{HashValue(instruction):x8}");

    /// <summary>The first 4 bytes of the SHA-256 of the instruction's UTF-8 text, as a number.</summary>
    public static uint HashValue(string? instruction)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(instruction ?? string.Empty), digest);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(digest);
    }

    public static bool TryParse(string? customId, out long rowNumber, out string hash)
    {
        rowNumber = 0;
        hash = string.Empty;
        if (customId is null || !customId.StartsWith("row-", StringComparison.Ordinal))
        {
            return false;
        }
        int dash = customId.IndexOf('-', 4);
        if (dash < 0 || !long.TryParse(customId.AsSpan(4, dash - 4), NumberStyles.None, CultureInfo.InvariantCulture, out rowNumber))
        {
            return false;
        }
        hash = customId[(dash + 1)..];
        return true;
    }
}
