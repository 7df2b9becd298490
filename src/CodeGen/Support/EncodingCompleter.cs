using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace CodeGen.Commands.Support;

/// <summary>Tab completion of -Encoding with the names <see cref="EncodingTransformationAttribute"/> understands.</summary>
public sealed class EncodingCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        foreach (var name in EncodingTransformationAttribute.Names)
        {
            if (name.StartsWith(wordToComplete ?? string.Empty, StringComparison.OrdinalIgnoreCase))
            {
                yield return new CompletionResult(name, name, CompletionResultType.ParameterValue, name);
            }
        }
    }
}
