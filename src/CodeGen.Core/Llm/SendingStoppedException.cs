namespace CodeGen.Core.Llm;

/// <summary>
/// An attempt that was not sent because the run stopped sending (<see cref="LlmClient.StopSending"/>): its row is
/// answered as not sent, and no retry follows.
/// </summary>
public sealed class SendingStoppedException : Exception
{
    public SendingStoppedException()
        : base("not sent: the run stopped sending new requests.")
    {
    }
}
