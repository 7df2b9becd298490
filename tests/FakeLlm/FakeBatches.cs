using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace FakeLlm;

/// <summary>
/// The files and batches APIs of OpenAI (and Azure OpenAI's /openai/files, /openai/batches, /openai/v1/...):
/// upload a JSONL of requests, create a batch, poll it (it moves on one step per poll, see
/// <see cref="FakeLlmOptions.BatchPollsToComplete"/>), cancel it, download its output and error files. A batch's
/// endpoint is <c>/v1/chat/completions</c> or <c>/v1/responses</c>, and every line's url must be that endpoint (else
/// the batch fails, naming the line). Each request line is answered as the live endpoint would answer it (a chat
/// completion, or a response object), [[fake:status=N]] directives included (those rows land in the error file), and
/// so are the refusals (<see cref="FakeModelRules"/>: a reasoning model's chat row with max_tokens, a codex model's
/// chat row, a Responses row with an unknown parameter land in the error file with the service's 400 body). Output
/// lines come in reverse order, as real batches do not keep order. <see cref="FakeLlmOptions.RequireEntraToken"/> and
/// <see cref="FakeLlmOptions.RequiredApiKey"/> apply here as on the chat endpoint.
/// </summary>
internal sealed class FakeBatches
{
    private readonly FakeLlmServer _server;
    private readonly ConcurrentDictionary<string, FakeFile> _files = new();
    private readonly ConcurrentDictionary<string, FakeBatch> _batches = new();
    private int _nextId;

    private sealed record FakeFile(string Id, string Name, string Purpose, byte[] Content, long CreatedAt);

    private sealed class FakeBatch
    {
        public required string Id { get; init; }
        public required string InputFileId { get; init; }
        public required string Endpoint { get; init; }
        public required string[] Lines { get; init; }
        public Dictionary<string, string> Metadata { get; init; } = [];
        public long CreatedAt { get; init; }
        public string Status { get; set; } = "validating";
        public int Polls { get; set; }
        public long Completed { get; set; }
        public long Failed { get; set; }
        public string? OutputFileId { get; set; }
        public string? ErrorFileId { get; set; }
        public string? Errors { get; set; }

        /// <summary>The input line <see cref="Errors"/> is about (1-based), when it is about one.</summary>
        public int? ErrorLine { get; set; }

        public bool IsResponses => Endpoint.EndsWith("/responses", StringComparison.Ordinal);
    }

    public FakeBatches(FakeLlmServer server) => _server = server;

    public static bool Handles(PathString path)
    {
        string value = path.Value ?? string.Empty;
        return value.Contains("/files", StringComparison.Ordinal) || value.Contains("/batches", StringComparison.Ordinal);
    }

    public async Task HandleAsync(HttpContext context)
    {
        var stats = _server.Stats;
        stats.LastAuthorization = context.Request.Headers.Authorization.ToString();
        stats.LastApiKey = context.Request.Headers["api-key"].ToString();
        stats.LastXApiKey = context.Request.Headers["x-api-key"].ToString();
        stats.LastBatchPath = context.Request.Path + context.Request.QueryString;
        string path = context.Request.Path.Value!.TrimEnd('/');
        string[] segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        int at = Array.FindLastIndex(segments, s => s is "files" or "batches");
        if (at < 0)
        {
            await NotFound(context).ConfigureAwait(false);
            return;
        }
        if (!await _server.AdmitCallerAsync(context, _server.Chat, countRefusals: false).ConfigureAwait(false))
        {
            return; // Entra's 401, or OpenAI's for a wrong key
        }
        string[] rest = segments[(at + 1)..];
        bool post = HttpMethods.IsPost(context.Request.Method);
        switch (segments[at], rest.Length, post)
        {
            case ("files", 0, true):
                await UploadAsync(context).ConfigureAwait(false);
                return;
            case ("files", 2, false) when rest[1] == "content" && _files.TryGetValue(rest[0], out var file):
                context.Response.ContentType = "application/jsonl";
                await context.Response.Body.WriteAsync(file.Content).ConfigureAwait(false);
                return;
            case ("batches", 0, true):
                await CreateAsync(context).ConfigureAwait(false);
                return;
            case ("batches", 0, false):
                int limit = int.TryParse(context.Request.Query["limit"], out int l) ? l : 20;
                var page = _batches.Values.OrderByDescending(b => b.CreatedAt).ThenByDescending(b => b.Id, StringComparer.Ordinal).Take(limit).Select(Json).ToArray();
                await Results.Json(new { @object = "list", data = page, has_more = false }).ExecuteAsync(context).ConfigureAwait(false);
                return;
            case ("batches", 1, false) when _batches.TryGetValue(rest[0], out var batch):
                stats.BatchPolled();
                object snapshot;
                lock (batch)
                {
                    Advance(batch);
                    snapshot = Json(batch);
                }
                await Results.Json(snapshot).ExecuteAsync(context).ConfigureAwait(false);
                return;
            case ("batches", 2, true) when rest[1] == "cancel" && _batches.TryGetValue(rest[0], out var toCancel):
                stats.BatchCancelled();
                lock (toCancel)
                {
                    if (toCancel.Status is not ("completed" or "failed" or "expired" or "cancelled"))
                    {
                        toCancel.Status = "cancelling";
                    }
                    snapshot = Json(toCancel);
                }
                await Results.Json(snapshot).ExecuteAsync(context).ConfigureAwait(false);
                return;
        }
        await NotFound(context).ConfigureAwait(false);
    }

    private string NextId(string prefix) => $"{prefix}-fake{Interlocked.Increment(ref _nextId):D4}";

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private async Task UploadAsync(HttpContext context)
    {
        if (_server.Options.BatchErrorMessage is { } refusal)
        {
            // a hostile or careless server that echoes the caller's key (plain, or JSON-escaped) in an error
            await FakeLlmServer.WriteEchoErrorAsync(context, 400, refusal).ConfigureAwait(false);
            return;
        }
        if (!context.Request.HasFormContentType)
        {
            await Error(context, 400, "Expected multipart/form-data with 'purpose' and 'file'.").ConfigureAwait(false);
            return;
        }
        var form = await context.Request.ReadFormAsync().ConfigureAwait(false);
        var upload = form.Files.GetFile("file");
        if (upload is null || form["purpose"] != "batch")
        {
            await Error(context, 400, "Both 'file' and purpose=batch are required.").ConfigureAwait(false);
            return;
        }
        using var buffer = new MemoryStream();
        await upload.CopyToAsync(buffer).ConfigureAwait(false);
        var file = new FakeFile(NextId("file"), upload.FileName, "batch", buffer.ToArray(), Now());
        _files[file.Id] = file;
        _server.Stats.FileUploaded();
        await Results.Json(new { id = file.Id, @object = "file", bytes = file.Content.Length, created_at = file.CreatedAt, filename = file.Name, purpose = file.Purpose })
            .ExecuteAsync(context).ConfigureAwait(false);
    }

    private async Task CreateAsync(HttpContext context)
    {
        using var document = await JsonDocument.ParseAsync(context.Request.Body).ConfigureAwait(false);
        var root = document.RootElement;
        string? inputFileId = root.TryGetProperty("input_file_id", out var f) ? f.GetString() : null;
        string endpoint = root.TryGetProperty("endpoint", out var e) ? e.GetString() ?? string.Empty : string.Empty;
        if (inputFileId is null || !_files.TryGetValue(inputFileId, out var file))
        {
            await Error(context, 404, $"No such file: {inputFileId}").ConfigureAwait(false);
            return;
        }
        if (!root.TryGetProperty("completion_window", out var window) || window.GetString() != "24h")
        {
            await Error(context, 400, "completion_window must be 24h.").ConfigureAwait(false);
            return;
        }
        var metadata = new Dictionary<string, string>();
        if (root.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in m.EnumerateObject())
            {
                metadata[p.Name] = p.Value.GetString() ?? string.Empty;
            }
        }
        var batch = new FakeBatch
        {
            Id = _server.Options.HostileBatchId ?? NextId("batch"),
            InputFileId = inputFileId,
            Endpoint = endpoint,
            Lines = Encoding.UTF8.GetString(file.Content).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Metadata = metadata,
            CreatedAt = Now(),
        };
        _batches[batch.Id] = batch;
        _server.Stats.BatchCreated();
        if (_server.Stats.BatchesCreated <= _server.Options.BatchCreateAborts)
        {
            context.Abort(); // created, but the client never hears it
            return;
        }
        await Results.Json(Json(batch)).ExecuteAsync(context).ConfigureAwait(false);
    }

    /// <summary>One poll's worth of progress: validating, then in_progress for the configured polls, then the outcome.</summary>
    private void Advance(FakeBatch batch)
    {
        if (batch.Status is "completed" or "failed" or "expired" or "cancelled")
        {
            return;
        }
        var options = _server.Options;
        batch.Polls++;
        if (batch.Status == "validating" && Validate(batch) is { } problem)
        {
            batch.Status = "failed";
            (batch.ErrorLine, batch.Errors) = problem;
            return;
        }
        int total = batch.Lines.Length;
        int polls = Math.Max(1, options.BatchPollsToComplete);
        if (batch.Status == "cancelling")
        {
            Run(batch, (int)Math.Min(total, batch.Completed + batch.Failed));
            batch.Status = "cancelled";
            return;
        }
        if (batch.Polls < polls)
        {
            batch.Status = "in_progress";
            batch.Completed = (long)total * batch.Polls / polls;
            return;
        }
        switch (options.BatchOutcome)
        {
            case "failed":
                batch.Status = "failed";
                batch.Errors = "The fake provider failed this batch (BatchOutcome=failed).";
                break;
            case "expired":
                Run(batch, (int)(total * options.BatchExpireFraction));
                batch.Status = "expired";
                break;
            default:
                Run(batch, total);
                batch.Status = "completed";
                break;
        }
    }

    /// <summary>What the real service checks before it runs anything: JSON lines, unique custom_ids, the batch's url; the first problem and its line.</summary>
    private static (int Line, string Message)? Validate(FakeBatch batch)
    {
        var seen = new HashSet<string>();
        for (int i = 0; i < batch.Lines.Length; i++)
        {
            try
            {
                using var line = JsonDocument.Parse(batch.Lines[i]);
                var root = line.RootElement;
                string id = root.GetProperty("custom_id").GetString()!;
                if (!seen.Add(id))
                {
                    return (i + 1, $"duplicate custom_id {id}");
                }
                if (root.GetProperty("method").GetString() != "POST" || root.GetProperty("url").GetString() != batch.Endpoint)
                {
                    return (i + 1, $"method must be POST and url must be {batch.Endpoint}, the batch's endpoint");
                }
                byte[] body = Encoding.UTF8.GetBytes(root.GetProperty("body").GetRawText());
                if (batch.IsResponses)
                {
                    FakeResponses.Inspect(body);
                }
                else
                {
                    FakeLlmServer.ReadRequest(body);
                }
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                return (i + 1, ex.Message);
            }
        }
        return null;
    }

    /// <summary>Answers the first <paramref name="count"/> requests and writes the output and error files.</summary>
    private void Run(FakeBatch batch, int count)
    {
        var output = new List<string>();
        var errors = new List<string>();
        for (int i = 0; i < count; i++)
        {
            using var line = JsonDocument.Parse(batch.Lines[i]);
            var root = line.RootElement;
            string customId = root.GetProperty("custom_id").GetString()!;
            byte[] requestBody = Encoding.UTF8.GetBytes(root.GetProperty("body").GetRawText());
            var request = batch.IsResponses ? FakeResponses.Inspect(requestBody) : FakeLlmServer.InspectRequest(requestBody);
            var (prompt, model) = (request.Prompt, request.Model);
            string requestId = $"req-{i + 1}";
            if (request.Refusal is { } refusal)
            {
                errors.Add($"{{\"id\":\"batch_req_{i + 1}\",\"custom_id\":{JsonSerializer.Serialize(customId)},\"response\":{{\"status_code\":400,\"request_id\":\"{requestId}\",\"body\":{Encoding.UTF8.GetString(refusal)}}},\"error\":null}}");
                continue;
            }
            var directive = FakeDirective.Find(prompt);
            if (directive?.Times is { } times && _server.Stats.CountAttempt(prompt) > times)
            {
                directive = directive with { Status = null, Fault = null }; // a transient failure, over after N attempts (batch or live)
            }
            if (directive?.Status is int status && status != 200)
            {
                string message = directive.Message ?? $"fake failure {status}";
                errors.Add(JsonSerializer.Serialize(new
                {
                    id = $"batch_req_{i + 1}",
                    custom_id = customId,
                    response = new { status_code = status, request_id = requestId, body = new { error = new { message, type = "invalid_request_error", code = (string?)null } } },
                    error = (object?)null,
                }));
                continue;
            }
            string task = FakeLlmServer.TaskOf(prompt);
            string style = directive?.Style ?? _server.Options.Style;
            string body = Encoding.UTF8.GetString(request is FakeResponses.ResponsesRequest responses
                ? FakeResponses.Body(model, task, style, directive?.FinishReason, responses.Store, Now(), inputTokens: request.PromptTokens)
                : FakeLlmServer.AnswerBody(model, task, style, directive?.FinishReason, promptTokens: request.PromptTokens));
            output.Add($"{{\"id\":\"batch_req_{i + 1}\",\"custom_id\":{JsonSerializer.Serialize(customId)},\"response\":{{\"status_code\":200,\"request_id\":\"{requestId}\",\"body\":{body}}},\"error\":null}}");
            _server.Stats.CountBatchAnswer();
        }
        output.Reverse();
        batch.Completed = output.Count;
        batch.Failed = errors.Count;
        if (output.Count > 0)
        {
            batch.OutputFileId = Store(batch, "output", output);
        }
        if (errors.Count > 0)
        {
            batch.ErrorFileId = Store(batch, "errors", errors);
        }
    }

    private string Store(FakeBatch batch, string kind, List<string> lines)
    {
        var file = new FakeFile(NextId("file"), $"{batch.Id}_{kind}.jsonl", "batch_output", Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"), Now());
        _files[file.Id] = file;
        return file.Id;
    }

    private static object Json(FakeBatch b) => new Dictionary<string, object?>
    {
        ["id"] = b.Id,
        ["object"] = "batch",
        ["endpoint"] = b.Endpoint,
        ["errors"] = b.Errors is null ? null : new { @object = "list", data = new[] { new { code = "invalid_batch", message = b.Errors, line = b.ErrorLine } } },
        ["input_file_id"] = b.InputFileId,
        ["completion_window"] = "24h",
        ["status"] = b.Status,
        ["output_file_id"] = b.OutputFileId,
        ["error_file_id"] = b.ErrorFileId,
        ["created_at"] = b.CreatedAt,
        ["request_counts"] = new { total = b.Lines.Length, completed = b.Completed, failed = b.Failed },
        ["metadata"] = b.Metadata,
    };

    private static Task NotFound(HttpContext context) => Error(context, 404, $"No route for {context.Request.Method} {context.Request.Path}");

    private static Task Error(HttpContext context, int status, string message)
        => Results.Json(new { error = new { message, type = "invalid_request_error", param = (string?)null, code = (string?)null } }, statusCode: status).ExecuteAsync(context);
}
