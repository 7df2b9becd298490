using System.Text.Json;
using CodeGen.Core.Storage;

namespace CodeGen.Core.Llm;

/// <summary>
/// <c>codegen-cache.json</c>, at the top of a response cache folder: it names the key format of the entries, so a
/// folder written in another format (or by a CodeGen from before formats), none of whose entries could ever match,
/// is refused with a message instead of missing on every request.
/// </summary>
internal static class CacheManifest
{
    /// <summary>
    /// Refuses a folder whose entries this version could never match: another key format, or none (CodeGen before
    /// formats). True when the folder has a manifest (of this format).
    /// </summary>
    public static bool Check(string directory)
    {
        string manifest = Path.Combine(directory, ResponseCache.ManifestName);
        if (SideFile.Exists(manifest))
        {
            int? format = null;
            try
            {
                // a manifest is a few lines: a bigger file is not one (and a link or FIFO in its place is refused, not read)
                using var document = JsonDocument.Parse(SideFile.ReadAllBytes(manifest, 64 * 1024, "is larger than 64 KB, so it is not a manifest CodeGen wrote.") ?? "null"u8.ToArray());
                if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("format"u8, out var value) && value.TryGetInt32(out int number))
                {
                    format = number;
                }
            }
            catch (JsonException)
            {
            }
            if (format is null)
            {
                throw new ResponseCacheException($"The response cache '{directory}' has a {ResponseCache.ManifestName} that does not say its key format (a number under \"format\"), so its entries cannot be trusted to match.",
                    ResponseCacheException.CacheFormatUnsupported);
            }
            if (format != ResponseCache.KeyFormat)
            {
                throw new ResponseCacheException(
                    $"The response cache '{directory}' was recorded with key format {format}; this version of CodeGen computes keys in format {ResponseCache.KeyFormat}, " +
                    "so none of its answers could be found. Nothing was read from it or sent.",
                    ResponseCacheException.CacheFormatUnsupported);
            }
            return true;
        }
        bool legacy = Directory.EnumerateDirectories(directory)
            .Where(d => Path.GetFileName(d) is { Length: 2 } name && name.All(char.IsAsciiHexDigitLower))
            .Any(d => Directory.EnumerateFiles(d, "*.json").Any());
        if (legacy && SideFile.Exists(manifest))
        {
            // another run sharing the folder wrote its manifest (and then entries) while this one looked: a folder of this format
            return Check(directory);
        }
        if (legacy)
        {
            throw new ResponseCacheException(
                $"The response cache '{directory}' holds answers recorded by an earlier version of CodeGen, whose keys this version does not compute (it has no {ResponseCache.ManifestName}), " +
                "so none of them could be found. Nothing was read from it or sent.",
                ResponseCacheException.CacheFormatUnsupported);
        }
        return false;
    }

    /// <summary>The manifest's file, written before the first entry of a folder.</summary>
    public static byte[] Write() => CacheFileJson.Write(256, writer =>
    {
        writer.WriteStartObject();
        writer.WriteNumber("format"u8, ResponseCache.KeyFormat);
        writer.WriteString("about"u8, "Answers recorded by CodeGen's response cache: one file per request, <first two hex digits of the key>/<key>.json. No API key or header is stored.");
        writer.WriteEndObject();
    });
}
