using System.Reflection;
using System.Runtime.Loader;

namespace CodeGen.Loader;

/// <summary>
/// The module's own AssemblyLoadContext. CodeGen.dll and its dependencies (CsvHelper, Polly,
/// Microsoft.Extensions.*) load from the lib folder next to this assembly, whatever versions of them the
/// session already holds. What the folder does not have (the .NET runtime, System.Management.Automation) is
/// left to the default context, so the cmdlets share PowerShell's own types.
/// </summary>
public sealed class LoadContext : AssemblyLoadContext
{
    private static readonly object s_gate = new();
    private static LoadContext? s_instance;
    private readonly string _folder;

    private LoadContext(string folder) : base("CodeGen", isCollectible: false) => _folder = folder;

    /// <summary>Creates the context once per process and returns the cmdlet assembly, loaded in it.</summary>
    public static Assembly Initialize()
    {
        lock (s_gate)
        {
            s_instance ??= new LoadContext(Path.Combine(Path.GetDirectoryName(typeof(LoadContext).Assembly.Location)!, "lib"));
            return s_instance.LoadFromAssemblyName(new AssemblyName("CodeGen"));
        }
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        // PowerShell's engine must be the one the session runs, never a copy: the cmdlets derive from its types.
        if (string.Equals(assemblyName.Name, "System.Management.Automation", StringComparison.Ordinal))
        {
            return null;
        }
        string path = Path.Combine(_folder, assemblyName.Name + ".dll");
        if (!File.Exists(path) || IsProvidedByRuntime(path))
        {
            return null;
        }
        return LoadFromAssemblyPath(path);
    }

    /// <summary>
    /// A library that is part of the .NET runtime the session runs on (System.Text.Json, System.Diagnostics.DiagnosticSource,
    /// System.Collections.Immutable on .NET 10) in the same or a newer version than the copy in lib: the runtime's own copy
    /// is used, as the .NET host does for an application. It is the same code, precompiled (ReadyToRun), where the copy
    /// from the NuGet package would be compiled method by method as the run first calls it. On an older runtime (pwsh 7.4
    /// on .NET 8) the copy in lib is newer and loads here. Only the framework's System.* libraries count: an installed
    /// PowerShell is self-contained, so the runtime's folder is $PSHOME, which also holds PowerShell's own libraries (its
    /// Microsoft.Extensions.ObjectPool, Roslyn...), and those never stand in for CodeGen's.
    /// </summary>
    private static bool IsProvidedByRuntime(string path)
    {
        if (!Path.GetFileName(path).StartsWith("System.", StringComparison.Ordinal))
        {
            return false;
        }
        string runtime = Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, Path.GetFileName(path));
        if (!File.Exists(runtime))
        {
            return false;
        }
        try
        {
            return AssemblyName.GetAssemblyName(runtime).Version >= AssemblyName.GetAssemblyName(path).Version;
        }
        catch (Exception ex) when (ex is IOException or BadImageFormatException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
