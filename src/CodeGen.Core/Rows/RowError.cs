namespace CodeGen.Core.Rows;

/// <summary>Why a row produced no code. Each kind has a stable error id (see <see cref="RowError.ErrorId"/>).</summary>
public enum RowErrorKind
{
    /// <summary>The row has no field named by the input key.</summary>
    MissingInputColumn,
    /// <summary>The row already has the output field and overwriting was not allowed.</summary>
    OutputColumnExists,
    /// <summary>The instruction is empty or whitespace; no request is sent for it.</summary>
    EmptyInstruction,
    /// <summary>A prompt template placeholder names a field the row does not have.</summary>
    TemplateColumnMissing,
    /// <summary>The server answered with an HTTP error status.</summary>
    HttpError,
    /// <summary>The server answered 2xx with a body that is not a usable chat completion.</summary>
    InvalidResponse,
    /// <summary>No HTTP answer: connection refused, reset, DNS failure, TLS failure.</summary>
    ConnectionFailed,
    /// <summary>The request took longer than the per-request timeout.</summary>
    Timeout,
    /// <summary>The provider withheld the answer (finish_reason content_filter, or a refusal).</summary>
    ContentFiltered,
    /// <summary>The circuit breaker is open: the endpoint failed most recent requests, so none is sent.</summary>
    CircuitOpen,
    /// <summary>No credentials could be had for the request (Microsoft Entra ID sign-in failed or is not available).</summary>
    SignInFailed,
    /// <summary>A batch job's results have nothing for this row (the batch expired or was cancelled first, or the row changed).</summary>
    BatchResultMissing,
    /// <summary>A read-only response cache (replay) holds no answer for the row's request; nothing was sent.</summary>
    CacheMiss,
    /// <summary>The run was stopped before this row was answered.</summary>
    Cancelled,
    /// <summary>A fault inside CodeGen itself while handling the row (a bug: please report it).</summary>
    InternalError,
    /// <summary>The row's prompt is longer than a request may carry (<see cref="Prompting.PromptBuilder.MaxPromptBytes"/>); nothing was sent.</summary>
    RequestTooLarge,
}

/// <summary>A row-level failure: what went wrong, for which row, and what the server said.</summary>
public sealed class RowError
{
    public RowError(RowErrorKind kind, long rowNumber, string detail, int? statusCode = null, string? serverMessage = null, string? serverCode = null,
        bool isFatal = false, IReadOnlyList<string>? retried = null)
    {
        IsFatal = isFatal;
        Retried = retried ?? [];
        Kind = kind;
        RowNumber = rowNumber;
        Detail = detail;
        Message = $"Row {rowNumber}: {detail}";
        StatusCode = statusCode;
        ServerMessage = serverMessage;
        ServerCode = serverCode;
    }

    public RowErrorKind Kind { get; }

    /// <summary>The answer reached the request's token limit (finish_reason 'length') before it held any code.</summary>
    public bool AtTokenLimit { get; init; }

    /// <summary>1-based position of the row in the input.</summary>
    public long RowNumber { get; }

    /// <summary>Complete, user-facing message. Always starts with "Row N: ".</summary>
    public string Message { get; }

    /// <summary>The message without the "Row N: " prefix, for places that already name the row (an output file's error column).</summary>
    public string Detail { get; }

    /// <summary>HTTP status code when the server answered with one.</summary>
    public int? StatusCode { get; }

    /// <summary>The server's own error text (error.message of an OpenAI-style error body, or the body itself).</summary>
    public string? ServerMessage { get; }

    /// <summary>The server's error code or type (error.code / error.type), when it sent one.</summary>
    public string? ServerCode { get; }

    /// <summary>
    /// Every other row would fail the same way (a rejected key, an unknown model, no quota, a dead endpoint):
    /// the run stops instead of failing row after row.
    /// </summary>
    public bool IsFatal { get; }

    /// <summary>Why earlier attempts of this row were retried ("429", "503", "timeout"...).</summary>
    public IReadOnlyList<string> Retried { get; }

    /// <summary>Stable identifier for scripts and ErrorRecords; never changes between releases.</summary>
    public string ErrorId => Kind switch
    {
        RowErrorKind.MissingInputColumn => "MissingInputColumn",
        RowErrorKind.OutputColumnExists => "OutputColumnExists",
        RowErrorKind.EmptyInstruction => "EmptyInstruction",
        RowErrorKind.TemplateColumnMissing => "TemplateColumnMissing",
        RowErrorKind.RequestTooLarge => "RequestTooLarge",
        RowErrorKind.HttpError => "LlmHttpError",
        RowErrorKind.InvalidResponse => "LlmInvalidResponse",
        RowErrorKind.ConnectionFailed => "LlmConnectionFailed",
        RowErrorKind.Timeout => "LlmTimeout",
        RowErrorKind.ContentFiltered => "LlmContentFiltered",
        RowErrorKind.CircuitOpen => "LlmCircuitOpen",
        RowErrorKind.SignInFailed => "LlmSignInFailed",
        RowErrorKind.BatchResultMissing => "BatchResultMissing",
        RowErrorKind.CacheMiss => "CacheMiss",
        RowErrorKind.Cancelled => "RunCancelled",
        RowErrorKind.InternalError => "InternalError",
        _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Not a known kind of row error."),
    };

    public override string ToString() => Message;

    /// <summary>What the &lt;OutputKey&gt;_error column of a failed row holds, in every mode: the error id and what went wrong.</summary>
    public string ColumnText => $"{ErrorId}: {Detail}";

    public static RowError Create(RowErrorKind kind, long rowNumber, string detail, int? statusCode = null, string? serverMessage = null, string? serverCode = null)
        => new(kind, rowNumber, detail, statusCode, serverMessage, serverCode);
}

/// <summary>A run stopped by a row error that every other row would share (see <see cref="RowError.IsFatal"/>).</summary>
public sealed class RunStoppedException : Exception
{
    public RunStoppedException(RowError error)
        : base($"Stopped at row {error.RowNumber}, because every other row would fail the same way: {error.Detail}") => Error = error;

    public RowError Error { get; }
}

/// <summary>Exception form of a <see cref="RowError"/>, for hosts that report errors as exceptions (PowerShell ErrorRecords).</summary>
public sealed class RowFailedException : Exception
{
    public RowFailedException(RowError error) : base(error.Message) => Error = error;

    public RowError Error { get; }
}
