namespace CodeGen.Core.Storage;

/// <summary>Another process holds the file (its lock, which this process cannot take now).</summary>
public sealed class FileInUseException(string path) : IOException($"{path} is in use by another process.")
{
    public string Path { get; } = path;
}
