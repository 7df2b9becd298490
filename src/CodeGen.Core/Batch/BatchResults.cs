using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;
using CodeGen.Core.Running;
using CodeGen.Core.Storage;
using Microsoft.Win32.SafeHandles;

namespace CodeGen.Core.Batch;

/// <summary>Rows a batch never answered for a known reason (its batch expired, failed or was cancelled).</summary>
public sealed record BatchRowRange(long FirstRow, long LastRow, string Reason);

/// <summary>
/// The results of batch jobs (OpenAI batch output and error files, vLLM run_batch output, Anthropic Message Batch
/// results), indexed by row:
/// one pass over the files records where each custom_id's line is; the lines are read again only when their
/// row is merged. Memory is a few dozen bytes per result, whatever the size of the answers.
/// </summary>
public sealed class BatchResultIndex : IDisposable
{
    private readonly List<(string Path, SafeFileHandle Handle)> _files = [];
    private readonly Dictionary<long, Entry> _entries = [];

    private readonly record struct Entry(int File, long Offset, int Length, uint Hash, long Line);

    private readonly bool _besideOutput;

    private BatchResultIndex(bool besideOutput) => _besideOutput = besideOutput;

    /// <summary>Results found, one per row (a custom_id seen twice counts once: the answer wins over the error).</summary>
    public int Count => _entries.Count;

    /// <summary>Lines whose custom_id CodeGen did not write (another tool's batch): ignored.</summary>
    public long ForeignLines { get; private set; }

    /// <summary>Indexes the files; the output files first (their answers win over error lines for the same row).</summary>
    /// <param name="besideOutput">The files are the ones a batch job downloaded beside its output: opened as <see cref="SideFile"/>s (a link or FIFO there is refused).</param>
    /// <exception cref="DataFileException">A file is missing or a line is not a JSON object with a custom_id.</exception>
    public static BatchResultIndex Open(IEnumerable<string> resultFiles, IEnumerable<string>? errorFiles = null, bool besideOutput = false)
    {
        var index = new BatchResultIndex(besideOutput);
        try
        {
            foreach (var path in resultFiles.Concat(errorFiles ?? []))
            {
                index.Add(Path.GetFullPath(path));
            }
            return index;
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <summary>The longest result line read (the cap of one live answer).</summary>
    private const int MaxLineBytes = 64 * 1024 * 1024;

    private void Add(string path)
    {
        var missing = () => new DataFileException(path, 0, "does not exist.", errorId: DataFileException.DataFileNotFound);
        if (!_besideOutput && !File.Exists(path))
        {
            throw missing();
        }
        var handle = _besideOutput ? SideFile.OpenExistingHandle(path) ?? throw missing() : File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        int file = _files.Count;
        _files.Add((path, handle));
        using var window = new ByteWindow(_besideOutput
            ? SideFile.OpenExisting(path, bufferSize: 1) ?? throw missing()
            : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan));
        window.SkipByteOrderMark();
        long line = 0;
        while (true)
        {
            int newline;
            while ((newline = window.Available.IndexOf((byte)'\n')) < 0 && window.Fill())
            {
                if (window.Available.Length > MaxLineBytes)
                {
                    // one answer per line: a line this long is no answer CodeGen will hold in memory
                    throw new DataFileException(path, line + 1, $"is longer than {MaxLineBytes / (1024 * 1024)} MB: it is not a batch result line.");
                }
            }
            var available = window.Available;
            if (available.IsEmpty)
            {
                return;
            }
            int length = newline < 0 ? available.Length : newline;
            line++;
            var text = available[..length];
            if (!text.Trim(" \t\r"u8).IsEmpty)
            {
                string? customId = ReadCustomId(text, path, line);
                if (BatchCustomId.TryParse(customId, out long row, out string hash)
                    && uint.TryParse(hash, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint hashValue))
                {
                    _entries.TryAdd(row, new Entry(file, window.Offset, length, hashValue, line));
                }
                else
                {
                    ForeignLines++;
                }
            }
            window.Consume(newline < 0 ? length : length + 1);
        }
    }

    private static string? ReadCustomId(ReadOnlySpan<byte> line, string path, long lineNumber)
    {
        var reader = new Utf8JsonReader(line);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new DataFileException(path, lineNumber, "is not a JSON object: each line of a batch result file is one.", column: 1);
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isId = reader.ValueTextEquals("custom_id"u8);
                reader.Read();
                if (isId)
                {
                    return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                reader.Skip();
            }
            throw new DataFileException(path, lineNumber, "has no custom_id: it is not a batch result line.", column: 1);
        }
        catch (JsonException ex)
        {
            throw new DataFileException(path, lineNumber, "is not valid JSON: " + ex.Message, column: (ex.BytePositionInLine ?? 0) + 1, inner: ex);
        }
    }

    /// <summary>The result line of a row, or null when the files have none.</summary>
    internal BatchResultLine? Find(long row)
    {
        if (!_entries.TryGetValue(row, out var entry))
        {
            return null;
        }
        var (path, handle) = _files[entry.File];
        byte[] buffer = new byte[entry.Length];
        int read = 0;
        while (read < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(read), entry.Offset + read);
            if (n == 0)
            {
                throw new DataFileException(path, entry.Line, "was cut short after it was indexed: the file changed during the merge.");
            }
            read += n;
        }
        return new BatchResultLine(buffer, entry.Hash, path, entry.Line);
    }

    public void Dispose()
    {
        foreach (var (_, handle) in _files)
        {
            handle.Dispose();
        }
        _files.Clear();
    }
}

/// <summary>One line of a batch result file, kept as bytes until its row is merged.</summary>
internal sealed record BatchResultLine(byte[] Json, uint Hash, string Path, long Line);

/// <summary>
/// Answers a run's rows from batch results instead of an endpoint: the same <see cref="GenerationRun"/> then
/// extracts the code and writes the rows, so a merged batch gives the rows a live run gives. A result whose
/// instruction hash does not match the row's (the input changed since the export) is not used. What the
/// results say (answers, error messages) passes the same masking as a live answer: a result file is the
/// server's text too.
/// </summary>
public sealed class BatchResultBackend : IChatBackend
{
    private readonly BatchResultIndex _index;
    private readonly IReadOnlyList<BatchRowRange> _missingReasons;
    private readonly Func<string, string> _redact;

    /// <param name="redact">Masks the credentials of the client that ran the batch; null when there is none (results made elsewhere).</param>
    public BatchResultBackend(BatchResultIndex index, IReadOnlyList<BatchRowRange>? missingReasons = null, Func<string, string>? redact = null)
    {
        _index = index;
        _missingReasons = missingReasons ?? [];
        _redact = redact ?? (static text => text);
    }

    public int MaxConcurrency => 16;

    /// <summary>A merge reads files and waits for nothing: the system's clock times it.</summary>
    public TimeProvider Time => TimeProvider.System;

    public (int Limit, int InFlight, long Throttled) ConcurrencySnapshot => (MaxConcurrency, 0, 0);

    public Task<ChatCallResult> CompleteAsync(PreparedRow row, ChatParameters parameters, CancellationToken cancellationToken)
        => Task.FromResult(Answer(row));

    private ChatCallResult Answer(PreparedRow row)
    {
        var line = _index.Find(row.RowNumber);
        if (line is null)
        {
            string reason = _missingReasons.FirstOrDefault(r => r.FirstRow <= row.RowNumber && row.RowNumber <= r.LastRow)?.Reason
                ?? "the batch results have no line for it";
            return ChatCallResult.Failure(RowErrorKind.BatchResultMissing, $"no batch result: {reason}.");
        }
        if (line.Hash != BatchCustomId.HashValue(row.Instruction))
        {
            return ChatCallResult.Failure(RowErrorKind.BatchResultMissing,
                $"the batch result for this row ({line.Path}, line {line.Line}) was asked for another instruction: the input changed after the export.");
        }
        try
        {
            return Read(line);
        }
        catch (JsonException ex)
        {
            return ChatCallResult.Failure(RowErrorKind.InvalidResponse, $"the batch result ({line.Path}, line {line.Line}) is not valid JSON: {ErrorBody.Shown(_redact(ex.Message))}");
        }
        catch (InvalidOperationException)
        {
            return ChatCallResult.Failure(RowErrorKind.InvalidResponse, $"the batch result ({line.Path}, line {line.Line}) holds text that is not valid Unicode.");
        }
    }

    /// <summary>
    /// A result line, whichever batch API wrote it: OpenAI's (and vLLM's) <c>{"response":{"status_code","body"},"error"}</c>,
    /// whose body is a chat completion or a Responses API response, or a Message Batch's <c>{"result":{"type",…}}</c>.
    /// </summary>
    private ChatCallResult Read(BatchResultLine line)
    {
        using var document = JsonDocument.Parse(line.Json);
        var root = document.RootElement;
        string where = $"{line.Path}, line {line.Line}";
        if (root.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.Object)
        {
            return ReadMessageBatchResult(result, where);
        }
        if (root.TryGetProperty("response", out var response) && response.ValueKind == JsonValueKind.Object)
        {
            int status = response.TryGetProperty("status_code", out var code) && code.TryGetInt32(out int value) ? value : 200;
            response.TryGetProperty("body", out var body);
            if (status is >= 200 and < 300)
            {
                return Answer(body, ApiOf(body), status, where);
            }
            var (message, serverCode) = Said(body.ValueKind == JsonValueKind.Undefined ? string.Empty : body.GetRawText());
            return ChatCallResult.Failure(RowErrorKind.HttpError,
                $"the batch answered {status} for this row" + (message is null ? $" ({where})." : $": {message}"), status, message, serverCode);
        }
        if (root.TryGetProperty("error", out var error) && error.ValueKind != JsonValueKind.Null)
        {
            var (message, serverCode) = Said("{\"error\":" + error.GetRawText() + "}");
            return ChatCallResult.Failure(RowErrorKind.HttpError,
                $"the batch could not run this request: {message ?? "no reason given"}" + (serverCode is null ? "." : $" ({serverCode})."), serverMessage: message, serverCode: serverCode);
        }
        return ChatCallResult.Failure(RowErrorKind.InvalidResponse, $"the batch result ({where}) has neither a response nor an error.");
    }

    /// <summary>The API whose answer an OpenAI batch output body is: a Responses API response says "object": "response".</summary>
    private static WireApi ApiOf(JsonElement body)
        => body.ValueKind == JsonValueKind.Object && WireApi.GetString(body, "object") == "response" ? WireApi.Responses : WireApi.ChatCompletions;

    /// <summary>An answer body of a result, read by its API; a body that is not a usable answer fails the row.</summary>
    private ChatCallResult Answer(JsonElement body, WireApi api, int status, string where)
    {
        byte[] raw = body.ValueKind == JsonValueKind.Object ? Encoding.UTF8.GetBytes(body.GetRawText()) : [];
        var answer = api.ParseAnswer(raw, out string? problem);
        return answer is not null
            ? ChatCallResult.Success(answer.Masked(_redact), status)
            : ChatCallResult.Failure(RowErrorKind.InvalidResponse, $"the batch answered {status} but {_redact(problem ?? "the body could not be read")} ({where}).", status);
    }

    /// <summary>
    /// The result of one request of an Anthropic Message Batch: succeeded (its message), errored (its error, mapped to the
    /// status Anthropic gives that error type), or canceled or expired before it ran (no answer, and why).
    /// </summary>
    private ChatCallResult ReadMessageBatchResult(JsonElement result, string where)
    {
        switch (WireApi.GetString(result, "type"))
        {
            case "succeeded" when result.TryGetProperty("message", out var message):
                return Answer(message, WireApi.Messages, 200, where);
            case "errored":
                var body = result.TryGetProperty("error", out var error) ? error.GetRawText() : string.Empty;
                var (text, type) = Said(body);
                int? status = StatusOfAnthropicError(type);
                return ChatCallResult.Failure(RowErrorKind.HttpError,
                    $"the batch could not run this request: {text ?? "no reason given"}" + (type is null ? "." : $" ({type})."), status, text, type);
            case "canceled":
                return ChatCallResult.Failure(RowErrorKind.BatchResultMissing, "no batch result: the message batch was canceled before it ran this request.");
            case "expired":
                return ChatCallResult.Failure(RowErrorKind.BatchResultMissing, "no batch result: the message batch expired before it ran this request.");
            default:
                return ChatCallResult.Failure(RowErrorKind.InvalidResponse, $"the batch result ({where}) is of no type CodeGen knows.");
        }
    }

    /// <summary>The HTTP status Anthropic answers an error type with (the type is all a Message Batch result gives).</summary>
    private static int? StatusOfAnthropicError(string? type) => type switch
    {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "overloaded_error" => 529,
        _ => null,
    };

    /// <summary>The message and code of an error body, the message masked and cut to size.</summary>
    private (string? Message, string? Code) Said(string body)
    {
        var error = ErrorBody.Read(body);
        return (error.Message is null ? null : ErrorBody.Shown(_redact(error.Message)), error.Code is null ? null : ErrorBody.Shown(_redact(error.Code)));
    }
}
