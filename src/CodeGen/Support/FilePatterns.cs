using System.Collections.ObjectModel;
using System.Management.Automation;

namespace CodeGen.Commands.Support;

/// <summary>
/// The files a -Path pattern names, as PowerShell's own -Path parameters expand them: wildcards match files (in name
/// order; folders are left out), a name that holds wildcard characters but exists as written is taken as written, and
/// a path without wildcards is taken as given (whether it exists is for the caller to find out).
/// </summary>
internal static class FilePatterns
{
    /// <param name="wildcard">True when the pattern was expanded as wildcards (an empty list then means it matched no file).</param>
    public static List<string> Expand(PSCmdlet cmdlet, string pattern, out bool wildcard)
    {
        string literal = cmdlet.GetUnresolvedProviderPathFromPSPath(pattern);
        if (!WildcardPattern.ContainsWildcardCharacters(pattern) || File.Exists(literal))
        {
            wildcard = false;
            return [literal];
        }
        wildcard = true;
        Collection<string> matched;
        try
        {
            matched = cmdlet.GetResolvedProviderPathFromPSPath(pattern, out _);
        }
        catch (ItemNotFoundException)
        {
            matched = [];
        }
        return matched.Where(File.Exists).Order(StringComparer.Ordinal).ToList();
    }
}
