using System.Management.Automation;
using System.Text;

namespace CodeGen.Commands.Support;

/// <summary>
/// Lets -Encoding take the names PowerShell 7 uses (utf8, utf8BOM, utf8NoBOM, unicode, bigendianunicode,
/// utf32, ascii, latin1), any .NET encoding name or code page, or an Encoding object.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class EncodingTransformationAttribute : ArgumentTransformationAttribute
{
    internal static readonly string[] Names = ["utf8", "utf8BOM", "utf8NoBOM", "unicode", "bigendianunicode", "utf32", "ascii", "latin1"];

    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object? value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        return value switch
        {
            Encoding encoding => encoding,
            int codePage => Encoding.GetEncoding(codePage),
            string name => FromName(name),
            _ => inputData,
        };
    }

    internal static Encoding FromName(string name) => name.Trim().ToLowerInvariant() switch
    {
        "utf8" or "utf8nobom" or "utf-8" => new UTF8Encoding(false),
        "utf8bom" => new UTF8Encoding(true),
        "unicode" or "utf16" or "utf-16" => Encoding.Unicode,
        "bigendianunicode" => Encoding.BigEndianUnicode,
        "utf32" or "utf-32" => Encoding.UTF32,
        "ascii" => Encoding.ASCII,
        "latin1" => Encoding.Latin1,
        var other => int.TryParse(other, out int codePage) ? Encoding.GetEncoding(codePage) : GetByName(name),
    };

    private static Encoding GetByName(string name)
    {
        try
        {
            return Encoding.GetEncoding(name);
        }
        catch (ArgumentException)
        {
            throw new ArgumentTransformationMetadataException($"'{name}' is not an encoding. Use one of {string.Join(", ", Names)}, a code page number or a .NET encoding name.");
        }
    }
}
