using System.Management.Automation;

namespace CodeGen.Commands.Support;

/// <summary>
/// Lets a parameter that names a column as <c>{column}</c> take it unquoted: PowerShell reads <c>-Language {language}</c>
/// as a script block, whose text is the column's name, and would otherwise pass on only that text (a literal
/// "language"). The braces are put back; a string is left as it is.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class PlaceholderTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
        => (inputData is PSObject wrapped ? wrapped.BaseObject : inputData) is ScriptBlock block ? "{" + block.ToString().Trim() + "}" : inputData;
}
