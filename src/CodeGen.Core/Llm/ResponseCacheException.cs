namespace CodeGen.Core.Llm;

/// <summary>A response cache that cannot be used as it is: missing (read-only), or written in a key format this version does not read.</summary>
public sealed class ResponseCacheException : Exception
{
    public const string CacheNotFound = "CacheNotFound";
    public const string CacheFormatUnsupported = "CacheFormatUnsupported";

    public ResponseCacheException(string message, string errorId, Exception? inner = null) : base(message, inner) => ErrorId = errorId;

    public string ErrorId { get; }
}
