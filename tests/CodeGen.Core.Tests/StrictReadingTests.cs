using System.Text;
using System.Text.Json.Nodes;
using CodeGen.Core.Extraction;
using CodeGen.Core.Llm;

namespace CodeGen.Core.Tests;

/// <summary>
/// Answers read strictly, in every API's shape: what a probe with hostile servers found in the reader (parts glued code
/// to code, a choice taken by position, negative or overflowing usage summed, C1 controls in error text, reserved fields
/// set in another letter case).
/// </summary>
public class StrictReadingTests
{
    private static ChatAnswer Read(WireApi api, string json)
        => api.ParseAnswer(Encoding.UTF8.GetBytes(json), out var problem) ?? throw new Xunit.Sdk.XunitException(problem);

    public static TheoryData<string, string> TwoBlocksInTwoParts => new()
    {
        { nameof(WireApi.ChatCompletions), """{"choices":[{"index":0,"message":{"content":[{"type":"text","text":"```python\nfirst()\n```"},{"type":"text","text":"```python\nsecond()\n```"}]}}]}""" },
        { nameof(WireApi.Responses), """{"object":"response","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"```python\nfirst()\n```"},{"type":"output_text","text":"```python\nsecond()\n```"}]}]}""" },
        { nameof(WireApi.Messages), """{"type":"message","content":[{"type":"text","text":"```python\nfirst()\n```"},{"type":"text","text":"```python\nsecond()\n```"}],"stop_reason":"end_turn"}""" },
    };

    private static WireApi Api(string name) => name switch
    {
        nameof(WireApi.ChatCompletions) => WireApi.ChatCompletions,
        nameof(WireApi.Responses) => WireApi.Responses,
        _ => WireApi.Messages,
    };

    [Theory]
    [MemberData(nameof(TwoBlocksInTwoParts))]
    public void Text_parts_are_joined_as_parts_so_two_code_blocks_stay_two(string api, string json)
    {
        var answer = Read(Api(api), json);
        Assert.Equal("```python\nfirst()\n```\n```python\nsecond()\n```", answer.Content);
        var extracted = CodeExtractor.Extract(answer.Content!, "python");
        Assert.DoesNotContain("```", extracted.Code);
        Assert.Contains("first()", extracted.Code);
    }

    [Fact]
    public void The_choice_is_the_one_whose_index_is_0_wherever_it_stands()
    {
        var answer = Read(WireApi.ChatCompletions, """{"choices":[{"index":1,"message":{"content":"second"}},{"index":0,"message":{"content":"first"}}]}""");
        Assert.Equal("first", answer.Content);
        Assert.Null(WireApi.ChatCompletions.ParseAnswer("""{"choices":[{"index":3,"message":{"content":"x"}}]}"""u8, out var problem));
        Assert.Contains("index 0", problem);
    }

    [Theory]
    [InlineData("""{"prompt_tokens":-5,"completion_tokens":3,"total_tokens":-2}""")]
    [InlineData("""{"prompt_tokens":9223372036854775807,"completion_tokens":9223372036854775807}""")]
    [InlineData("""{"prompt_tokens":1e30,"completion_tokens":3}""")]
    [InlineData("""{"prompt_tokens":2.5,"completion_tokens":3}""")]
    [InlineData("""{"prompt_tokens":1,"completion_tokens":3,"completion_tokens_details":{"reasoning_tokens":-1}}""")]
    public void Usage_that_is_no_count_of_tokens_is_refused_not_summed(string usage)
    {
        var answer = Read(WireApi.ChatCompletions, """{"choices":[{"message":{"content":"x"}}],"usage":""" + usage + "}");
        Assert.Null(answer.Usage);
    }

    [Fact]
    public void Usage_is_refused_in_every_APIs_shape()
    {
        Assert.Null(Read(WireApi.Responses, """{"object":"response","status":"completed","output":[],"usage":{"input_tokens":-1,"output_tokens":5}}""").Usage);
        Assert.Null(Read(WireApi.Messages, """{"type":"message","content":[],"usage":{"input_tokens":5,"output_tokens":5,"cache_read_input_tokens":-100}}""").Usage);
        Assert.NotNull(Read(WireApi.Messages, """{"type":"message","content":[],"usage":{"input_tokens":5,"output_tokens":5}}""").Usage);
    }

    [Fact]
    public void C1_control_characters_in_a_servers_text_are_replaced_like_C0_ones()
    {
        // U+009B is a one-character CSI: a terminal would take what follows as a command
        string shown = ErrorBody.Shown("bad\u009b2Jthing\u0085next\u007f.");
        Assert.Equal("bad\uFFFD2Jthing\uFFFDnext\uFFFD.", shown);
        Assert.Equal("tab\tand\nlines stay, é and ü too", ErrorBody.Shown("tab\tand\nlines stay, é and ü too"));
    }

    [Theory]
    [InlineData("Model")]
    [InlineData("MESSAGES")]
    [InlineData("Stream")]
    [InlineData("Input")]
    [InlineData("System")]
    public void A_reserved_field_in_another_letter_case_is_refused(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => new AdditionalBody([new(name, JsonValue.Create(1))]));
        Assert.Contains($"'{name}'", error.Message);
    }

    [Fact]
    public void Two_fields_that_differ_only_in_case_are_refused_and_a_parameters_field_is_found_in_any_case()
    {
        var error = Assert.Throws<ArgumentException>(() => new AdditionalBody([new("seed", JsonValue.Create(1)), new("Seed", JsonValue.Create(2))]));
        Assert.Contains("differ only in case", error.Message);
        Assert.Throws<RequestParameterException>(() => WireApi.ChatCompletions.Check(new ChatParameters(Temperature: 0.2, AdditionalBody: new([new("Temperature", JsonValue.Create(1))])), null));
    }
}
