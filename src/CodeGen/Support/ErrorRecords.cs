using System.Management.Automation;
using CodeGen.Core.Batch;
using CodeGen.Core.Costing;
using CodeGen.Core.Llm;
using CodeGen.Core.Rows;
using CodeGen.Core.Storage;

namespace CodeGen.Commands.Support;

/// <summary>
/// The one mapping from what the engine reports (exceptions that stop a command, and row errors) to PowerShell
/// ErrorRecords: a stable error id, a category, the target, and advice (RecommendedAction) that names only
/// parameters the command in use has, or the command to run next. Engine messages state what happened; the advice
/// is added here.
/// </summary>
internal static class ErrorRecords
{
    /// <summary>
    /// The ErrorRecord for an exception the engine raised while <paramref name="cmdlet"/> ran: the engine's own exceptions
    /// by their ids; anything else is a fault of CodeGen's (UnexpectedError), reported by its message alone.
    /// </summary>
    /// <param name="target">What the command was working on (the output, a batch id, the endpoint) when the exception names none itself.</param>
    /// <param name="batch">The command runs a batch job (-Batch): an output in the way is replaced by a new job, not resumed.</param>
    public static ErrorRecord ForException(Exception ex, PSCmdlet cmdlet, object? target, bool batch = false)
    {
        bool Has(string parameter) => HasParameter(cmdlet, parameter);
        var (id, category, recordTarget, action) = ex switch
        {
            DataFileException e => (e.ErrorId, CategoryOf(e), (object?)e.Path, DataFileAction(e, Has, batch)),
            BatchJobException e => (e.ErrorId, e.ErrorId == BatchJobException.BatchFailed ? ErrorCategory.InvalidResult : ErrorCategory.InvalidOperation, target, BatchJobAction(e, Has)),
            ApiCallException e => (e.ErrorId, CategoryOfBatchStatus(e.StatusCode), target, e.ErrorId == ApiCallException.TokenCountFailed
                ? (e.IsFatal ? "Check the API key (ANTHROPIC_API_KEY) and the endpoint." : "Run the command again later: the provider's token counting has its own rate limit.")
                : e.IsFatal
                ? "Check the API key and the endpoint (the provider must offer the files and batches APIs; for Azure OpenAI, a Global Batch deployment)."
                : "Run the same command again: the batch job continues from the state saved next to the output."),
            ResponseCacheException e => (e.ErrorId, e.ErrorId == ResponseCacheException.CacheNotFound ? ErrorCategory.ObjectNotFound : ErrorCategory.InvalidData, target,
                e.ErrorId == ResponseCacheException.CacheNotFound
                    ? "Check -CachePath, or record the answers first with -CacheMode ReadWrite against a live endpoint."
                    : "Record the answers again into a new folder (-CachePath <new folder> -CacheMode ReadWrite against a live endpoint), then replace the old folder with it."),
            PriceException e => ("PriceUnavailable", ErrorCategory.InvalidData, e.Path ?? target,
                "Check -PriceFile (the format of LiteLLM's model_prices_and_context_window.json, with an entry for the model), or " + char.ToLowerInvariant(Prices.PriceAction[0]) + Prices.PriceAction[1..]),
            EndpointConfigurationException e => ("InvalidEndpointConfiguration", ErrorCategory.InvalidArgument, target, EndpointAction(e.Problem, Has)),
            RequestParameterException e => (e.ErrorId, ErrorCategory.InvalidArgument, target,
                Has("AdditionalBody") ? "Give each field in one place (a parameter, or -AdditionalBody), and only what the API in use takes (-Api, -ApiVersion)." : null),
            RunStoppedException e => (e.Error.ErrorId, CategoryOf(e.Error), target, RowAction(e.Error, cmdlet)),
            IOException or UnauthorizedAccessException => ("DataFileWriteFailed", ErrorCategory.WriteError, target,
                (DiskWrites.IsDiskFull(ex) ? "Free space on the disk the message names" : "Check that the file or folder the message names can be read and written (its permissions, a disk that is there)")
                + (Has("Resume") ? ", then run the command again (-Resume continues a file run)." : ", then run the command again.")),
            _ => ("UnexpectedError", ErrorCategory.NotSpecified, target,
                $"This is a fault in CodeGen, not in the input: report it with the command you ran and this message ({ex.GetType().FullName})."),
        };
        return WithAction(new ErrorRecord(ex, id, category, recordTarget), ex.Message, action);
    }

    /// <summary>
    /// The ErrorRecord for parameters the command refuses before it starts (two that exclude each other, a value it
    /// cannot use): the message says what is wrong, <paramref name="action"/> what to pass instead.
    /// </summary>
    /// <param name="category">What kind of problem it is: by default, an argument the command cannot use.</param>
    public static ErrorRecord ForUsage(string id, string message, string action, object? target = null, Exception? exception = null,
        ErrorCategory category = ErrorCategory.InvalidArgument)
        => WithAction(new ErrorRecord(exception ?? new ArgumentException(message), id, category, target), message, action);

    /// <summary>The record for a wildcard pattern of a file parameter that matches no file (DataFileNotFound).</summary>
    public static ErrorRecord NoFileMatches(string parameter, string pattern)
    {
        string message = $"-{parameter} {pattern} matches no file.";
        return ForUsage(DataFileException.DataFileNotFound, message, "Check the folder and the pattern (Get-ChildItem shows what it matches).",
            pattern, new FileNotFoundException(message), ErrorCategory.ObjectNotFound);
    }

    /// <summary>
    /// What <paramref name="parse"/> makes of a value the user gave; when it refuses the value (FormatException,
    /// ArgumentException), the command stops with the usage record <paramref name="id"/>: its message, and <paramref name="action"/>.
    /// </summary>
    public static T ParseOrStop<T>(PSCmdlet cmdlet, Func<T> parse, string id, string action, object? target)
    {
        try
        {
            return parse();
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            CancellableCmdlet.Stop(cmdlet, ForUsage(id, ex.Message, action, target, ex));
            throw; // not reached: Stop throws
        }
    }

    /// <summary>The ErrorRecord for a row that produced no code (written as a non-terminating error).</summary>
    /// <param name="targetObject">The row as the user gave it (a pipeline object, or a file's row as an object).</param>
    public static ErrorRecord ForRow(RowError error, object? targetObject, PSCmdlet cmdlet)
        => WithAction(new ErrorRecord(new RowFailedException(error), error.ErrorId, CategoryOf(error), targetObject), error.Message, RowAction(error, cmdlet));

    /// <summary>True when the command in use has <paramref name="parameter"/>, declared on it or among the parameter groups it offers (<see cref="ParameterGroups"/>).</summary>
    internal static bool HasParameter(PSCmdlet cmdlet, string parameter)
        => cmdlet.MyInvocation.MyCommand.Parameters.ContainsKey(parameter)
            || (cmdlet is IDynamicParameters dynamic && dynamic.GetDynamicParameters() is RuntimeDefinedParameterDictionary offered && offered.ContainsKey(parameter));

    private static ErrorRecord WithAction(ErrorRecord record, string message, string? action)
    {
        if (action is not null)
        {
            record.ErrorDetails = new ErrorDetails(message) { RecommendedAction = action };
        }
        return record;
    }

    internal static ErrorCategory CategoryOf(DataFileException error) => error.ErrorId switch
    {
        DataFileException.DataFileNotFound => ErrorCategory.ObjectNotFound,
        DataFileException.MissingInputColumn => ErrorCategory.ObjectNotFound,
        DataFileException.OutputColumnExists or DataFileException.OutputFileExists => ErrorCategory.ResourceExists,
        DataFileException.OutputInUse => ErrorCategory.ResourceBusy,
        DataFileException.UnsafeSideFile => ErrorCategory.SecurityError,
        DataFileException.OutputWriteFailed => ErrorCategory.WriteError,
        DataFileException.UnknownDataFormat or DataFileException.SameInputAndOutput or DataFileException.UnknownCodeLanguage => ErrorCategory.InvalidArgument,
        DataFileException.CodeFileUnreadable => ErrorCategory.ReadError,
        _ => ErrorCategory.InvalidData,
    };

    internal static ErrorCategory CategoryOf(RowError error) => error.Kind switch
    {
        RowErrorKind.MissingInputColumn => ErrorCategory.ObjectNotFound,
        RowErrorKind.OutputColumnExists => ErrorCategory.ResourceExists,
        RowErrorKind.EmptyInstruction => ErrorCategory.InvalidData,
        RowErrorKind.TemplateColumnMissing => ErrorCategory.ObjectNotFound,
        RowErrorKind.RequestTooLarge => ErrorCategory.LimitsExceeded,
        RowErrorKind.HttpError => CategoryOfStatus(error.StatusCode ?? 0, error.ServerCode),
        RowErrorKind.InvalidResponse => ErrorCategory.InvalidResult,
        RowErrorKind.ConnectionFailed => ErrorCategory.ConnectionError,
        RowErrorKind.Timeout => ErrorCategory.OperationTimeout,
        RowErrorKind.ContentFiltered => ErrorCategory.PermissionDenied,
        RowErrorKind.CircuitOpen => ErrorCategory.ResourceUnavailable,
        RowErrorKind.SignInFailed => ErrorCategory.AuthenticationError,
        RowErrorKind.BatchResultMissing => ErrorCategory.ObjectNotFound,
        RowErrorKind.CacheMiss => ErrorCategory.ObjectNotFound,
        RowErrorKind.Cancelled => ErrorCategory.OperationStopped,
        RowErrorKind.InternalError => ErrorCategory.NotSpecified,
        _ => throw new ArgumentOutOfRangeException(nameof(error), error.Kind, "Not a known kind of row error."),
    };

    /// <summary>The category of an HTTP status, for chat requests and for the files and batches APIs alike (null: no answer).</summary>
    private static ErrorCategory CategoryOfStatus(int? status, string? serverCode = null) => status switch
    {
        null => ErrorCategory.ConnectionError,
        400 or 422 => ErrorCategory.InvalidArgument,
        401 => ErrorCategory.AuthenticationError,
        403 => ErrorCategory.PermissionDenied,
        404 => ErrorCategory.ObjectNotFound,
        408 => ErrorCategory.OperationTimeout,
        409 => ErrorCategory.ResourceBusy,
        413 => ErrorCategory.LimitsExceeded,
        429 when serverCode == "insufficient_quota" => ErrorCategory.QuotaExceeded,
        429 => ErrorCategory.LimitsExceeded,
        >= 500 => ErrorCategory.ResourceUnavailable,
        _ => ErrorCategory.ProtocolError,
    };

    /// <summary>The files and batches APIs: a status the category mapping of chat requests does not single out is an unusable result.</summary>
    private static ErrorCategory CategoryOfBatchStatus(int? status) => status is null or 401 or 403 or 404 or 429 ? CategoryOfStatus(status) : ErrorCategory.InvalidResult;

    private static string? DataFileAction(DataFileException error, Func<string, bool> has, bool batch) => error.ErrorId switch
    {
        DataFileException.OutputFileExists when batch => "Pass -Force to replace it with the output of a new batch job.",
        DataFileException.OutputFileExists when has("Resume") => "Pass -Resume to continue it, or -Force to replace it.",
        DataFileException.OutputFileExists when has("OutputPath") => "Pass -Force to replace it, or write to another -OutputPath.",
        DataFileException.OutputFileExists when has("Force") => "Pass -Force to replace it.",
        DataFileException.OutputInUse => "Wait for the other run to end (or stop it), or write to another output.",
        DataFileException.UnsafeSideFile => "Find out who put it there; then remove it, or write the output to a folder only you can write to.",
        DataFileException.OutputWriteFailed => WriteFailedAction(error, has, batch),
        DataFileException.UnknownDataFormat when has("Format") && has("InputFormat") => "Name the file .csv, .json or .jsonl, or pass -Format csv, json or jsonl (or -InputFormat and -OutputFormat).",
        DataFileException.UnknownDataFormat when has("Format") => "Name the file .csv, .json or .jsonl, or pass -Format csv, json or jsonl.",
        DataFileException.UnknownDataFormat when has("InputFormat") => "Name the file .csv, .json or .jsonl, or pass -InputFormat csv, json or jsonl.",
        DataFileException.UnknownDataFormat => "Name the file .csv, .json or .jsonl.",
        DataFileException.MissingInputColumn => "Pass -InputKey with the name of the column that holds the instruction.",
        DataFileException.UnknownCodeLanguage => "Pass -Language to name the language of the code, or leave the file out.",
        DataFileException.OutputColumnExists when has("Force") => "Pass -Force to overwrite the column, or -OutputKey to write a different one.",
        _ when error.StartOver && has("Force") => "Pass -Force to start over: the output is replaced and every row is generated again.",
        _ => null,
    };

    /// <summary>What to fix (space, or the folder's permissions) and how to go on without paying again for what is kept.</summary>
    private static string WriteFailedAction(DataFileException error, Func<string, bool> has, bool batch)
    {
        string folder = System.IO.Path.GetDirectoryName(error.Path) ?? error.Path;
        string fix = DiskWrites.IsDiskFull(error.InnerException) ? $"Free space on the disk of {folder}" : $"Make {folder} writable (its permissions, a read-only disk)";
        string next = batch ? "run the same command again: the batch job continues from the state saved beside the output."
            : has("Resume") ? "run the same command again with -Resume: the rows written and the answers kept in the journal are not paid for again."
            : "run the command again.";
        return $"{fix}, then {next}";
    }

    /// <summary>How to set what an endpoint configuration lacks, naming the parameters the command has (and the variables that serve every command).</summary>
    internal static string? EndpointAction(EndpointProblem problem, Func<string, bool> has) => problem switch
    {
        EndpointProblem.NoEndpoint when has("Endpoint") => $"Pass -Endpoint (for example http://localhost:11434/v1 for Ollama), set one for the session with Set-CodeGenEndpoint, or set CODEGEN_ENDPOINT; for OpenAI itself, set CODEGEN_API_KEY or OPENAI_API_KEY and the endpoint is {LlmEndpoint.OpenAIBaseUrl}.",
        EndpointProblem.NoEndpoint => $"Set an endpoint with Set-CodeGenEndpoint -Endpoint or CODEGEN_ENDPOINT; for OpenAI itself, set CODEGEN_API_KEY or OPENAI_API_KEY and the endpoint is {LlmEndpoint.OpenAIBaseUrl}.",
        EndpointProblem.NoAzureEndpoint when has("Endpoint") => "Pass -Endpoint https://<resource>.openai.azure.com (with -Deployment, or -Model for the /openai/v1 API), or set AZURE_OPENAI_ENDPOINT.",
        EndpointProblem.NoAzureEndpoint => "Set the resource with Set-CodeGenEndpoint -Endpoint https://<resource>.openai.azure.com, or AZURE_OPENAI_ENDPOINT.",
        EndpointProblem.NoModel when has("Model") => "Pass -Model (for example -Model gpt-4o-mini), set one for the session with Set-CodeGenEndpoint -Model, or set CODEGEN_MODEL.",
        EndpointProblem.NoModel => "Set a model with Set-CodeGenEndpoint -Model, or CODEGEN_MODEL.",
        EndpointProblem.DeploymentNotAzure when has("Provider") => "Pass -Provider AzureOpenAI with -Deployment (an endpoint https://<resource>.openai.azure.com implies it), or -Model for this provider.",
        EndpointProblem.DeploymentNotAzure => "Set the provider with Set-CodeGenEndpoint -Provider AzureOpenAI (or CODEGEN_PROVIDER=AzureOpenAI), or a model with -Model.",
        EndpointProblem.EntraIdNotAzure when has("Provider") => "Pass -Provider AzureOpenAI (or set CODEGEN_PROVIDER=AzureOpenAI).",
        EndpointProblem.EntraIdNotAzure => "Set the provider with Set-CodeGenEndpoint -Provider AzureOpenAI, or CODEGEN_PROVIDER=AzureOpenAI.",
        EndpointProblem.ApiNotServed when has("Api") => "Pass -Api ChatCompletions or Responses for OpenAI and Azure OpenAI, -Api Messages (or none) for Anthropic.",
        EndpointProblem.ApiNotServed => "Set an API the provider serves with Set-CodeGenEndpoint -Api, or CODEGEN_API.",
        EndpointProblem.Unencrypted when has("AllowUnencryptedAuthentication") => "Use https, or pass -AllowUnencryptedAuthentication if this network is trusted.",
        EndpointProblem.Unencrypted => "Use https.",
        _ => null,
    };

    private static string? BatchJobAction(BatchJobException error, Func<string, bool> has) => error.ErrorId switch
    {
        BatchJobException.BatchAlreadyMerged when has("Resume") => "Run with -Resume (without -Batch) to fill the rows that failed, or -Force -Batch to start a new batch job.",
        BatchJobException.BatchMismatch when has("Force") => "Run with the input, endpoint, model and options the job was made with to continue it, or pass -Force to start a new batch job.",
        BatchJobException.BatchFailed when has("Force") => "Fix the cause the provider gave and pass -Force to start a new batch job.",
        _ => null,
    };

    /// <summary>Advice for a row's error that names only parameters <paramref name="cmdlet"/> has, or the command to run next; null when there is none.</summary>
    internal static string? RowAction(RowError error, PSCmdlet cmdlet)
    {
        bool Has(string parameter) => HasParameter(cmdlet, parameter);
        string again = Has("Resume") ? "run the command again (with a file, -Resume continues where it stopped)" : "run the batch again";
        return error.Kind switch
        {
            RowErrorKind.MissingInputColumn => "Pass -InputKey with the name of the column that holds the instruction.",
            RowErrorKind.OutputColumnExists => "Pass -Force to overwrite the column, or -OutputKey to write a different one.",
            RowErrorKind.TemplateColumnMissing => "Fix the placeholder in -PromptTemplate or -Language, or add the column to the input.",
            RowErrorKind.RequestTooLarge => "Shorten the row's text or split the task into smaller ones: no model takes a prompt this long.",
            RowErrorKind.SignInFailed => "Sign in where DefaultAzureCredential finds it (az login, Connect-AzAccount, a managed identity, or AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET), or pass a token with -Token.",
            RowErrorKind.HttpError when error.StatusCode is 401 or 403 && error.ServerCode is "authentication_error" or "permission_error" && Has("ApiKey")
                => "Check the API key (-ApiKey, CODEGEN_API_KEY or ANTHROPIC_API_KEY; ANTHROPIC_API_KEY is sent only to api.anthropic.com, ANTHROPIC_BASE_URL and this machine).",
            RowErrorKind.HttpError when error.StatusCode is 401 or 403 && Has("ApiKey") => "Check the API key (-ApiKey or CODEGEN_API_KEY; OPENAI_API_KEY is sent only to api.openai.com, OPENAI_BASE_URL and this machine).",
            RowErrorKind.HttpError when error.StatusCode is 400 && (error.ServerMessage?.Contains("only supported in v1/responses", StringComparison.OrdinalIgnoreCase) ?? false) && Has("Api")
                => "Pass -Api Responses, or leave -Api out (and -Endpoint a base URL): a run then moves to the Responses API by itself.",
            RowErrorKind.HttpError when error.StatusCode is 404 && Has("Endpoint") => "Check -Endpoint and -Model (or -Deployment for Azure OpenAI).",
            RowErrorKind.HttpError when error.StatusCode is 401 or 403 or 404 => "Check the key, the endpoint and the model the batch was run with.",
            RowErrorKind.HttpError when error.ServerCode == "insufficient_quota" => $"Add credit or raise the quota of the account, then {again}.",
            RowErrorKind.InvalidResponse when error.AtTokenLimit && Has("MaxTokens") => "Raise -MaxTokens (a reasoning model spends part of it on reasoning).",
            RowErrorKind.CircuitOpen => $"Check that the endpoint is up, then {again}.",
            RowErrorKind.ConnectionFailed => "Check that the endpoint is running and reachable (-Endpoint or CODEGEN_ENDPOINT).",
            RowErrorKind.BatchResultMissing when cmdlet.MyInvocation.MyCommand.Name == "Invoke-CodeInstructionToCode"
                => "Run the same command with -Resume instead of -Batch: it generates the rows without code live.",
            RowErrorKind.BatchResultMissing => "Run Invoke-CodeInstructionToCode -Path <input> -OutputPath <output> -Resume to generate the rows without code live.",
            RowErrorKind.CacheMiss => "Record the answer once against a live endpoint (-CacheMode ReadWrite), or check that -Endpoint, -Model, the prompt and the request parameters are the ones it was recorded with.",
            _ => null,
        };
    }
}
