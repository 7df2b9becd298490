using System.Management.Automation;
using System.Reflection;

namespace CodeGen.Commands.Support;

/// <summary>
/// How a CodeGen command stops (a terminating error, or a row error under -ErrorAction Stop): it carries the mapped
/// ErrorRecord (id, category, target, message and recommendation) wherever PowerShell puts it. PowerShell puts the
/// exception itself, not its record, into -ErrorVariable; so this one reads as its record does (its text is the
/// record's message, never a stack trace) and has the record's members (FullyQualifiedErrorId, CategoryInfo,
/// ErrorDetails, Exception, TargetObject, InvocationInfo), so that a script can treat every item of $ev alike.
/// </summary>
/// <remarks>
/// It is a <see cref="CmdletInvocationException"/>, the type PowerShell wraps a cmdlet's terminating error in, so
/// PowerShell neither wraps it again nor loses the record, and a catch that names that type still catches it.
/// </remarks>
public sealed class CommandStoppedException : CmdletInvocationException
{
    /// <summary>ErrorRecord.SetInvocationInfo, what ThrowTerminatingError and WriteError use to say which command failed where.</summary>
    private static readonly MethodInfo? SetInvocationInfo = typeof(ErrorRecord).GetMethod("SetInvocationInfo", BindingFlags.Instance | BindingFlags.NonPublic,
        binder: null, [typeof(InvocationInfo)], modifiers: null);

    private readonly ErrorRecord _record;

    private CommandStoppedException(ErrorRecord record)
        : base(record.ErrorDetails?.Message is { Length: > 0 } message ? message : record.Exception.Message, record.Exception)
        => _record = record;

    /// <summary>The exception that stops <paramref name="cmdlet"/> with <paramref name="record"/>; null when this PowerShell cannot tell the record which command it came from.</summary>
    internal static CommandStoppedException? For(ErrorRecord record, PSCmdlet cmdlet)
    {
        if (SetInvocationInfo is null)
        {
            return null;
        }
        if (record.InvocationInfo is null)
        {
            SetInvocationInfo.Invoke(record, [cmdlet.MyInvocation]);
        }
        return new CommandStoppedException(record);
    }

    public override ErrorRecord ErrorRecord => _record;

    public string FullyQualifiedErrorId => _record.FullyQualifiedErrorId;

    public ErrorCategoryInfo CategoryInfo => _record.CategoryInfo;

    public ErrorDetails? ErrorDetails => _record.ErrorDetails;

    /// <summary>The record's exception (what the engine raised), as $_.Exception is in a catch.</summary>
    public Exception Exception => _record.Exception;

    public object? TargetObject => _record.TargetObject;

    public InvocationInfo InvocationInfo => _record.InvocationInfo;

    /// <summary>The record's text: what the host shows, without a stack trace.</summary>
    public override string ToString() => _record.ToString();
}
