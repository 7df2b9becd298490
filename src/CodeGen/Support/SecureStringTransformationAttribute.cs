using System.Management.Automation;
using System.Net;
using System.Security;

namespace CodeGen.Commands.Support;

/// <summary>Lets a plain string bind to a SecureString parameter (-ApiKey 'sk-...'), as well as a SecureString.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class SecureStringTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object? value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        if (value is string text)
        {
            var secure = new SecureString();
            foreach (char c in text)
            {
                secure.AppendChar(c);
            }
            secure.MakeReadOnly();
            return secure;
        }
        return inputData;
    }

    /// <summary>The text of a SecureString, for the one place that needs it (the HTTP auth header).</summary>
    internal static string? Reveal(SecureString? secure)
        => secure is null || secure.Length == 0 ? null : new NetworkCredential(string.Empty, secure).Password;
}
