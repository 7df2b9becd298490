namespace CodeGen.Core.Extraction;

/// <summary>
/// Maps the many names models and users give a language (fence tags like <c>py</c>, <c>ps1</c>, <c>c++</c>)
/// to one canonical tag, so <c>-Language PowerShell</c> matches a block fenced as <c>```pwsh</c>.
/// </summary>
public static class LanguageNames
{
    private static readonly Dictionary<string, string> Canonical = Build(
        ("python", ["py", "python3", "py3", "python2", "ipython"]),
        ("powershell", ["ps1", "pwsh", "ps", "posh", "psm1", "psd1"]),
        ("bash", ["sh", "shell", "zsh", "ksh", "shellscript", "shell-script"]),
        ("javascript", ["js", "node", "nodejs", "mjs", "cjs", "jsx"]),
        ("typescript", ["ts", "tsx", "mts"]),
        ("csharp", ["cs", "c#", "c-sharp", "dotnet"]),
        ("fsharp", ["fs", "f#", "fsx"]),
        ("vbnet", ["vb", "vb.net", "visualbasic"]),
        ("cpp", ["c++", "cxx", "cc", "hpp", "hxx"]),
        ("c", ["h"]),
        ("objectivec", ["objc", "objective-c", "obj-c"]),
        ("go", ["golang"]),
        ("rust", ["rs"]),
        ("ruby", ["rb"]),
        ("kotlin", ["kt", "kts"]),
        ("java", []),
        ("scala", ["sc"]),
        ("swift", []),
        ("php", []),
        ("perl", ["pl", "pm"]),
        ("lua", []),
        ("r", ["rscript", "{r}"]),
        ("haskell", ["hs"]),
        ("julia", ["jl"]),
        ("dart", []),
        ("elixir", ["ex", "exs"]),
        ("sql", ["tsql", "t-sql", "plsql", "pl/sql", "postgresql", "postgres", "psql", "mysql", "sqlite", "mssql"]),
        ("yaml", ["yml"]),
        ("json", ["jsonc", "json5"]),
        ("xml", ["xsd", "xsl", "xslt"]),
        ("html", ["htm", "xhtml"]),
        ("css", ["scss", "sass", "less"]),
        ("markdown", ["md"]),
        ("dockerfile", ["docker"]),
        ("makefile", ["make", "mk"]),
        ("batch", ["bat", "cmd"]),
        ("terraform", ["tf", "hcl"]));

    /// <summary>The canonical tag for a language name or fence tag; unknown names come back lower-cased.</summary>
    public static string Normalize(string name)
    {
        var key = name.Trim().ToLowerInvariant();
        return Canonical.TryGetValue(key, out var canonical) ? canonical : key;
    }

    /// <summary>True when two names denote the same language (<c>py</c> and <c>Python</c>, say).</summary>
    public static bool SameLanguage(string a, string b) => Normalize(a) == Normalize(b);

    private static Dictionary<string, string> Build(params (string Name, string[] Aliases)[] languages)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, aliases) in languages)
        {
            map[name] = name;
            foreach (var alias in aliases)
            {
                map[alias] = name;
            }
        }
        return map;
    }
}
