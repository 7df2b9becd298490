using System.Text;
using System.Text.Json;
using CodeGen.Core.Llm;
using CodeGen.Core.Prompting;

namespace CodeGen.Core.Tests;

public class ChatWireTests
{
    private static ChatAnswer? Parse(string json, out string? problem) => ChatAnswer.Parse(Encoding.UTF8.GetBytes(json), out problem);

    [Fact]
    public void Request_body_has_model_messages_and_only_the_parameters_given()
    {
        var body = WireApi.ChatCompletions.ToUtf8("gpt-4o-mini", [ChatMessage.System("sys"), ChatMessage.User("Write \"x\" ünïcode\n")], new ChatParameters(0.2, 256), WireRules.AsGiven);
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        Assert.Equal("gpt-4o-mini", root.GetProperty("model").GetString());
        Assert.Equal(0.2, root.GetProperty("temperature").GetDouble());
        Assert.Equal(256, root.GetProperty("max_tokens").GetInt32());
        var messages = root.GetProperty("messages");
        Assert.Equal("system", messages[0].GetProperty("role").GetString());
        Assert.Equal("Write \"x\" ünïcode\n", messages[1].GetProperty("content").GetString());

        using var bare = JsonDocument.Parse(WireApi.ChatCompletions.ToUtf8("m", [ChatMessage.User("u")], new ChatParameters(), WireRules.AsGiven));
        Assert.False(bare.RootElement.TryGetProperty("temperature", out _));
        Assert.False(bare.RootElement.TryGetProperty("max_tokens", out _));
    }

    [Fact]
    public void Reads_a_full_openai_answer()
    {
        var answer = Parse("""
            {"id":"c1","object":"chat.completion","created":1,"model":"m",
             "choices":[{"index":0,"message":{"role":"assistant","content":"```py\nx\n```"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}
            """, out _)!;
        Assert.Equal("```py\nx\n```", answer.Content);
        Assert.Equal("stop", answer.FinishReason);
        Assert.Equal(new TokenUsage(10, 5, 15), answer.Usage);
    }

    [Fact]
    public void Reads_minimal_and_unusual_shapes()
    {
        var minimal = Parse("""{"choices":[{"message":{"content":"hi"}}]}""", out _)!;
        Assert.Equal("hi", minimal.Content);
        Assert.Null(minimal.Usage);
        Assert.Null(minimal.FinishReason);

        var reasoning = Parse("""{"choices":[{"message":{"content":"c","reasoning_content":"r"},"finish_reason":"stop"}]}""", out _)!;
        Assert.Equal("r", reasoning.Reasoning);

        var nullContent = Parse("""{"choices":[{"message":{"content":null,"refusal":"no"},"finish_reason":"stop"}]}""", out _)!;
        Assert.Null(nullContent.Content);
        Assert.Equal("no", nullContent.Refusal);

        // each text part is a whole piece of the answer: a line break between two, not a glue that would merge two code blocks
        var parts = Parse("""{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]}}]}""", out _)!;
        Assert.Equal("a\nb", parts.Content);

        var legacy = Parse("""{"choices":[{"text":"old style","finish_reason":"length"}]}""", out _)!;
        Assert.Equal("old style", legacy.Content);

        var noTotal = Parse("""{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":3,"completion_tokens":4}}""", out _)!;
        Assert.Equal(7, noTotal.Usage!.Value.TotalTokens);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("{\"choices\":[{\"message\":{\"content\":\"cut", "not valid JSON")]
    [InlineData("{\"choices\":[]}", "no choices")]
    [InlineData("{\"object\":\"chat.completion\"}", "no choices")]
    [InlineData("[1,2]", "not an object")]
    [InlineData("{\"choices\":[{\"index\":0}]}", "no message")]
    [InlineData("{\"error\":{\"message\":\"model overloaded\"}}", "model overloaded")]
    public void Unusable_bodies_say_why(string json, string reason)
    {
        Assert.Null(Parse(json, out var problem));
        Assert.Contains(reason, problem);
    }

    [Theory]
    [InlineData("{\"error\":{\"message\":\"Incorrect API key\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}", "Incorrect API key", "invalid_api_key")]
    [InlineData("{\"object\":\"error\",\"message\":\"model not found\",\"type\":\"NotFoundError\",\"code\":404}", "model not found", "404")]
    [InlineData("{\"error\":\"model 'x' not found, try pulling it first\"}", "model 'x' not found, try pulling it first", null)]
    [InlineData("{\"detail\":\"Not Found\"}", "Not Found", null)]
    [InlineData("<html>502 Bad Gateway</html>", "<html>502 Bad Gateway</html>", null)]
    public void Error_bodies_of_every_server_flavour_are_read(string body, string message, string? code)
    {
        var (m, c) = ErrorBody.Read(body);
        Assert.Equal(message, m);
        Assert.Equal(code, c);
    }
}
