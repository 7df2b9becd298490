using System.Management.Automation;
using CodeGen.Core.Rows;

namespace CodeGen.Commands.Support;

/// <summary>Turns engine row errors into ErrorRecords with stable ids and fitting categories.</summary>
internal static class RowErrorRecords
{
    /// <param name="cmdlet">The command in use: advice names only its parameters, or the command to run next.</param>
    public static ErrorRecord Create(RowError error, object? targetObject, PSCmdlet cmdlet)
    {
        var record = new ErrorRecord(new RowFailedException(error), error.ErrorId, CategoryOf(error), targetObject);
        string? action = RecommendedAction(error, cmdlet);
        if (action is not null)
        {
            record.ErrorDetails = new ErrorDetails(error.Message) { RecommendedAction = action };
        }
        return record;
    }

    internal static ErrorCategory CategoryOf(RowError error) => error.Kind switch
    {
        RowErrorKind.MissingInputColumn => ErrorCategory.ObjectNotFound,
        RowErrorKind.OutputColumnExists => ErrorCategory.ResourceExists,
        RowErrorKind.EmptyInstruction => ErrorCategory.InvalidData,
        RowErrorKind.TemplateColumnMissing => ErrorCategory.ObjectNotFound,
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
        _ => ErrorCategory.NotSpecified,
    };

    private static ErrorCategory CategoryOfStatus(int status, string? serverCode) => status switch
    {
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

    /// <summary>Advice for the row's error that names only parameters <paramref name="cmdlet"/> has, or the command to run next; null when there is none.</summary>
    internal static string? RecommendedAction(RowError error, PSCmdlet cmdlet)
    {
        bool Has(string parameter) => cmdlet.MyInvocation.MyCommand.Parameters.ContainsKey(parameter);
        string again = Has("Resume") ? "run the command again (with a file, -Resume continues where it stopped)" : "run the batch again";
        return error.Kind switch
        {
            RowErrorKind.MissingInputColumn => "Pass -InputKey with the name of the column that holds the instruction.",
            RowErrorKind.OutputColumnExists => "Pass -Force to overwrite the column, or -OutputKey to write a different one.",
            RowErrorKind.TemplateColumnMissing => "Fix the placeholder in -PromptTemplate, or add the column to the input.",
            RowErrorKind.SignInFailed => "Sign in where DefaultAzureCredential finds it (az login, Connect-AzAccount, a managed identity, or AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET), or pass a token with -Token.",
            RowErrorKind.HttpError when error.StatusCode is 401 or 403 && Has("ApiKey") => "Check the API key (-ApiKey or CODEGEN_API_KEY; OPENAI_API_KEY is sent only to api.openai.com, OPENAI_BASE_URL and this machine).",
            RowErrorKind.HttpError when error.StatusCode is 404 && Has("Endpoint") => "Check -Endpoint and -Model (or -Deployment for Azure OpenAI).",
            RowErrorKind.HttpError when error.StatusCode is 401 or 403 or 404 => "Check the key, the endpoint and the model the batch was run with.",
            RowErrorKind.HttpError when error.ServerCode == "insufficient_quota" => $"Add credit or raise the quota of the account, then {again}.",
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
