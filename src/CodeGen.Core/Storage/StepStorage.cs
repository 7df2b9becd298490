namespace CodeGen.Core.Storage;

/// <summary>
/// DataFlow-style step storage: step 0 reads the first entry file; every operator run reads the current step
/// and writes <c>&lt;prefix&gt;_step&lt;n+1&gt;.&lt;type&gt;</c> in the cache folder, then the storage moves on a step,
/// so operators chain. A run that did not finish leaves the step where it was, so it can be resumed.
/// </summary>
public sealed class StepStorage
{
    public StepStorage(string firstEntryPath, string cachePath, string fileNamePrefix, DataFormat cacheType)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(firstEntryPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(cachePath);
        ArgumentException.ThrowIfNullOrWhiteSpace(fileNamePrefix);
        if (fileNamePrefix.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
        {
            throw new ArgumentException($"The file name prefix '{fileNamePrefix}' has characters a file name cannot have.", nameof(fileNamePrefix));
        }
        FirstEntryPath = Path.GetFullPath(firstEntryPath);
        CachePath = Path.GetFullPath(cachePath);
        FileNamePrefix = fileNamePrefix;
        CacheType = cacheType;
    }

    public string FirstEntryPath { get; }

    public string CachePath { get; }

    public string FileNamePrefix { get; }

    public DataFormat CacheType { get; }

    /// <summary>The step whose file the next operator reads (0: the first entry file).</summary>
    public int Step { get; private set; }

    /// <summary>What the next operator reads.</summary>
    public string InputPath => Step == 0 ? FirstEntryPath : StepPath(Step);

    /// <summary>The format of what the next operator reads: its extension's, else the storage's type.</summary>
    public DataFormat InputFormat => DataFormats.FromExtension(InputPath) ?? CacheType;

    /// <summary>What the next operator writes.</summary>
    public string OutputPath => StepPath(Step + 1);

    public string StepPath(int step) => Path.Combine(CachePath, $"{FileNamePrefix}_step{step}{DataFormats.Extension(CacheType)}");

    /// <summary>Moves to the next step (after an operator has written <see cref="OutputPath"/>).</summary>
    public void Advance()
    {
        if (!File.Exists(OutputPath))
        {
            throw new InvalidOperationException($"Step {Step + 1} has not been written yet ({OutputPath} does not exist).");
        }
        Step++;
    }

    public override string ToString() => $"step {Step}: {InputPath} -> {OutputPath}";
}
