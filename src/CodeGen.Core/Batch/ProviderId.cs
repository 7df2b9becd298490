using System.Text.RegularExpressions;
using CodeGen.Core.Llm;

namespace CodeGen.Core.Batch;

/// <summary>
/// Ids a provider gives (batch ids, file ids) as CodeGen lets them into file names and saved state: letters,
/// digits, '_', '-' and '.', starting with a letter or digit, at most 200 characters, and no device name of
/// Windows. Anything else (<c>../../pwned</c>, a drive, a separator) is refused, never used as a path.
/// </summary>
public static partial class ProviderId
{
    /// <summary>True when <paramref name="id"/> can be part of a file name as it is.</summary>
    public static bool IsSafe(string? id) => id is not null && SafeShape().IsMatch(id) && !WindowsDevice().IsMatch(id);

    /// <summary>The id, when it is safe.</summary>
    /// <exception cref="ApiCallException">It is not: the server's answer cannot be used.</exception>
    public static string Checked(string id, string what)
        => IsSafe(id) ? id : throw new ApiCallException(ApiCallException.BatchApiFailed, $"The server gave a {what} '{Shown(id)}' that is not a plain id (letters, digits, '_', '-', '.'): CodeGen does not use it.");

    /// <summary>The id, or null, when it is safe or null.</summary>
    public static string? CheckedOrNull(string? id, string what) => id is null ? null : Checked(id, what);

    private static string Shown(string id) => id.Length > 80 ? id[..80] + "…" : id;

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$", RegexOptions.CultureInvariant)]
    private static partial Regex SafeShape();

    [GeneratedRegex(@"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex WindowsDevice();
}
