using CodeGen.Core.Rows;

namespace CodeGen.Core.Llm;

/// <summary>How a run uses its response cache.</summary>
public enum CacheMode
{
    /// <summary>Answer from the cache when it holds the request; otherwise send it and store the answer.</summary>
    ReadWrite,
    /// <summary>Answer only from the cache; a request it does not hold is a <see cref="RowErrorKind.CacheMiss"/>, never sent.</summary>
    ReadOnly,
    /// <summary>Send every request and replace what the cache holds for it.</summary>
    Refresh,
}
