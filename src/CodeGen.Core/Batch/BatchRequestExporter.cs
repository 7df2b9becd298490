using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Storage;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;

namespace CodeGen.Core.Batch;

/// <summary>
/// Whom batch request lines are for: the provider and API (which shape each line has, and the url it carries:
/// /v1/chat/completions for OpenAI and vLLM, /chat/completions for Azure OpenAI, /v1/responses), the model each names,
/// and how the server wants the body's fields named.
/// </summary>
/// <param name="ApiVersion">The version of the API the requests are for (Anthropic's), which decides what a body may carry.</param>
public sealed record BatchTarget(string Model, LlmProvider Provider, WireApi Api, WireRules Rules, string? ApiVersion = null)
{
    /// <summary>The target for a provider, API and model; <paramref name="requestUri"/> (null: the provider's own API) picks the field names.</summary>
    public static BatchTarget For(LlmProvider provider, LlmApi api, string model, Uri? requestUri, string? apiVersion = null)
    {
        var wire = WireApi.For(api);
        return new(model, provider, wire, wire.InitialRules(provider, requestUri), apiVersion);
    }
}

/// <summary>One file of batch requests written by <see cref="BatchRequestExporter"/>.</summary>
/// <param name="Sha256">Lower-case hex SHA-256 of the file's bytes: two exports of the same rows and options give the same.</param>
public sealed record BatchRequestFile(string Path, long Requests, long Bytes, long FirstRow, long LastRow, string Sha256 = "");

/// <summary>
/// Writes rows as batch request lines in their API's shape (<see cref="WireApi.WriteBatchLine"/>: OpenAI's
/// <c>custom_id</c>, <c>method</c>, <c>url</c>, <c>body</c>, or a Message Batch's <c>custom_id</c>, <c>params</c>), the body
/// being exactly what live mode sends. Starts a new file when one reaches the request or size limit: <c>name.jsonl</c>,
/// then <c>name.2.jsonl</c>, <c>name.3.jsonl</c>...
/// </summary>
public sealed class BatchRequestExporter : IDisposable
{
    private readonly string _path;
    private readonly BatchTarget _target;
    private readonly GenerationOptions _options;
    private readonly long _maxRequests;
    private readonly long _maxBytes;
    private readonly Prompting.PromptBuilder _prompts;
    private readonly System.Buffers.ArrayBufferWriter<byte> _line = new(4096);
    private readonly List<BatchRequestFile> _files = [];
    private readonly bool _hashOnly;
    private readonly bool _besideOutput;
    private readonly System.Security.Cryptography.IncrementalHash _hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
    private Stream? _stream;
    private long _requests, _bytes, _firstRow, _lastRow, _rowNumber;

    /// <param name="hashOnly">Write nothing: only count and hash what would be written (to tell whether an input changed).</param>
    /// <param name="besideOutput">The files go in a batch job's folder beside its output: created as new <see cref="SideFile"/>s (the folder exists).</param>
    /// <exception cref="RequestParameterException">The parameters cannot be sent on the target's API.</exception>
    public BatchRequestExporter(string path, BatchTarget target, GenerationOptions options, long maxRequestsPerFile = 50_000, long maxBytesPerFile = 200L * 1024 * 1024,
        bool hashOnly = false, bool besideOutput = false)
    {
        _besideOutput = besideOutput;
        options.Validate();
        target.Api.Check(options.Parameters, target.ApiVersion);
        _hashOnly = hashOnly;
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRequestsPerFile, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytesPerFile, 1024);
        _path = Path.GetFullPath(path);
        _target = target;
        _options = options;
        _maxRequests = maxRequestsPerFile;
        _maxBytes = maxBytesPerFile;
        _prompts = new Prompting.PromptBuilder(options.InputKey, options.OutputKey, options.Overwrite, options.Template, options.SystemPrompt, options.Language);
    }

    /// <summary>Writes the next row's request; returns the row error instead when the row cannot be sent.</summary>
    public RowError? Add(IRowFields row)
    {
        long rowNumber = ++_rowNumber;
        var prompt = _prompts.Build(row, rowNumber);
        if (!prompt.IsSendable)
        {
            return prompt.Error;
        }

        _line.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(_line))
        {
            _target.Api.WriteBatchLine(writer, BatchCustomId.For(rowNumber, prompt.Instruction), _target.Provider, _target.Model, prompt.Messages!, _options.Parameters, _target.Rules);
        }
        _line.GetSpan(1)[0] = (byte)'\n';
        _line.Advance(1);

        if (_stream is not null && (_requests >= _maxRequests || _bytes + _line.WrittenCount > _maxBytes))
        {
            CloseFile();
        }
        if (_stream is null)
        {
            string path = _files.Count == 0 ? _path : Path.ChangeExtension(_path, null) + $".{_files.Count + 1}" + Path.GetExtension(_path);
            if (!_hashOnly && !_besideOutput)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            }
            _stream = _hashOnly ? Stream.Null
                : _besideOutput ? SideFile.CreateNew(path, FileAccess.Write, 1 << 16)
                : new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
            _files.Add(new BatchRequestFile(path, 0, 0, rowNumber, rowNumber));
            _requests = _bytes = 0;
            _firstRow = rowNumber;
        }
        _stream.Write(_line.WrittenSpan);
        _hash.AppendData(_line.WrittenSpan);
        _requests++;
        _bytes += _line.WrittenCount;
        _lastRow = rowNumber;
        return null;
    }

    /// <summary>Closes the last file and returns every file written.</summary>
    public IReadOnlyList<BatchRequestFile> Complete()
    {
        CloseFile();
        return _files;
    }

    private void CloseFile()
    {
        if (_stream is null)
        {
            return;
        }
        _stream.Dispose();
        _stream = null;
        _files[^1] = _files[^1] with
        {
            Requests = _requests, Bytes = _bytes, FirstRow = _firstRow, LastRow = _lastRow,
            Sha256 = Convert.ToHexString(_hash.GetHashAndReset()).ToLowerInvariant(),
        };
    }

    public void Dispose()
    {
        CloseFile();
        _hash.Dispose();
    }
}
