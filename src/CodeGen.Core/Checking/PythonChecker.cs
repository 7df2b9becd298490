using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace CodeGen.Core.Checking;

/// <summary>
/// Python, with the machine's python3: <c>compile(code, mode='exec', flags=ast.PyCF_ONLY_AST)</c>, the parser of
/// <c>ast.parse</c>, in one python3 process per run (isolated, without the site module: no user or system site packages
/// are imported, no PYTHON* variable is read). The code is parsed, never run.
/// </summary>
public sealed class PythonChecker : ProcessChecker
{
    // "<number> <the code as a JSON string>" per line in, "<number> <JSON answer>" per line out, in order
    private const string Loop = """
        import ast, json, sys, warnings
        warnings.simplefilter("ignore")
        ok = json.dumps({"ok": True})
        for request in sys.stdin:
            number, _, payload = request.partition(" ")
            try:
                compile(json.loads(payload), "<answer>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
                answer = ok
            except (SyntaxError, ValueError) as e:
                answer = json.dumps({"ok": False, "line": getattr(e, "lineno", None), "column": getattr(e, "offset", None), "message": getattr(e, "msg", None) or str(e)})
            except (RecursionError, MemoryError) as e:
                answer = json.dumps({"unchecked": "the code is nested too deeply for the parser (" + type(e).__name__ + ")"})
            except Exception as e:
                answer = json.dumps({"unchecked": type(e).__name__ + ": " + str(e)})
            sys.stdout.write(number + " " + answer + "\n")
            sys.stdout.flush()
        """;

    /// <param name="program">The Python to use (python3 on PATH by default).</param>
    public PythonChecker(string program = "python3") : base(program)
    {
    }

    public override string Language => "python";

    /// <summary>Python 3 only: python2 and IPython (magics) code is not Python 3 syntax.</summary>
    public override IReadOnlyCollection<string> Tags { get; } = ["python", "py", "python3", "py3"];

    protected override IReadOnlyList<string> Arguments => ["-I", "-S", "-X", "utf8", "-c", Loop];

    // one request at a time (the checker's lock is held while a request is built): one buffer and writer for them all
    private ArrayBufferWriter<byte> _request = new(1024);
    private Utf8JsonWriter? _writer;

    protected override byte[] Request(long number, string code)
    {
        _request.ResetWrittenCount();
        number.TryFormat(_request.GetSpan(20), out int digits, default, CultureInfo.InvariantCulture);
        _request.Advance(digits);
        _request.Write(" "u8);
        var writer = _writer ??= new Utf8JsonWriter(_request);
        writer.Reset(_request);
        writer.WriteStringValue(code);
        writer.Flush();
        _request.Write("\n"u8);
        byte[] bytes = _request.WrittenSpan.ToArray();
        if (_request.Capacity > 1024 * 1024)
        {
            // a huge code's buffer is not kept for the rest of the run
            _request = new ArrayBufferWriter<byte>(1024);
            _writer = null;
        }
        return bytes;
    }

    /// <summary>What the loop answers for code that parsed (its <c>ok</c>, json.dumps of {"ok": True}): known without reading it as JSON.</summary>
    private const string OkAnswer = "{\"ok\": true}";

    private CheckResult? _ok;

    protected override CheckResult Parse(string answer)
    {
        if (answer == OkAnswer)
        {
            return _ok ??= CheckResult.Ok(Language);
        }
        using var document = JsonDocument.Parse(answer);
        var root = document.RootElement;
        if (root.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True)
        {
            return CheckResult.Ok(Language);
        }
        if (root.TryGetProperty("unchecked", out var why))
        {
            return CheckResult.Unchecked(why.GetString() ?? "python3 could not check it.", Language);
        }
        string message = root.TryGetProperty("message", out var m) ? m.GetString() ?? "syntax error" : "syntax error";
        string where = root.TryGetProperty("line", out var l) && l.ValueKind == JsonValueKind.Number
            ? root.TryGetProperty("column", out var c) && c.ValueKind == JsonValueKind.Number
                ? string.Create(CultureInfo.InvariantCulture, $"line {l.GetInt64()}, column {c.GetInt64()}: ")
                : string.Create(CultureInfo.InvariantCulture, $"line {l.GetInt64()}: ")
            : string.Empty;
        return CheckResult.Failed(Language, [where + message]);
    }
}
