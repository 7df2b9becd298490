namespace CodeGen.Core.Extraction;

/// <summary>
/// Maps the many names models and users give a language (fence tags like <c>py</c>, <c>ps1</c>, <c>c++</c>)
/// to one canonical tag, so <c>-Language PowerShell</c> matches a block fenced as <c>```pwsh</c>.
/// </summary>
public static class LanguageNames
{
    /// <summary>Each language: its canonical tag, the name a prompt (and tab completion) uses, and the other tags it goes by; the most asked for first.</summary>
    private static readonly (string Tag, string Display, string[] Aliases)[] Languages =
    [
        ("powershell", "PowerShell", ["ps1", "pwsh", "ps", "posh", "psm1", "psd1"]),
        ("python", "Python", ["py", "python3", "py3", "python2", "ipython"]),
        ("bash", "Bash", ["sh", "shell", "zsh", "ksh", "shellscript", "shell-script"]),
        ("csharp", "C#", ["cs", "c#", "c-sharp", "dotnet"]),
        ("javascript", "JavaScript", ["js", "node", "nodejs", "mjs", "cjs", "jsx"]),
        ("typescript", "TypeScript", ["ts", "tsx", "mts"]),
        ("sql", "SQL", ["tsql", "t-sql", "plsql", "pl/sql", "postgresql", "postgres", "psql", "mysql", "sqlite", "mssql"]),
        ("go", "Go", ["golang"]),
        ("rust", "Rust", ["rs"]),
        ("java", "Java", []),
        ("kotlin", "Kotlin", ["kt", "kts"]),
        ("c", "C", ["h"]),
        ("cpp", "C++", ["c++", "cxx", "cc", "hpp", "hxx"]),
        ("fsharp", "F#", ["fs", "f#", "fsx"]),
        ("ruby", "Ruby", ["rb"]),
        ("php", "PHP", []),
        ("swift", "Swift", []),
        ("scala", "Scala", ["sc"]),
        ("r", "R", ["rscript", "{r}"]),
        ("perl", "Perl", ["pl", "pm"]),
        ("lua", "Lua", []),
        ("haskell", "Haskell", ["hs"]),
        ("julia", "Julia", ["jl"]),
        ("dart", "Dart", []),
        ("elixir", "Elixir", ["ex", "exs"]),
        ("vbnet", "VB.NET", ["vb", "vb.net", "visualbasic"]),
        ("objectivec", "Objective-C", ["objc", "objective-c", "obj-c"]),
        ("yaml", "YAML", ["yml"]),
        ("json", "JSON", ["jsonc", "json5"]),
        ("xml", "XML", ["xsd", "xsl", "xslt"]),
        ("html", "HTML", ["htm", "xhtml"]),
        ("css", "CSS", ["scss", "sass", "less"]),
        ("markdown", "Markdown", ["md"]),
        ("dockerfile", "Dockerfile", ["docker"]),
        ("makefile", "Makefile", ["make", "mk"]),
        ("terraform", "Terraform", ["tf", "hcl"]),
        ("batch", "Batch", ["bat", "cmd"]),
    ];

    private static readonly Dictionary<string, string> Canonical = Build();

    /// <summary>The languages by the names a prompt uses (PowerShell, Python, C#...), the most asked for first.</summary>
    public static IReadOnlyList<string> DisplayNames { get; } = Languages.Select(l => l.Display).ToArray();

    /// <summary>The canonical tag for a language name or fence tag; unknown names come back lower-cased.</summary>
    public static string Normalize(string name)
    {
        var key = name.Trim().ToLowerInvariant();
        return Canonical.TryGetValue(key, out var canonical) ? canonical : key;
    }

    /// <summary>True when two names denote the same language (<c>py</c> and <c>Python</c>, say).</summary>
    public static bool SameLanguage(string a, string b) => Normalize(a) == Normalize(b);

    private static Dictionary<string, string> Build()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (tag, _, aliases) in Languages)
        {
            map[tag] = tag;
            foreach (var alias in aliases)
            {
                map[alias] = tag;
            }
        }
        return map;
    }
}
