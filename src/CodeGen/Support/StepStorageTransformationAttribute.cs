using System.Management.Automation;
using CodeGen.Core.Storage;

namespace CodeGen.Commands.Support;

/// <summary>
/// Lets -Storage be declared as <see cref="object"/> while it takes only what New-CodeGenStorage returns. The
/// module's types live in its own load context, where PowerShell cannot resolve them by name: a parameter of
/// such a type would break every proxy of the command (Pester's Mock among them). A plain type keeps proxies
/// working; this attribute keeps the binding as strict as the typed parameter was.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class StepStorageTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
        => (inputData is PSObject wrapped ? wrapped.BaseObject : inputData) as StepStorage
            ?? throw new ArgumentTransformationMetadataException(
                $"-Storage takes the object New-CodeGenStorage returns, not {(inputData is null ? "null" : (inputData is PSObject o ? o.BaseObject : inputData).GetType().Name)}.");
}
