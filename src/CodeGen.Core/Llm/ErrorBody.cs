using System.Text.Json;

namespace CodeGen.Core.Llm;

/// <summary>Reads the error text out of an HTTP error body, whatever shape the server chose.</summary>
/// <remarks>
/// The message comes back decoded (JSON escapes resolved, also in a body that is not JSON) and whole: whoever
/// shows it masks the secrets in it first and then cuts it (<see cref="Shown"/>), so that neither an escaped
/// secret nor one split by the cut gets past the mask.
/// </remarks>
internal static partial class ErrorBody
{
    private const int MaxShown = 500;

    /// <summary>A URL as messages show it: scheme, host, port and path, without user info or query string (an Azure api-version, a signed token).</summary>
    public static string Display(Uri uri) => uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);

    /// <summary>
    /// "the server answered 404 Not Found: …": an HTTP error status as every message of CodeGen says it (chat requests and
    /// the files and batches APIs), the reason phrase and the server's message masked with <paramref name="redact"/> and cut.
    /// </summary>
    /// <param name="serverMessage">The message read from the body (<see cref="Read"/>), or null.</param>
    /// <param name="tries">What to say after the status about retries (" (after 3 attempts; …)"), or empty.</param>
    public static string StatusText(int status, string? reasonPhrase, string? serverMessage, Func<string, string> redact, string tries = "")
    {
        string reason = string.IsNullOrEmpty(reasonPhrase) ? ((System.Net.HttpStatusCode)status).ToString() : Shown(redact(reasonPhrase));
        return $"the server answered {status} {reason}{tries}" + (serverMessage is null ? "." : $": {Shown(redact(serverMessage))}");
    }

    /// <summary>
    /// A status that every request to the endpoint would get: a rejected key (401), no permission (403), an unknown model,
    /// deployment or API (404), or an account without quota (429 insufficient_quota). Trying again does not help.
    /// </summary>
    public static bool IsFatalStatus(int? status, string? serverCode = null) => status is 401 or 403 or 404 || (status == 429 && serverCode == "insufficient_quota");

    /// <summary>What a request that got no answer ran into: the innermost messages say what happened ("Connection refused").</summary>
    public static string ConnectionFailure(Exception ex)
    {
        string message = ex.Message;
        for (Exception? inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (!string.IsNullOrWhiteSpace(inner.Message) && !message.Contains(inner.Message, StringComparison.Ordinal))
            {
                message += " " + inner.Message;
            }
        }
        return message.TrimEnd('.') + ".";
    }

    /// <summary>Returns the server's message, its code/type and param, from OpenAI, vLLM, Ollama or plain-text bodies.</summary>
    public static ServerError Read(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return new(null, null);
        }
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("error", out var error))
                {
                    if (error.ValueKind == JsonValueKind.String)
                    {
                        return new(Unescape(error.GetString()), null);
                    }
                    if (error.ValueKind == JsonValueKind.Object)
                    {
                        return new(Unescape(WireApi.GetString(error, "message")), Unescape(CodeOf(error)), WireApi.GetString(error, "param"));
                    }
                }
                if (WireApi.GetString(root, "message") is { } message)
                {
                    return new(Unescape(message), Unescape(CodeOf(root)), WireApi.GetString(root, "param"));
                }
                if (WireApi.GetString(root, "detail") is { } detail)
                {
                    return new(Unescape(detail), null);
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // not JSON (or a string in it that is not valid Unicode): show the text itself
        }
        return new(Unescape(body.Trim()), null);
    }

    /// <summary>
    /// A server's text as a message shows it: at most 500 characters, and no control character but tab and line
    /// breaks (a NUL would cut a CSV field, an ESC or a C1 CSI (U+009B) would drive the terminal). Mask the secrets in it before.
    /// </summary>
    public static string Shown(string text)
    {
        if (text.Length > MaxShown)
        {
            text = text[..MaxShown] + "…";
        }
        return text.AsSpan().IndexOfAnyInRange('\0', '\u001f') < 0 && text.AsSpan().IndexOfAnyInRange('\u007f', '\u009f') < 0 ? text
            : string.Create(text.Length, text, static (span, source) =>
            {
                for (int i = 0; i < source.Length; i++)
                {
                    char c = source[i];
                    span[i] = (c < ' ' && c is not '\t' and not '\n' and not '\r') || c is >= '\u007f' and <= '\u009f' ? '\uFFFD' : c;
                }
            });
    }

    public static string Describe(JsonElement error)
    {
        if (error.ValueKind == JsonValueKind.String)
        {
            return Unescape(error.GetString()) ?? string.Empty;
        }
        return Unescape(WireApi.GetString(error, "message") ?? error.GetRawText());
    }

    /// <summary>
    /// Resolves the JSON escapes that can spell any text in other characters (\uXXXX and \/, escaped once or a few
    /// times over), so a mask can see it. Escapes of control characters stay as they are: they are not made real.
    /// </summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(text))]
    internal static string? Unescape(string? text)
    {
        if (text is null)
        {
            return null;
        }
        for (int pass = 0; pass < 3 && text.Contains('\\'); pass++)
        {
            string unescaped = JsonEscape().Replace(text, m => m.Value[1] == '/' ? "/"
                : Convert.ToInt32(m.Value[2..], 16) is var c and >= 0x20 and not 0x7f ? ((char)c).ToString() : m.Value);
            if (unescaped == text)
            {
                break;
            }
            text = unescaped;
        }
        return text;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\\u[0-9A-Fa-f]{4}|\\/", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex JsonEscape();

    private static string? CodeOf(JsonElement error)
    {
        if (error.TryGetProperty("code", out var code))
        {
            if (code.ValueKind == JsonValueKind.String)
            {
                return code.GetString();
            }
            if (code.ValueKind == JsonValueKind.Number)
            {
                return code.GetRawText();
            }
        }
        return WireApi.GetString(error, "type");
    }
}
