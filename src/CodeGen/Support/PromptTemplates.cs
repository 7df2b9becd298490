using System.Management.Automation;
using CodeGen.Core.Prompting;

namespace CodeGen.Commands.Support;

internal static class PromptTemplates
{
    /// <summary>The parsed -PromptTemplate (null when none was given), or a terminating InvalidPromptTemplate error.</summary>
    public static PromptTemplate? ParseOrThrow(Cmdlet cmdlet, string? text)
    {
        if (text is null)
        {
            return null;
        }
        try
        {
            return PromptTemplate.Parse(text);
        }
        catch (FormatException ex)
        {
            cmdlet.ThrowTerminatingError(new ErrorRecord(ex, "InvalidPromptTemplate", ErrorCategory.InvalidArgument, text));
            throw; // not reached
        }
    }
}
