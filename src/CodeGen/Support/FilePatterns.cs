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
    /// <summary>
    /// The files of every pattern of a -Path parameter, pattern after pattern (see <see cref="Expand"/>), each expanded when
    /// the one before has been gone through. A wildcard that matches no file is a non-terminating error, and the next pattern
    /// goes on.
    /// </summary>
    public static IEnumerable<string> ExpandEach(CancellableCmdlet cmdlet, IEnumerable<string> patterns, string parameter)
    {
        foreach (string pattern in patterns)
        {
            var files = Expand(cmdlet, pattern, out bool wildcard);
            if (wildcard && files.Count == 0)
            {
                cmdlet.WriteError(ErrorRecords.NoFileMatches(parameter, pattern));
            }
            foreach (string file in files)
            {
                yield return file;
            }
        }
    }

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
