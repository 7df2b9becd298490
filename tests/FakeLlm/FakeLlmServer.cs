using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FakeLlm;

/// <summary>
/// A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI chat-completions protocol to test
/// CodeGen: every answer's code echoes the task it was asked, so a test can tell rows apart.
/// Besides <c>POST .../chat/completions</c> (and the files and batches APIs, <see cref="FakeBatches"/>) it serves
/// what a client meets on the real services: the model rules of OpenAI's reasoning models (<see cref="FakeModelRules"/>,
/// always on), per-minute rate limits with OpenAI's 429 and x-ratelimit-* headers (<see cref="FakeRateLimiter"/>),
/// and a managed-identity token endpoint, <c>GET /msi/token</c>, whose tokens the API can be told to require
/// (<see cref="FakeEntraTokens"/>). Test controls live under /_fake: stats, reset, config, code, revoke-tokens.
/// A chat request goes through, in order: Entra token check (401), body parse (400), rate limit (429, at once),
/// model rules (400, at once), then directives, MaxConcurrent, injected faults, latency and the answer.
/// </summary>
public sealed class FakeLlmServer : IAsyncDisposable
{
    public const string Banner = "Placeholder from the CodeGen stub server (no model was called).";

    private readonly WebApplication _app;
    private readonly FakeBatches _batches;
    private readonly FakeEntraTokens _entra;
    private FakeLlmOptions _options;
    private FakeRateLimiter _limiter;
    private TimeProvider _clock = TimeProvider.System;
    private Random _random;

    private FakeLlmServer(WebApplication app, FakeLlmOptions options)
    {
        _app = app;
        _options = options;
        _batches = new FakeBatches(this);
        _entra = new FakeEntraTokens(this);
        _limiter = new FakeRateLimiter(options, _clock);
        _random = options.Seed is { } seed ? new Random(seed) : new Random();
    }

    /// <summary>Base URL to give a client, ending in /v1 (for example http://127.0.0.1:41234/v1).</summary>
    public Uri BaseUrl { get; private set; } = null!;

    public FakeLlmStats Stats { get; } = new();

    public FakeLlmOptions Options
    {
        get => Volatile.Read(ref _options);
        set
        {
            Volatile.Write(ref _options, value);
            Volatile.Write(ref _limiter, new FakeRateLimiter(value, Clock));
            if (value.Seed is { } seed)
            {
                _random = new Random(seed);
            }
        }
    }

    /// <summary>
    /// The clock of the rate-limit buckets (its monotonic timestamps) and of token expiry (its UTC time). In-process
    /// tests may set a manual one to make refills and expiry exact instead of timing-dependent; setting it starts the
    /// buckets full again.
    /// </summary>
    public TimeProvider Clock
    {
        get => Volatile.Read(ref _clock);
        set
        {
            Volatile.Write(ref _clock, value);
            Volatile.Write(ref _limiter, new FakeRateLimiter(Options, value));
        }
    }

    public static async Task<FakeLlmServer> StartAsync(FakeLlmOptions? options = null, int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, port);
            k.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
            k.AddServerHeader = false;
        });
        var app = builder.Build();
        var server = new FakeLlmServer(app, options ?? new FakeLlmOptions());
        server.Map(app);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUrl = new Uri(address.TrimEnd('/') + "/v1");
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/_fake/stats", () => Results.Json(Stats.Snapshot()));
        app.MapPost("/_fake/reset", () =>
        {
            Stats.Reset();
            Volatile.Write(ref _limiter, new FakeRateLimiter(Options, Clock)); // a fresh start: full buckets too
            return Results.Ok();
        });
        app.MapGet("/msi/token", context => _entra.IssueAsync(context));
        app.MapPost("/_fake/revoke-tokens", () =>
        {
            _entra.RevokeAll();
            return Results.Ok();
        });
        app.MapPost("/_fake/config", async (HttpContext context) =>
        {
            var update = await JsonSerializer.DeserializeAsync<FakeLlmOptions>(context.Request.Body, JsonOptions).ConfigureAwait(false);
            Options = update ?? new FakeLlmOptions();
            return Results.Json(Options, JsonOptions);
        });
        app.MapPost("/_fake/code", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            return Results.Text(CodeFor((await reader.ReadToEndAsync().ConfigureAwait(false)).Trim()));
        });
        app.MapGet("/v1/models", (HttpContext context) =>
        {
            Stats.ModelsListed(context.Request.Headers.Authorization.ToString());
            return Results.Json(new { @object = "list", data = new[] { "fake-model", "fake-coder-7b", "other model" }.Select(id => new { id, @object = "model", owned_by = "codegen" }) });
        });
        app.MapGet("/{**path}", context => _batches.HandleAsync(context));
        app.MapPost("/{**path}", HandleAsync);
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private async Task HandleAsync(HttpContext context)
    {
        if (FakeBatches.Handles(context.Request.Path))
        {
            await _batches.HandleAsync(context).ConfigureAwait(false);
            return;
        }
        if (!context.Request.Path.Value!.EndsWith("/chat/completions", StringComparison.Ordinal))
        {
            context.Response.StatusCode = 404;
            await WriteErrorAsync(context, 404, $"No route for {context.Request.Path}", "not_found").ConfigureAwait(false);
            return;
        }

        int before = Stats.Started();
        try
        {
            RecordHeaders(context);
            var options = Options;
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted).ConfigureAwait(false);
            if (options.RecordRequests)
            {
                Stats.RequestBodies.Enqueue(Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length));
            }
            if (options.RequireEntraToken && !IsAuthorized(context))
            {
                Stats.Unauthorize();
                await FakeEntraTokens.RejectAsync(context).ConfigureAwait(false);
                return;
            }

            ChatRequestInfo request;
            try
            {
                request = InspectRequest(body.GetBuffer().AsSpan(0, (int)body.Length));
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException)
            {
                await WriteErrorAsync(context, 400, "The request body is not a chat-completions request: " + ex.Message, "invalid_request_error").ConfigureAwait(false);
                return;
            }
            var (prompt, model) = (request.Prompt, request.Model);

            // The limit and the model rules answer at once, before any latency, as the service does.
            var limiter = Volatile.Read(ref _limiter);
            if (!limiter.IsOff)
            {
                var decision = limiter.Admit(model, request.TokenCost);
                foreach (var (name, value) in decision.Headers)
                {
                    context.Response.Headers[name] = value; // also on every later answer of an admitted request
                }
                if (!decision.Admitted)
                {
                    Stats.RateLimit();
                    await WriteJsonAsync(context, 429, decision.RefusalBody!).ConfigureAwait(false);
                    return;
                }
            }
            if (request.Refusal is { } refusal)
            {
                await WriteJsonAsync(context, 400, refusal).ConfigureAwait(false);
                return;
            }

            // a follow-up (a repair) is answered by the directive of its last message; only "unfixable" code stays broken
            var directive = FakeDirective.Find(prompt)
                ?? (FakeDirective.Find(request.FirstPrompt) is { Style: "unfixable" } sticky ? sticky : null);
            if (directive?.Times is { } times && Stats.CountAttempt(prompt) > times)
            {
                directive = directive with { Status = null, Fault = null }; // the transient failure is over for this prompt
            }
            if (options.MaxConcurrent is { } limit && before >= limit && directive?.Status is null)
            {
                Stats.Throttle();
                await WriteErrorAsync(context, 429, $"Too many concurrent requests (limit {limit}).", "rate_limit_exceeded", options).ConfigureAwait(false);
                return;
            }
            var fault = directive?.Fault switch
            {
                "abort" => Fault.Abort,
                "stall" => Fault.Stall,
                "badjson" => Fault.BadJson,
                "nochoices" => Fault.NoChoices,
                "429" => Fault.Throttle,
                "5xx" => Fault.ServerError,
                _ => directive?.Status is null ? PickFault(options) : Fault.None,
            };
            int latency = directive?.LatencyMs ?? options.LatencyMs + (options.JitterMs > 0 ? NextJitter(options.JitterMs) : 0);
            if (fault == Fault.Stall)
            {
                latency += options.StallMs;
            }
            if (latency > 0)
            {
                await Task.Delay(latency, context.RequestAborted).ConfigureAwait(false);
            }
            switch (fault)
            {
                case Fault.Abort:
                    context.Abort();
                    return;
                case Fault.Throttle:
                    Stats.Throttle();
                    await WriteErrorAsync(context, 429, "Rate limit reached for requests.", "rate_limit_exceeded", options).ConfigureAwait(false);
                    return;
                case Fault.ServerError:
                    int code = NextJitter(3) switch { 0 => 500, 1 => 502, 2 => 503, _ => 504 };
                    await WriteErrorAsync(context, code, $"fake failure {code}", "server_error", options).ConfigureAwait(false);
                    return;
            }

            int status = directive?.Status ?? options.Status ?? 200;
            if (status != 200)
            {
                // {auth} in a message echoes the caller's credentials, as careless proxies do: leak tests use it.
                string message = directive?.Message ?? $"fake failure {status}";
                string type = status == 429 ? directive?.Style ?? "rate_limit_exceeded" : "server_error"; // style=insufficient_quota for a quota 429
                if (status == 429)
                {
                    Stats.Throttle();
                }
                await WriteErrorAsync(context, status, message, type, options, directive?.Param, directive?.Code).ConfigureAwait(false);
                return;
            }

            string task = TaskOf(prompt);
            string style = fault switch { Fault.BadJson => "badjson", Fault.NoChoices => "nochoices", _ => directive?.Style ?? options.Style };
            if (await WriteAnswerAsync(context, model, task, style, directive?.FinishReason, directive?.Pad ?? 0, directive?.Drip ?? 0).ConfigureAwait(false))
            {
                Stats.WasAnswered(task);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            Stats.WasAborted();
        }
        finally
        {
            if (context.Response.HasStarted)
            {
                Stats.CountStatus(context.Response.StatusCode);
            }
            Stats.Finished();
        }
    }

    /// <summary>True when the request carries a live token from /msi/token (what <see cref="FakeLlmOptions.RequireEntraToken"/> asks).</summary>
    internal bool IsAuthorized(HttpContext context) => _entra.IsValid(context);

    private static async Task WriteJsonAsync(HttpContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body).ConfigureAwait(false);
    }

    internal static string BearerToken(HttpContext context)
    {
        string header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..] : context.Request.Headers["api-key"].ToString();
    }

    private enum Fault { None, Throttle, ServerError, Abort, BadJson, NoChoices, Stall }

    private Fault PickFault(FakeLlmOptions options)
    {
        double total = options.Fault429Rate + options.Fault5xxRate + options.FaultAbortRate + options.FaultBadJsonRate + options.FaultNoChoicesRate + options.FaultStallRate;
        if (total <= 0)
        {
            return Fault.None;
        }
        double roll;
        lock (_random)
        {
            roll = _random.NextDouble();
        }
        foreach (var (rate, fault) in new[]
        {
            (options.Fault429Rate, Fault.Throttle), (options.Fault5xxRate, Fault.ServerError), (options.FaultAbortRate, Fault.Abort),
            (options.FaultBadJsonRate, Fault.BadJson), (options.FaultNoChoicesRate, Fault.NoChoices), (options.FaultStallRate, Fault.Stall),
        })
        {
            if (roll < rate)
            {
                Stats.Fault();
                return fault;
            }
            roll -= rate;
        }
        return Fault.None;
    }

    private void RecordHeaders(HttpContext context)
    {
        Stats.LastAuthorization = context.Request.Headers.Authorization.ToString();
        Stats.LastApiKey = context.Request.Headers["api-key"].ToString();
        Stats.LastPath = context.Request.Path + context.Request.QueryString;
        var custom = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in context.Request.Headers)
        {
            if (header.Key.StartsWith("x-", StringComparison.OrdinalIgnoreCase) || header.Key.StartsWith("openai-", StringComparison.OrdinalIgnoreCase))
            {
                custom[header.Key] = header.Value.ToString();
            }
        }
        Stats.LastCustomHeaders = custom;
    }

    private int NextJitter(int max)
    {
        lock (_random)
        {
            return _random.Next(0, max + 1);
        }
    }

    internal static (string Prompt, string Model) ReadRequest(ReadOnlySpan<byte> json)
    {
        var request = InspectRequest(json);
        return (request.Prompt, request.Model);
    }

    /// <summary>
    /// What the server needs from a chat request: the last user message, the model, the 400 its model would answer
    /// (<see cref="FakeModelRules"/>) and its cost for the tokens-per-minute limit.
    /// </summary>
    /// <param name="FirstPrompt">The first user message: in a follow-up (a repair), the row's own prompt.</param>
    internal sealed record ChatRequestInfo(string Prompt, string Model, byte[]? Refusal, int TokenCost, string FirstPrompt = "");

    internal static ChatRequestInfo InspectRequest(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        string model = root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "fake-model";
        string prompt = string.Empty;
        string? first = null;
        long characters = 0;
        foreach (var message in root.GetProperty("messages").EnumerateArray())
        {
            characters += ContentLength(message);
            if (message.GetProperty("role").GetString() == "user")
            {
                prompt = message.GetProperty("content").GetString() ?? string.Empty;
                first ??= prompt;
            }
        }
        // The service estimates a request's tokens before running it, output budget included: about 4 characters a token.
        long budget = 0;
        foreach (string name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (root.TryGetProperty(name, out var max) && max.ValueKind == JsonValueKind.Number && max.TryGetInt64(out budget))
            {
                break;
            }
        }
        int cost = (int)Math.Clamp(characters / 4 + Math.Max(0, budget), 1, int.MaxValue);
        return new ChatRequestInfo(prompt, model, FakeModelRules.Refusal(root, model), cost, first ?? string.Empty);
    }

    /// <summary>Characters of a message's content: a string, or the text of its parts.</summary>
    private static long ContentLength(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            return 0;
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!.Length;
        }
        long total = 0;
        if (content.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in content.EnumerateArray())
            {
                if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                {
                    total += text.GetString()!.Length;
                }
            }
        }
        return total;
    }

    /// <summary>The task inside a prompt: what follows the last "Task:" line (CodeGen's default prompt), else the whole prompt.</summary>
    public static string TaskOf(string prompt)
    {
        const string marker = "\nTask:\n";
        int at = prompt.LastIndexOf(marker, StringComparison.Ordinal);
        return (at >= 0 ? prompt[(at + marker.Length)..] : prompt).Trim();
    }

    /// <summary>The placeholder code for a task: the banner and the task, as comment lines.</summary>
    public static string CodeFor(string task)
    {
        var sb = new StringBuilder();
        sb.Append("# ").Append(Banner).Append('\n');
        bool first = true;
        foreach (var line in task.Replace("\r\n", "\n").Split('\n'))
        {
            sb.Append(first ? "# Task: " : "#   ").Append(line).Append('\n');
            first = false;
        }
        return sb.ToString().TrimEnd('\n');
    }

    /// <summary>The answer content for a style, and the finish_reason that goes with it.</summary>
    public static (string? Content, string FinishReason, string? Reasoning, string? Refusal) Compose(string task, string style)
    {
        string code = CodeFor(task);
        return style switch
        {
            "plain" => (code, "stop", null, null),
            "prose" => ($"Sure! Below is one way to do it:\n```\n{code}\n```\nLet me know if you need changes.", "stop", null, null),
            "think" => ($"<think>\nThe user wants code. Maybe ```python\nwrong_answer()\n``` would do, but no.\n</think>\n\n```python\n{code}\n```", "stop", null, null),
            "tilde" => ($"~~~python\n{code}\n~~~", "stop", null, null),
            "multi" => ($"First install the tools:\n```bash\npip install nothing\n```\nThen the code:\n```python\n{code}\n```", "stop", null, null),
            "unclosed" => ($"Here it is:\n```python\n{code}\n", "length", null, null),
            "crlf" => ($"Here is the code.\r\n\r\n```python\r\n{code.Replace("\n", "\r\n")}\r\n```\r\n", "stop", null, null),
            "reasoning" => ($"```python\n{code}\n```", "stop", "I considered the task step by step.", null),
            "null" => (null, "stop", null, null),
            "refusal" => (null, "stop", null, "I can't help with that."),
            "filter" => (string.Empty, "content_filter", null, null),
            // Python that does not parse (a parameter list never closed): a repair, asked without the directive, gets the plain answer
            "unparsable" or "unfixable" => ($"```python\n{code}\ndef broken(:\n    pass\n```", "stop", null, null),
            // code that parses in no language: a function never closed, a string never ended
            "broken" => ($"```powershell\n{code}\nfunction Get-Broken {{\n    Write-Output 'never closed\n```", "stop", null, null),
            _ => ($"Here is the code.\n\n```python\n{code}\n```\n\nIt is a placeholder.", "stop", null, null),
        };
    }

    /// <summary>Writes a 200 answer; returns false when it was a deliberately unusable one (no choices, cut JSON).</summary>
    private static async Task<bool> WriteAnswerAsync(HttpContext context, string model, string task, string style, string? finishOverride, int pad, int drip = 0)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        byte[] body = AnswerBody(model, task, style, finishOverride, BearerToken(context), pad);
        if (style == "badjson")
        {
            // a 200 whose body was cut in half
            await context.Response.Body.WriteAsync(body.AsMemory(0, body.Length / 2)).ConfigureAwait(false);
            return false;
        }
        context.Response.ContentLength = body.Length;
        if (drip > 0)
        {
            // half now, half later: the client holds the first half while it waits for the rest
            await context.Response.Body.WriteAsync(body.AsMemory(0, body.Length / 2)).ConfigureAwait(false);
            await context.Response.Body.FlushAsync().ConfigureAwait(false);
            await Task.Delay(drip, context.RequestAborted).ConfigureAwait(false);
            await context.Response.Body.WriteAsync(body.AsMemory(body.Length / 2)).ConfigureAwait(false);
            return style != "nochoices";
        }
        await context.Response.Body.WriteAsync(body).ConfigureAwait(false);
        return style != "nochoices";
    }

    /// <summary>The chat-completion body of an answer in a style (the live answer, and a batch result's response body).</summary>
    /// <param name="echo">What the echo styles repeat (the caller's key): refusal-echo puts it in message.refusal, code-echo in the code.</param>
    /// <param name="pad">Bytes of comment lines added to the code (an oversized answer).</param>
    public static byte[] AnswerBody(string model, string task, string style, string? finishOverride, string? echo = null, int pad = 0)
    {
        if (style == "nochoices")
        {
            return "{\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion\",\"choices\":[]}"u8.ToArray();
        }
        if (style == "badunicode")
        {
            // a lone surrogate escape: valid JSON syntax, but no text can be made of it
            return "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"```python\\nprint(1)\\ud800\\n```\"},\"finish_reason\":\"stop\"}]}"u8.ToArray();
        }

        var (content, finish, reasoning, refusal) = style switch
        {
            "refusal-echo" => (null, "stop", null, $"I will not write that. Your key {echo} is noted."),
            "code-echo" => ($"```python\nAPI_KEY = \"{echo}\"\n{CodeFor(task)}\n```", "stop", null, null),
            "nul" => ($"```python\nprint(\"a\0b\")\n{CodeFor(task)}\n```", "stop", null, null),
            _ => Compose(task, style),
        };
        if (pad > 0 && content is not null)
        {
            int at = content.LastIndexOf("\n```", StringComparison.Ordinal);
            string padding = string.Concat(Enumerable.Repeat("# padding padding padding padding padding padding padding padding\n", pad / 66 + 1));
            content = at > 0 ? content[..(at + 1)] + padding + content[(at + 1)..] : content + "\n" + padding;
        }
        finish = finishOverride ?? finish;
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (style != "minimal")
            {
                writer.WriteString("id", "chatcmpl-fake");
                writer.WriteString("object", "chat.completion");
                writer.WriteNumber("created", 1_700_000_000);
                writer.WriteString("model", model);
            }
            writer.WriteStartArray("choices");
            writer.WriteStartObject();
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("message");
            writer.WriteString("role", "assistant");
            if (content is null)
            {
                writer.WriteNull("content");
            }
            else
            {
                writer.WriteString("content", content);
            }
            if (reasoning is not null)
            {
                writer.WriteString("reasoning_content", reasoning);
            }
            if (refusal is not null)
            {
                writer.WriteString("refusal", refusal);
            }
            writer.WriteEndObject();
            writer.WriteString("finish_reason", finish);
            writer.WriteEndObject();
            writer.WriteEndArray();
            if (style != "minimal")
            {
                int promptTokens = Math.Max(1, task.Length / 4);
                int completionTokens = Math.Max(1, (content?.Length ?? 0) / 4);
                bool reasoningModel = FakeModelRules.IsReasoningModel(model);
                if (reasoningModel)
                {
                    completionTokens += FakeModelRules.ReasoningTokens; // hidden reasoning is billed as completion
                }
                writer.WriteStartObject("usage");
                writer.WriteNumber("prompt_tokens", promptTokens);
                writer.WriteNumber("completion_tokens", completionTokens);
                writer.WriteNumber("total_tokens", promptTokens + completionTokens);
                if (reasoningModel)
                {
                    // the shape OpenAI sends for reasoning models (the audio and prediction counts are always 0 here)
                    writer.WriteStartObject("prompt_tokens_details");
                    writer.WriteNumber("cached_tokens", FakeModelRules.CachedTokens);
                    writer.WriteNumber("audio_tokens", 0);
                    writer.WriteEndObject();
                    writer.WriteStartObject("completion_tokens_details");
                    writer.WriteNumber("reasoning_tokens", FakeModelRules.ReasoningTokens);
                    writer.WriteNumber("audio_tokens", 0);
                    writer.WriteNumber("accepted_prediction_tokens", 0);
                    writer.WriteNumber("rejected_prediction_tokens", 0);
                    writer.WriteEndObject();
                }
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>An error whose message echoes the caller's key: {auth} as it is, {auth-escaped} with every character a JSON \\u escape.</summary>
    internal static async Task WriteEchoErrorAsync(HttpContext context, int status, string message)
    {
        string key = BearerToken(context);
        string escaped = string.Concat(key.Select(c => $"\\u{(int)c:x4}"));
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        string json = JsonSerializer.Serialize(new { error = new { message = message.Replace("{auth}", key, StringComparison.Ordinal), type = "invalid_request_error", param = (string?)null, code = "invalid_api_key" } });
        await context.Response.WriteAsync(json.Replace("{auth-escaped}", escaped, StringComparison.Ordinal)).ConfigureAwait(false);
    }

    private static async Task WriteErrorAsync(HttpContext context, int status, string message, string type, FakeLlmOptions? options = null,
        string? param = null, string? code = null)
    {
        string key = BearerToken(context);
        message = message.Replace("{auth}", key, StringComparison.Ordinal);
        code = code?.Replace("{auth}", key, StringComparison.Ordinal);
        context.Response.StatusCode = status;
        if (status == 429 && options is not null)
        {
            if (options.RetryAfterSeconds is { } seconds)
            {
                context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            if (options.RetryAfterMs is { } ms)
            {
                context.Response.Headers["retry-after-ms"] = ms.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        context.Response.ContentType = "application/json";
        var json = JsonSerializer.Serialize(new { error = new { message, type, param, code = code ?? type } })
            .Replace("{auth-escaped}", string.Concat(key.Select(c => $"\\u{(int)c:x4}")), StringComparison.Ordinal);
        await context.Response.WriteAsync(json).ConfigureAwait(false);
    }
}
