using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using CodeGen.Core.Llm;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Batch;

/// <summary>One request file of a batch job and the provider batch that runs it.</summary>
public sealed class BatchPart
{
    public int Part { get; set; }

    /// <summary>The request file, relative to the job's folder.</summary>
    public string RequestFile { get; set; } = string.Empty;

    public string Sha256 { get; set; } = string.Empty;
    public long Requests { get; set; }
    public long FirstRow { get; set; }
    public long LastRow { get; set; }
    public string? FileId { get; set; }

    /// <summary>A create request was sent (maybe without an answer): look for the batch before creating another.</summary>
    public bool CreateAttempted { get; set; }

    /// <summary>When the create request was sent (a batch without metadata is found by its time).</summary>
    public DateTimeOffset? CreateAttemptedAt { get; set; }

    public string? BatchId { get; set; }
    public string Status { get; set; } = BatchStatus.NotSubmitted;
    public long Total { get; set; }
    public long Completed { get; set; }
    public long Failed { get; set; }
    public string? OutputFileId { get; set; }
    public string? ErrorFileId { get; set; }
    public string? Errors { get; set; }

    /// <summary>The provider has results to download (see <see cref="BatchInfo.ResultsAvailable"/>).</summary>
    public bool ResultsAvailable { get; set; }

    public bool Downloaded { get; set; }

    [JsonIgnore]
    public bool IsFinished => BatchStatus.IsTerminal(Status);

    internal void Update(BatchInfo info)
    {
        BatchId = info.Id;
        Status = info.Status;
        Total = info.Total == 0 ? Requests : info.Total;
        Completed = info.Completed;
        Failed = info.Failed;
        OutputFileId = info.OutputFileId ?? OutputFileId;
        ErrorFileId = info.ErrorFileId ?? ErrorFileId;
        Errors = info.Errors ?? Errors;
        ResultsAvailable |= info.ResultsAvailable;
    }
}

/// <summary>
/// A batch job as saved next to its output (<c>&lt;output&gt;.batch/state.json</c>): the request files, the
/// provider's file and batch ids, how far each batch got. It is what lets a second invocation poll the same
/// batches instead of paying for new ones.
/// </summary>
public sealed partial class BatchJobState
{
    public const string StateFileName = "state.json";
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(allowIntegerValues: false) },
    };

    public int Version { get; set; } = 1;
    public string JobId { get; set; } = string.Empty;
    public string InputPath { get; set; } = string.Empty;
    public string OutputPath { get; set; } = string.Empty;

    /// <summary>The request URL of the endpoint the batches were created at (no credentials).</summary>
    public string Endpoint { get; set; } = string.Empty;

    /// <summary>The API the requests are written for (a state from before there were several is chat completions').</summary>
    public LlmApi Api { get; set; } = LlmApi.ChatCompletions;

    public string Model { get; set; } = string.Empty;
    public DateTimeOffset CreatedAt { get; set; }
    public long Rows { get; set; }

    /// <summary>The split limits the request files were written with (a check of the input re-exports with the same).</summary>
    public long MaxRequestsPerFile { get; set; }

    public long MaxBytesPerFile { get; set; }

    public bool MergeStarted { get; set; }
    public bool Merged { get; set; }
    public List<BatchPart> Parts { get; set; } = [];

    /// <summary>The job's folder: <c>&lt;output&gt;.batch</c>.</summary>
    [JsonIgnore]
    public string Directory { get; private set; } = string.Empty;

    /// <summary>not_submitted, submitted, in_progress, finished (every batch is done, results not merged yet), merged.</summary>
    [JsonIgnore]
    public string Status => Merged ? BatchStatus.Merged
        : Parts.Count == 0 ? BatchStatus.Finished
        : Parts.All(p => p.IsFinished) ? BatchStatus.Finished
        : Parts.All(p => p.BatchId is null) ? BatchStatus.NotSubmitted
        : Parts.Any(p => p.Status is BatchStatus.InProgress or BatchStatus.Finalizing) ? BatchStatus.InProgress : BatchStatus.Submitted;

    [JsonIgnore]
    public long Requests => Parts.Sum(p => p.Requests);

    [JsonIgnore]
    public long Completed => Parts.Sum(p => p.Completed);

    [JsonIgnore]
    public long Failed => Parts.Sum(p => p.Failed);

    [JsonIgnore]
    public IReadOnlyList<string> BatchIds => Parts.Where(p => p.BatchId is not null).Select(p => p.BatchId!).ToList();

    /// <summary>The most a state file is read: a job of 50,000 parts writes a few MB.</summary>
    private const int MaxStateBytes = 64 * 1024 * 1024;

    public static string DirectoryFor(string outputPath) => Path.GetFullPath(outputPath) + ".batch";

    /// <summary>The saved state of the job writing <paramref name="outputPath"/>, or null when there is none.</summary>
    /// <exception cref="DataFileException">The state file is not readable JSON.</exception>
    /// <param name="check">False only to find what a restart replaces: nothing of the state is used but its batch ids, for a notice.</param>
    public static BatchJobState? Load(string outputPath, bool check = true)
    {
        string directory = DirectoryFor(outputPath);
        string path = Path.Combine(directory, StateFileName);
        if (!SideFile.Exists(directory))
        {
            return null;
        }
        SideFile.EnsureFolder(directory); // a link planted as the folder is refused, not followed
        AtomicFile.RemoveLeftovers(path); // a save a kill cut short
        if (SideFile.ReadAllBytes(path, MaxStateBytes, $"is larger than {MaxStateBytes / (1024 * 1024)} MB, so it is not a batch job state CodeGen wrote.") is not { } content)
        {
            return null;
        }
        try
        {
            var state = JsonSerializer.Deserialize<BatchJobState>(content, JsonOptions)
                ?? throw new DataFileException(path, 1, "is empty.");
            state.Directory = directory;
            if (check)
            {
                state.CheckPaths(path, Path.GetFullPath(outputPath));
            }
            return state;
        }
        catch (JsonException ex)
        {
            throw new DataFileException(path, (ex.LineNumber ?? 0) + 1, "is not a batch job state: " + ex.Message, (ex.BytePositionInLine ?? 0) + 1, ex);
        }
    }

    internal static BatchJobState Create(string outputPath, string input, string endpoint, LlmApi api, string model, TimeProvider time)
    {
        var state = new BatchJobState
        {
            JobId = Guid.NewGuid().ToString("N"),
            InputPath = input,
            OutputPath = Path.GetFullPath(outputPath),
            Endpoint = endpoint,
            Api = api,
            Model = model,
            CreatedAt = time.GetUtcNow(),
            Directory = DirectoryFor(outputPath),
        };
        // no state in it, so nothing was sent: whatever a crash (or anyone) left there goes
        SideFile.DeleteFolder(state.Directory);
        SideFile.EnsureFolder(state.Directory);
        return state;
    }

    /// <summary>Writes the state atomically and durably (a temporary file, synced to the disk, renamed over the old one).</summary>
    public void Save()
    {
        string path = Path.Combine(Directory, StateFileName);
        // what the job has done (ids of batches paid for) is remembered before it goes on: a failure stops it (OutputWriteFailed)
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, this, JsonOptions), flushToDisk: true);
    }

    internal string PathOf(string relative) => Path.Combine(Directory, relative);

    /// <summary>
    /// A state file is read, not trusted: the output it writes is the one the command names (the folder says
    /// which), its request files are plain names inside the job folder (and are uploaded only with the hash they
    /// were written with), and the provider's ids in it are ids. What else would a tampered file make a run
    /// delete, overwrite or upload?
    /// </summary>
    private void CheckPaths(string stateFile, string outputPath)
    {
        // the job's output is the one the command names (its folder says so), whatever the file says: a job
        // folder moved with its project still works, and a tampered one writes no other file
        OutputPath = outputPath;
        string folder = FileIdentity.RealPath(Directory) + Path.DirectorySeparatorChar;
        foreach (var part in Parts)
        {
            if (!RequestFileName().IsMatch(part.RequestFile)
                || !FileIdentity.RealPath(PathOf(part.RequestFile)).StartsWith(folder, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
            {
                throw new DataFileException(stateFile, 0, $"names the request file '{part.RequestFile}', which is not one CodeGen writes in {Directory}; it is not uploaded.",
                    errorId: DataFileException.MalformedDataFile);
            }
            foreach (var (id, what) in new[] { (part.BatchId, "batch id"), (part.FileId, "file id"), (part.OutputFileId, "file id"), (part.ErrorFileId, "file id") })
            {
                if (id is not null && !ProviderId.IsSafe(id))
                {
                    throw new DataFileException(stateFile, 0, $"holds a {what} '{id}' that is not a plain id; it is not used as a file name.",
                        errorId: DataFileException.MalformedDataFile);
                }
            }
        }
    }

    /// <summary>requests.jsonl, requests.2.jsonl...: the names <see cref="BatchRequestExporter"/> gives.</summary>
    [GeneratedRegex(@"^requests(\.[0-9]{1,9})?\.jsonl$", RegexOptions.CultureInvariant)]
    private static partial Regex RequestFileName();
}
