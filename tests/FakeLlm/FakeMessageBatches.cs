using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace FakeLlm;

/// <summary>
/// Anthropic's Message Batches, under <c>…/messages/batches</c>: create (the requests inline, no file), list (newest
/// first), poll (it moves on one step per poll, <see cref="FakeLlmOptions.BatchPollsToComplete"/>, running its share of
/// the requests each time), cancel, and results (JSON Lines, in reverse input order, as real batches keep no order).
/// Each request's params are checked and answered as a live /messages request of the create request's API version
/// would be, so a request the live API would refuse, or whose directive sets a status, is an errored result with
/// that error. <see cref="FakeLlmOptions.BatchOutcome"/> expired ends the batch with only
/// <see cref="FakeLlmOptions.BatchExpireFraction"/> of its requests run (the rest expired); failed errors every
/// request. The version, credential, key and Entra checks of /messages apply to every route, and every answer carries a
/// request-id. The batch counters of <see cref="FakeLlmStats"/> are the ones OpenAI batches use.
/// </summary>
internal sealed partial class FakeMessageBatches(FakeLlmServer server)
{
    private readonly ConcurrentDictionary<string, MessageBatch> _batches = new(StringComparer.Ordinal);
    private int _nextId;

    private sealed record BatchRequest(string CustomId, string Params);

    private sealed class MessageBatch
    {
        public required string Id { get; init; }
        public required int Sequence { get; init; }
        public required string Version { get; init; }
        public required BatchRequest[] Requests { get; init; }
        public required DateTimeOffset CreatedAt { get; init; }
        public string Status { get; set; } = "in_progress";
        public int Polls { get; set; }

        /// <summary>Each request's result object (succeeded, errored, canceled, expired), null while it waits to run.</summary>
        public string?[] Results { get; init; } = [];

        public string?[] ResultTypes { get; init; } = [];
        public int Ran { get; set; }
        public DateTimeOffset? EndedAt { get; set; }
        public DateTimeOffset? CancelInitiatedAt { get; set; }
    }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex CustomIdPattern();

    /// <summary>A path with a "messages" segment followed by "batches" (checked before OpenAI's batches, which take any "/batches").</summary>
    public static bool Handles(PathString path) => (path.Value ?? string.Empty).Contains("/messages/batches", StringComparison.Ordinal);

    public async Task HandleAsync(HttpContext context)
    {
        server.RecordHeaders(context, batch: true);
        if (!await server.AdmitCallerAsync(context, server.Messages, countRefusals: false).ConfigureAwait(false))
        {
            return;
        }
        string path = context.Request.Path.Value!.TrimEnd('/');
        string[] rest = path[(path.IndexOf("/messages/batches", StringComparison.Ordinal) + "/messages/batches".Length)..]
            .Split('/', StringSplitOptions.RemoveEmptyEntries);
        bool post = HttpMethods.IsPost(context.Request.Method);
        switch (rest.Length, post)
        {
            case (0, true):
                await CreateAsync(context).ConfigureAwait(false);
                return;
            case (0, false):
                await ListAsync(context).ConfigureAwait(false);
                return;
            case (1, false) when _batches.TryGetValue(rest[0], out var batch):
                server.Stats.BatchPolled();
                string snapshot;
                lock (batch)
                {
                    Advance(batch);
                    snapshot = Json(batch, context);
                }
                await WriteAsync(context, snapshot).ConfigureAwait(false);
                return;
            case (2, true) when rest[1] == "cancel" && _batches.TryGetValue(rest[0], out var toCancel):
                server.Stats.BatchCancelled();
                lock (toCancel)
                {
                    if (toCancel.Status == "in_progress")
                    {
                        toCancel.Status = "canceling";
                        toCancel.CancelInitiatedAt = server.Clock.GetUtcNow();
                    }
                    snapshot = Json(toCancel, context);
                }
                await WriteAsync(context, snapshot).ConfigureAwait(false);
                return;
            case (2, false) when rest[1] == "results" && _batches.TryGetValue(rest[0], out var ended):
                await ResultsAsync(context, ended).ConfigureAwait(false);
                return;
        }
        await Error(context, 404, "not_found_error", "Not found").ConfigureAwait(false);
    }

    private async Task CreateAsync(HttpContext context)
    {
        var options = server.Options;
        if (context.Request.ContentLength > options.MessageBatchMaxBytes)
        {
            await Error(context, 413, "request_too_large", "Request exceeds the maximum allowed number of bytes.").ConfigureAwait(false);
            return;
        }
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        if (buffer.Length > options.MessageBatchMaxBytes)
        {
            await Error(context, 413, "request_too_large", "Request exceeds the maximum allowed number of bytes.").ConfigureAwait(false);
            return;
        }

        BatchRequest[] requests;
        try
        {
            using var document = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
            if (Check(document.RootElement, options.MessageBatchMaxRequests, out requests) is { } problem)
            {
                await Error(context, 400, "invalid_request_error", problem).ConfigureAwait(false);
                return;
            }
        }
        catch (JsonException ex)
        {
            await Error(context, 400, "invalid_request_error", $"The request body is not valid JSON: {ex.Message}").ConfigureAwait(false);
            return;
        }

        int sequence = Interlocked.Increment(ref _nextId);
        var batch = new MessageBatch
        {
            Id = options.HostileBatchId ?? $"msgbatch_fake{sequence:D4}",
            Sequence = sequence,
            Version = context.Request.Headers["anthropic-version"].ToString(),
            Requests = requests,
            CreatedAt = server.Clock.GetUtcNow(),
            Results = new string?[requests.Length],
            ResultTypes = new string?[requests.Length],
        };
        _batches[batch.Id] = batch;
        server.Stats.BatchCreated();
        if (server.Stats.BatchesCreated <= options.BatchCreateAborts)
        {
            context.Abort(); // created, but the client never hears it: it must find the batch by listing
            return;
        }
        string snapshot;
        lock (batch)
        {
            snapshot = Json(batch, context);
        }
        await WriteAsync(context, snapshot).ConfigureAwait(false);
    }

    /// <summary>What the service checks when a batch is created (the params are checked only when each request runs).</summary>
    private static string? Check(JsonElement root, int maxRequests, out BatchRequest[] requests)
    {
        requests = [];
        if (root.ValueKind != JsonValueKind.Object)
        {
            return "Input should be a valid dictionary";
        }
        if (!root.TryGetProperty("requests", out var list) || list.ValueKind == JsonValueKind.Null)
        {
            return "requests: Field required";
        }
        if (list.ValueKind != JsonValueKind.Array)
        {
            return "requests: Input should be a valid list";
        }
        int count = list.GetArrayLength();
        if (count == 0)
        {
            return "requests: List should have at least 1 item after validation, not 0";
        }
        if (count > maxRequests)
        {
            return string.Create(CultureInfo.InvariantCulture, $"requests: List should have at most {maxRequests} items after validation, not {count}");
        }
        var read = new BatchRequest[count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int i = 0;
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                return $"requests.{i}: Input should be a valid dictionary";
            }
            if (!item.TryGetProperty("custom_id", out var id) || id.ValueKind == JsonValueKind.Null)
            {
                return $"requests.{i}.custom_id: Field required";
            }
            if (id.ValueKind != JsonValueKind.String || !CustomIdPattern().IsMatch(id.GetString()!))
            {
                return $"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'";
            }
            if (!seen.Add(id.GetString()!))
            {
                return $"requests.{i}.custom_id: Duplicate custom_id '{id.GetString()}': each request of a batch needs its own";
            }
            if (!item.TryGetProperty("params", out var parameters) || parameters.ValueKind == JsonValueKind.Null)
            {
                return $"requests.{i}.params: Field required";
            }
            if (parameters.ValueKind != JsonValueKind.Object)
            {
                return $"requests.{i}.params: Input should be a valid dictionary";
            }
            read[i] = new BatchRequest(id.GetString()!, parameters.GetRawText());
            i++;
        }
        requests = read;
        return null;
    }

    /// <summary>
    /// One poll's worth of progress: while in progress, the share of the requests this poll reaches runs; at the last
    /// poll the outcome (the rest run, or expired). A canceling batch ends at its next poll: the first half of its
    /// requests (or what already ran, if more) has run, the rest is canceled.
    /// </summary>
    private void Advance(MessageBatch batch)
    {
        if (batch.Status == "ended")
        {
            return;
        }
        var options = server.Options;
        batch.Polls++;
        int total = batch.Requests.Length;
        if (batch.Status == "canceling")
        {
            RunUpTo(batch, Math.Max(batch.Ran, total / 2));
            End(batch, "canceled");
            return;
        }
        int target = options.BatchOutcome == "expired" ? (int)(total * options.BatchExpireFraction) : total;
        int polls = Math.Max(1, options.BatchPollsToComplete);
        if (batch.Polls < polls)
        {
            RunUpTo(batch, (int)((long)target * batch.Polls / polls));
            return;
        }
        RunUpTo(batch, target);
        End(batch, "expired");
    }

    /// <summary>Ends the batch; the requests that never ran get <paramref name="leftover"/> as their result.</summary>
    private void End(MessageBatch batch, string leftover)
    {
        for (int i = batch.Ran; i < batch.Requests.Length; i++)
        {
            batch.ResultTypes[i] = leftover;
            batch.Results[i] = $"{{\"type\":\"{leftover}\"}}";
        }
        batch.Status = "ended";
        batch.EndedAt = server.Clock.GetUtcNow();
    }

    private void RunUpTo(MessageBatch batch, int count)
    {
        for (int i = batch.Ran; i < count; i++)
        {
            (batch.ResultTypes[i], batch.Results[i]) = Run(batch, batch.Requests[i]);
        }
        batch.Ran = Math.Max(batch.Ran, count);
    }

    /// <summary>One request's result: as the live /messages would answer its params under the batch's version.</summary>
    private (string Type, string Result) Run(MessageBatch batch, BatchRequest request)
    {
        var options = server.Options;
        if (options.BatchOutcome == "failed")
        {
            return Errored(FakeMessages.ErrorBody("api_error", "The fake provider failed this batch (BatchOutcome=failed)."));
        }
        FakeMessages.MessagesRequest parsed;
        try
        {
            parsed = FakeMessages.Inspect(Encoding.UTF8.GetBytes(request.Params), batch.Version);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return Errored(FakeMessages.ErrorBody("invalid_request_error", $"The request body is not a Messages request: {ex.Message}"));
        }
        if (parsed.Refusal is { } refusal)
        {
            return Errored(refusal);
        }
        var directive = FakeDirective.Find(parsed.Prompt);
        if (directive?.Times is { } times && server.Stats.CountAttempt(parsed.Prompt) > times)
        {
            directive = directive with { Status = null, Fault = null }; // a transient failure, over after N attempts (batch or live)
        }
        if (directive?.Status is int status && status != 200)
        {
            string message = directive.Message ?? (status == 529 ? "Overloaded" : $"fake failure {status}");
            return Errored(FakeMessages.ErrorBody(directive.Code ?? FakeMessages.TypeFor(status), message));
        }
        string task = FakeLlmServer.TaskOf(parsed.Prompt);
        byte[] message200 = FakeMessages.Body(parsed.Model, task, directive?.Style ?? options.Style, directive?.FinishReason, parsed.Thinking, batch.Version,
            inputTokens: parsed.InputTokens);
        server.Stats.CountBatchAnswer();
        return ("succeeded", $"{{\"type\":\"succeeded\",\"message\":{Encoding.UTF8.GetString(message200)}}}");
    }

    private static (string Type, string Result) Errored(byte[] error) => ("errored", $"{{\"type\":\"errored\",\"error\":{Encoding.UTF8.GetString(error)}}}");

    private async Task ResultsAsync(HttpContext context, MessageBatch batch)
    {
        string[]? lines = null;
        lock (batch)
        {
            if (batch.Status == "ended")
            {
                lines = new string[batch.Requests.Length];
                for (int i = 0; i < lines.Length; i++)
                {
                    lines[lines.Length - 1 - i] = $"{{\"custom_id\":{JsonSerializer.Serialize(batch.Requests[i].CustomId)},\"result\":{batch.Results[i]}}}";
                }
            }
        }
        if (lines is null)
        {
            await Error(context, 400, "invalid_request_error", $"Message batch {batch.Id} has not yet finished processing.").ConfigureAwait(false);
            return;
        }
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/x-jsonl";
        await context.Response.WriteAsync(string.Join('\n', lines) + "\n").ConfigureAwait(false);
    }

    /// <summary>Batches newest first: a page of <c>limit</c> (1–1000, 20 by default) after <c>after_id</c> or before <c>before_id</c>.</summary>
    private async Task ListAsync(HttpContext context)
    {
        var query = context.Request.Query;
        int limit = 20;
        if (query.ContainsKey("limit"))
        {
            if (!int.TryParse(query["limit"], NumberStyles.Integer, CultureInfo.InvariantCulture, out limit))
            {
                await Error(context, 400, "invalid_request_error", "limit: Input should be a valid integer").ConfigureAwait(false);
                return;
            }
            if (limit is < 1 or > 1000)
            {
                await Error(context, 400, "invalid_request_error", limit < 1 ? "limit: Input should be greater than or equal to 1" : "limit: Input should be less than or equal to 1000").ConfigureAwait(false);
                return;
            }
        }
        var all = _batches.Values.OrderByDescending(b => b.Sequence).ToList();
        int from = 0, to = all.Count; // the window [from, to) the page is taken from
        if (query["after_id"].ToString() is { Length: > 0 } after)
        {
            from = all.FindIndex(b => b.Id == after) + 1; // an unknown id: the first page
        }
        if (query["before_id"].ToString() is { Length: > 0 } before && all.FindIndex(b => b.Id == before) is >= 0 and var end)
        {
            to = end;
            from = Math.Max(from, to - limit); // the page just before it
        }
        var page = all.Skip(from).Take(Math.Min(limit, Math.Max(0, to - from))).ToList();
        bool hasMore = query["before_id"].ToString().Length > 0 ? from > 0 : from + page.Count < to;
        var sb = new StringBuilder("{\"data\":[");
        for (int i = 0; i < page.Count; i++)
        {
            lock (page[i])
            {
                sb.Append(i > 0 ? "," : string.Empty).Append(Json(page[i], context));
            }
        }
        sb.Append("],\"has_more\":").Append(hasMore ? "true" : "false")
            .Append(",\"first_id\":").Append(page.Count > 0 ? JsonSerializer.Serialize(page[0].Id) : "null")
            .Append(",\"last_id\":").Append(page.Count > 0 ? JsonSerializer.Serialize(page[^1].Id) : "null").Append('}');
        await WriteAsync(context, sb.ToString()).ConfigureAwait(false);
    }

    /// <summary>The batch object. Its results_url is on the host and path prefix the client called (or <see cref="FakeLlmOptions.HostileResultsUrl"/>).</summary>
    private string Json(MessageBatch b, HttpContext context)
    {
        int Count(string type) => b.ResultTypes.Count(t => t == type);
        string? resultsUrl = null;
        if (b.Status == "ended")
        {
            string path = context.Request.Path.Value!;
            string prefix = path[..path.IndexOf("/messages/batches", StringComparison.Ordinal)];
            resultsUrl = server.Options.HostileResultsUrl ?? $"{context.Request.Scheme}://{context.Request.Host}{prefix}/messages/batches/{b.Id}/results";
        }
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, FakeModelRules.WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("id", b.Id);
            writer.WriteString("type", "message_batch");
            writer.WriteString("processing_status", b.Status);
            writer.WriteStartObject("request_counts");
            writer.WriteNumber("processing", b.ResultTypes.Count(t => t is null));
            writer.WriteNumber("succeeded", Count("succeeded"));
            writer.WriteNumber("errored", Count("errored"));
            writer.WriteNumber("canceled", Count("canceled"));
            writer.WriteNumber("expired", Count("expired"));
            writer.WriteEndObject();
            WriteTime(writer, "ended_at", b.EndedAt);
            WriteTime(writer, "created_at", b.CreatedAt);
            WriteTime(writer, "expires_at", b.CreatedAt.AddHours(24));
            WriteTime(writer, "cancel_initiated_at", b.CancelInitiatedAt);
            writer.WriteNull("archived_at");
            if (resultsUrl is null)
            {
                writer.WriteNull("results_url");
            }
            else
            {
                writer.WriteString("results_url", resultsUrl);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>An RFC 3339 UTC time as Anthropic writes batch times (2026-12-06T15:04:05.123456Z), or null.</summary>
    private static void WriteTime(Utf8JsonWriter writer, string name, DateTimeOffset? time)
    {
        if (time is { } t)
        {
            writer.WriteString(name, t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static async Task WriteAsync(HttpContext context, string json)
        => await FakeLlmServer.WriteJsonAsync(context, 200, Encoding.UTF8.GetBytes(json)).ConfigureAwait(false);

    private static Task Error(HttpContext context, int status, string type, string message)
        => FakeLlmServer.WriteJsonAsync(context, status, FakeMessages.ErrorBody(type, message));
}
