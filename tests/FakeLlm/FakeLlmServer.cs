using System.Net;
using System.Security.Cryptography;
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
/// A real HTTP server on 127.0.0.1 that speaks enough of three LLM APIs to test CodeGen: every answer's code echoes
/// the task it was asked, so a test can tell rows apart. On one base URL (…/v1) it serves
/// <list type="bullet">
/// <item>OpenAI chat completions, <c>POST …/chat/completions</c> (<see cref="FakeChat"/>), and OpenAI's files and
/// batches APIs, with chat or Responses lines (<see cref="FakeBatches"/>);</item>
/// <item>the OpenAI Responses API, <c>POST …/responses</c> (<see cref="FakeResponses"/>);</item>
/// <item>the Anthropic Messages API in its two versions, <c>POST …/messages</c> and <c>…/messages/count_tokens</c>
/// (<see cref="FakeMessages"/>), and Message Batches, <c>…/messages/batches…</c> (<see cref="FakeMessageBatches"/>);</item>
/// </list>
/// with what a client meets on the real services: the model rules of OpenAI's models (<see cref="FakeModelRules"/>,
/// always on), per-minute rate limits with each service's 429 and headers (<see cref="FakeRateLimiter"/>), API keys
/// (<see cref="FakeLlmOptions.RequiredApiKey"/>), and a managed-identity token endpoint, <c>GET /msi/token</c>, whose
/// tokens the APIs can be told to require (<see cref="FakeEntraTokens"/>). Test controls live under /_fake: stats,
/// reset, config, code, revoke-tokens.
/// The three APIs share one pipeline (<see cref="RunAsync"/>): Entra token check (401), the API's header checks
/// (Messages: version and credentials), the required key (401), body parse (400), rate limit (429, at once), the API's
/// refusals (400, at once), then directives, MaxConcurrent, injected faults, latency and the answer; each API supplies
/// only its parsing, refusals, error shape, answer shape and rate-limit headers (<see cref="FakeApi"/>).
/// </summary>
public sealed class FakeLlmServer : IAsyncDisposable
{
    public const string Banner = "Placeholder from the CodeGen stub server (no model was called).";

    private readonly WebApplication _app;
    private readonly FakeBatches _batches;
    private readonly FakeMessageBatches _messageBatches;
    private readonly FakeEntraTokens _entra;
    private readonly FakeChat _chat = new();
    private readonly FakeResponses _responses;
    private readonly FakeMessages _messages;
    private FakeLlmOptions _options;
    private FakeRateLimiter _limiter;
    private TimeProvider _clock = TimeProvider.System;
    private Random _random;

    private FakeLlmServer(WebApplication app, FakeLlmOptions options)
    {
        _app = app;
        _options = options;
        _batches = new FakeBatches(this);
        _messageBatches = new FakeMessageBatches(this);
        _entra = new FakeEntraTokens(this);
        _responses = new FakeResponses(this);
        _messages = new FakeMessages(this);
        _limiter = new FakeRateLimiter(options, _clock);
        _random = options.Seed is { } seed ? new Random(seed) : new Random();
    }

    /// <summary>Base URL to give a client, ending in /v1 (for example http://127.0.0.1:41234/v1).</summary>
    public Uri BaseUrl { get; private set; } = null!;

    public FakeLlmStats Stats { get; } = new();

    /// <summary>The chat-completions API (the error shape of OpenAI's batches, and their key check).</summary>
    internal FakeApi Chat => _chat;

    /// <summary>The Messages API (the checks Message Batches share).</summary>
    internal FakeMessages Messages => _messages;

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
            k.Limits.MaxRequestBodySize = 300L * 1024 * 1024; // a Message Batch may be 256 MB: above that it gets Anthropic's 413, not Kestrel's
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
        app.MapGet("/{**path}", context => FakeMessageBatches.Handles(context.Request.Path) ? _messageBatches.HandleAsync(context) : _batches.HandleAsync(context));
        app.MapPost("/{**path}", HandleAsync);
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    /// <summary>Routes a POST by the end of its path, so any prefix works (…/v1, Azure's …/openai/v1, a proxy's).</summary>
    private async Task HandleAsync(HttpContext context)
    {
        string path = context.Request.Path.Value ?? string.Empty;
        // before FakeBatches, which takes any path with "/batches" in it
        if (FakeMessageBatches.Handles(context.Request.Path))
        {
            await _messageBatches.HandleAsync(context).ConfigureAwait(false);
            return;
        }
        if (FakeBatches.Handles(context.Request.Path))
        {
            await _batches.HandleAsync(context).ConfigureAwait(false);
            return;
        }
        FakeApi? api = path.EndsWith("/chat/completions", StringComparison.Ordinal) ? _chat
            : path.EndsWith("/responses", StringComparison.Ordinal) ? _responses
            : path.EndsWith("/messages", StringComparison.Ordinal) ? _messages
            : null;
        if (api is not null)
        {
            await RunAsync(context, api).ConfigureAwait(false);
        }
        else if (path.EndsWith("/messages/count_tokens", StringComparison.Ordinal))
        {
            await _messages.CountTokensAsync(context).ConfigureAwait(false);
        }
        else
        {
            await WriteOpenAiErrorAsync(context, 404, $"No route for {context.Request.Path}", "not_found").ConfigureAwait(false);
        }
    }

    /// <summary>The request pipeline every API shares; <paramref name="api"/> supplies what differs on the wire.</summary>
    private async Task RunAsync(HttpContext context, FakeApi api)
    {
        int before = Stats.Started(api.Name);
        // counted as the answer starts, so a client that has read it finds it counted
        context.Response.OnStarting(() =>
        {
            Stats.CountStatus(context.Response.StatusCode);
            return Task.CompletedTask;
        });
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
            if (!await AdmitCallerAsync(context, api, countRefusals: true).ConfigureAwait(false))
            {
                return;
            }

            FakeRequest request;
            try
            {
                request = api.Parse(body.GetBuffer().AsSpan(0, (int)body.Length), context);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException)
            {
                await api.WriteUnreadableAsync(context, ex).ConfigureAwait(false);
                return;
            }
            var (prompt, model) = (request.Prompt, request.Model);

            // The limit and the API's refusals answer at once, before any latency, as the services do.
            var limiter = Volatile.Read(ref _limiter);
            if (!limiter.IsOff)
            {
                var decision = limiter.Admit(model, request.TokenCost, api.Dialect);
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
                await api.WriteErrorAsync(context, 429, $"Too many concurrent requests (limit {limit}).", "rate_limit_exceeded", options).ConfigureAwait(false);
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
                    await api.WriteErrorAsync(context, 429, "Rate limit reached for requests.", "rate_limit_exceeded", options).ConfigureAwait(false);
                    return;
                case Fault.ServerError:
                    int code = api.ServerErrorStatus(NextJitter(3));
                    await api.WriteErrorAsync(context, code, api.DefaultMessage(code), "server_error", options).ConfigureAwait(false);
                    return;
            }

            int status = directive?.Status ?? options.Status ?? 200;
            if (status != 200)
            {
                // {auth} in a message echoes the caller's credentials, as careless proxies do: leak tests use it.
                string message = directive?.Message ?? api.DefaultMessage(status);
                string type = status == 429 ? directive?.Style ?? "rate_limit_exceeded" : "server_error"; // style=insufficient_quota for a quota 429
                if (status == 429)
                {
                    Stats.Throttle();
                }
                await api.WriteErrorAsync(context, status, message, type, options, directive?.Param, directive?.Code).ConfigureAwait(false);
                return;
            }

            string task = TaskOf(prompt);
            string style = fault switch { Fault.BadJson => "badjson", Fault.NoChoices => "nochoices", _ => directive?.Style ?? options.Style };
            byte[] answer = api.AnswerBody(request, task, style, directive?.FinishReason, BearerToken(context), directive?.Pad ?? 0);
            if (await WriteAnswerAsync(context, answer, style, directive?.Drip ?? 0).ConfigureAwait(false))
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
            Stats.Finished();
        }
    }

    /// <summary>
    /// Who may call: a live Entra token when <see cref="FakeLlmOptions.RequireEntraToken"/> is on (Azure's 401), the
    /// API's header checks, then <see cref="FakeLlmOptions.RequiredApiKey"/> (the API's 401). False when the request
    /// was answered; <paramref name="countRefusals"/> counts the 401s in <see cref="FakeLlmStats.Unauthorized"/>.
    /// </summary>
    internal async Task<bool> AdmitCallerAsync(HttpContext context, FakeApi api, bool countRefusals)
    {
        api.Begin(context);
        var options = Options;
        if (options.RequireEntraToken && !IsAuthorized(context))
        {
            if (countRefusals)
            {
                Stats.Unauthorize();
            }
            await FakeEntraTokens.RejectAsync(context).ConfigureAwait(false);
            return false;
        }
        if (!await api.CheckHeadersAsync(context, countRefusals ? Stats : null).ConfigureAwait(false))
        {
            return false;
        }
        if (options.RequiredApiKey is { } required && api.SentKey(context) is var sent && !string.Equals(sent, required, StringComparison.Ordinal))
        {
            if (countRefusals)
            {
                Stats.Unauthorize();
            }
            await api.RejectKeyAsync(context, sent).ConfigureAwait(false);
            return false;
        }
        return true;
    }

    /// <summary>True when the request carries a live token from /msi/token (what <see cref="FakeLlmOptions.RequireEntraToken"/> asks).</summary>
    internal bool IsAuthorized(HttpContext context) => _entra.IsValid(context);

    internal static async Task WriteJsonAsync(HttpContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body).ConfigureAwait(false);
    }

    /// <summary>The caller's key: Authorization: Bearer, else api-key (Azure), else x-api-key (Anthropic); "" for none.</summary>
    internal static string BearerToken(HttpContext context)
    {
        string header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header[7..];
        }
        string apiKey = context.Request.Headers["api-key"].ToString();
        return apiKey.Length > 0 ? apiKey : context.Request.Headers["x-api-key"].ToString();
    }

    /// <summary>A fresh id in the services' form: resp_fake…, msg_fake…, req_fake… (unique per call).</summary>
    internal static string NewId(string prefix) => prefix + "_fake" + RandomNumberGenerator.GetHexString(24, lowercase: true);

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

    /// <summary>Keeps the request's credentials, path (as <see cref="FakeLlmStats.LastPath"/>, or LastBatchPath for a batch) and custom headers in the stats.</summary>
    internal void RecordHeaders(HttpContext context, bool batch = false)
    {
        Stats.LastAuthorization = context.Request.Headers.Authorization.ToString();
        Stats.LastApiKey = context.Request.Headers["api-key"].ToString();
        Stats.LastXApiKey = context.Request.Headers["x-api-key"].ToString();
        if (batch)
        {
            Stats.LastBatchPath = context.Request.Path + context.Request.QueryString;
        }
        else
        {
            Stats.LastPath = context.Request.Path + context.Request.QueryString;
        }
        var custom = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in context.Request.Headers)
        {
            if (header.Key.StartsWith("x-", StringComparison.OrdinalIgnoreCase) || header.Key.StartsWith("openai-", StringComparison.OrdinalIgnoreCase)
                || header.Key.StartsWith("anthropic-", StringComparison.OrdinalIgnoreCase))
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
    internal static FakeRequest InspectRequest(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        string model = root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "fake-model";
        string prompt = string.Empty;
        string? first = null;
        long characters = 0;
        var texts = new List<(string Role, string Text)>();
        foreach (var message in root.GetProperty("messages").EnumerateArray())
        {
            string role = message.GetProperty("role").GetString() ?? string.Empty;
            string text = ContentText(message);
            characters += text.Length;
            texts.Add((role, text));
            if (role == "user")
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
        return new FakeRequest(prompt, model, FakeModelRules.Refusal(root, model), cost, first ?? string.Empty, FakeTokens.Prompt(model, texts));
    }

    /// <summary>A message's content: a string, or the text of its parts joined.</summary>
    internal static string ContentText(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            return string.Empty;
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }
        var text = new StringBuilder();
        if (content.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in content.EnumerateArray())
            {
                if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                {
                    text.Append(t.GetString());
                }
            }
        }
        return text.ToString();
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
            // the text of two parts (see TextParts), each a whole fenced block: joined with a line break, as here
            "multipart" => ($"```python\n{code}\n```\n```text\nRun it with the language's interpreter.\n```", "stop", null, null),
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
    private static async Task<bool> WriteAnswerAsync(HttpContext context, byte[] body, string style, int drip)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
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

    /// <summary>What an answer in a style says, whatever the API's shape: <see cref="Compose"/> plus the echo styles, padding and parts.</summary>
    /// <param name="Parts">The text parts the answer is sent as, for <c>multipart</c>; null for one part.</param>
    internal readonly record struct Answer(string? Content, string Finish, string? Reasoning, string? Refusal, string[]? Parts);

    /// <summary>Text that each API's writer turns into a lone surrogate escape (\ud800) in its body: no API can carry one otherwise.</summary>
    internal const string LoneSurrogate = "@@fake-lone-surrogate@@";

    /// <summary>The answer in a style, for any API.</summary>
    /// <param name="echo">What the echo styles repeat (the caller's key): refusal-echo puts it in the refusal, code-echo in the code.</param>
    /// <param name="pad">Bytes of comment lines added to the code (an oversized answer).</param>
    internal static Answer ComposeAnswer(string task, string style, string? finishOverride, string? echo, int pad)
    {
        var (content, finish, reasoning, refusal) = style switch
        {
            "refusal-echo" => (null, "stop", null, $"I will not write that. Your key {echo} is noted."),
            "code-echo" => ($"```python\nAPI_KEY = \"{echo}\"\n{CodeFor(task)}\n```", "stop", null, null),
            "nul" => ($"```python\nprint(\"a\0b\")\n{CodeFor(task)}\n```", "stop", null, null),
            "badunicode" => ($"```python\nprint(1){LoneSurrogate}\n```", "stop", null, null),
            _ => Compose(task, style),
        };
        if (pad > 0 && content is not null)
        {
            int at = content.LastIndexOf("\n```", StringComparison.Ordinal);
            string padding = string.Concat(Enumerable.Repeat("# padding padding padding padding padding padding padding padding\n", pad / 66 + 1));
            content = at > 0 ? content[..(at + 1)] + padding + content[(at + 1)..] : content + "\n" + padding;
        }
        return new Answer(content, finishOverride ?? finish, reasoning, refusal, style == "multipart" && content is not null ? TextParts(content) : null);
    }

    /// <summary>A multipart answer's two parts: the first fenced block (up to its closing fence) and the rest, without the line break between them.</summary>
    private static string[] TextParts(string content)
    {
        int cut = content.IndexOf("\n```\n", StringComparison.Ordinal) + "\n```".Length;
        return [content[..cut], content[(cut + 1)..]];
    }

    /// <summary>A body written with <see cref="LoneSurrogate"/> in its text, with the lone surrogate escape in its place.</summary>
    internal static byte[] WithLoneSurrogate(byte[] body)
        => Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace(LoneSurrogate, "\\ud800", StringComparison.Ordinal));

    /// <summary>The chat-completion body of an answer in a style (the live answer, and a batch result's response body).</summary>
    /// <param name="echo">What the echo styles repeat (the caller's key): refusal-echo puts it in message.refusal, code-echo in the code.</param>
    /// <param name="pad">Bytes of comment lines added to the code (an oversized answer).</param>
    /// <param name="promptTokens">The prompt tokens the usage reports (<see cref="FakeRequest.PromptTokens"/>).</param>
    public static byte[] AnswerBody(string model, string task, string style, string? finishOverride, string? echo = null, int pad = 0, int promptTokens = 1)
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

        var (content, finish, reasoning, refusal, parts) = ComposeAnswer(task, style, finishOverride, echo, pad);
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
            if (parts is not null)
            {
                // content as a list of text parts, as OpenAI-compatible servers may send it
                writer.WriteStartArray("content");
                foreach (string part in parts)
                {
                    writer.WriteStartObject();
                    writer.WriteString("type", "text");
                    writer.WriteString("text", part);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            else if (content is null)
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

    /// <summary>An OpenAI error, <c>{"error":{"message","type","param","code"}}</c>; {auth} in the message or code echoes the caller's key.</summary>
    internal static async Task WriteOpenAiErrorAsync(HttpContext context, int status, string message, string type, FakeLlmOptions? options = null,
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
