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
    /// Runs a call into the engine with the one catch ladder every command uses: Ctrl+C ends the pipeline, and an
    /// engine exception stops the command with the ErrorRecord of <see cref="ErrorRecords.ForException"/>.
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
        catch (Exception ex) when (ErrorRecords.IsEngineError(ex))
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
