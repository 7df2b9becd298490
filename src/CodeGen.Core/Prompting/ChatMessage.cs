namespace CodeGen.Core.Prompting;

/// <summary>One message of a chat-completions request.</summary>
public readonly record struct ChatMessage(string Role, string Content)
{
    public static ChatMessage System(string content) => new("system", content);
    public static ChatMessage User(string content) => new("user", content);
}
