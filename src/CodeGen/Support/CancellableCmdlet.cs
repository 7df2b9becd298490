using System.Management.Automation;

namespace CodeGen.Commands.Support;

/// <summary>
/// The one home of cancellation for CodeGen's cmdlets: Ctrl+C (<see cref="StopProcessing"/>) cancels
/// <see cref="StoppingToken"/>, which every call that can wait (HTTP, file runs, batch polls) is given, and the token's
/// source is disposed with the cmdlet. A cmdlet that has more to stop (a run in flight) adds it in <see cref="OnStopping"/>.
/// </summary>
public abstract class CancellableCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Cancelled when the user stops the command (Ctrl+C, or the pipeline ends early).</summary>
    protected CancellationToken StoppingToken => _stopping.Token;

    protected sealed override void StopProcessing()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (ObjectDisposedException)
        {
            return; // the command has ended already
        }
        OnStopping();
    }

    /// <summary>
    /// Runs a call into the engine with the one catch ladder every command uses: Ctrl+C ends the pipeline, and any other
    /// exception the call raises stops the command with the ErrorRecord of <see cref="ErrorRecords.ForException"/>
    /// (PowerShell's own, a stop among them, go on as they are).
    /// </summary>
    /// <param name="target">What the call works on (the output, a batch id), for the ErrorRecord.</param>
    /// <param name="batch">The call runs a batch job, which changes the advice for an output in the way.</param>
    protected T Engine<T>(Func<T> call, object? target, bool batch = false)
    {
        try
        {
            return call();
        }
        catch (OperationCanceledException) when (StoppingToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException(); // Ctrl+C: the calls in flight were abandoned
        }
        catch (Exception ex) when (ex is not RuntimeException and not FlowControlException)
        {
            ThrowTerminatingError(ErrorRecords.ForException(ex, this, target, batch));
            throw; // not reached: ThrowTerminatingError throws
        }
    }

    /// <inheritdoc cref="Engine{T}(Func{T}, object?, bool)"/>
    protected void Engine(Action call, object? target, bool batch = false) => Engine(() =>
    {
        call();
        return true;
    }, target, batch);

    /// <summary>
    /// Stops the command with <paramref name="errorRecord"/>, the one way CodeGen's commands do (it hides
    /// <see cref="Cmdlet.ThrowTerminatingError"/>): see <see cref="Stop"/>.
    /// </summary>
    public new void ThrowTerminatingError(ErrorRecord errorRecord) => Stop(this, errorRecord);

    /// <summary>
    /// Reports a non-terminating error (a failed row). Under -ErrorAction Stop (or $ErrorActionPreference = 'Stop') it
    /// stops the command with the record, as PowerShell would, but through <see cref="Stop"/>, so that -ErrorVariable
    /// holds the record's text and members rather than PowerShell's wrapper and its stack trace.
    /// </summary>
    public new void WriteError(ErrorRecord errorRecord)
    {
        if (ErrorActionIsStop())
        {
            Stop(this, errorRecord);
        }
        base.WriteError(errorRecord);
    }

    /// <summary>
    /// Stops <paramref name="cmdlet"/> with a terminating error: <see cref="CommandStoppedException"/>, which carries the
    /// record into catch, $Error and -ErrorVariable alike (the record's text, id, category and recommendation, no
    /// stack trace). Where this PowerShell cannot give it the command's invocation, as ThrowTerminatingError.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    internal static void Stop(PSCmdlet cmdlet, ErrorRecord errorRecord)
    {
        if (cmdlet.Stopping)
        {
            throw new PipelineStoppedException(); // Ctrl+C came first
        }
        if (CommandStoppedException.For(errorRecord, cmdlet) is { } stop)
        {
            throw stop;
        }
        cmdlet.ThrowTerminatingError(errorRecord);
        throw new InvalidOperationException("not reached: ThrowTerminatingError throws");
    }

    /// <summary>Whether an error stops the command: -ErrorAction Stop, or else $ErrorActionPreference Stop.</summary>
    private bool ErrorActionIsStop()
    {
        object? preference = MyInvocation.BoundParameters.TryGetValue("ErrorAction", out var bound) ? bound : SessionState.PSVariable.GetValue("ErrorActionPreference");
        return LanguagePrimitives.TryConvertTo(preference, out ActionPreference action) && action == ActionPreference.Stop;
    }

    /// <summary>What else to stop at once, besides cancelling <see cref="StoppingToken"/>. Runs on another thread than the pipeline's.</summary>
    protected virtual void OnStopping()
    {
    }

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stopping.Dispose();
        }
    }
}
