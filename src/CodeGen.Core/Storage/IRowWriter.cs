namespace CodeGen.Core.Storage;

/// <summary>Writes rows to a data file. <see cref="Flush"/> makes everything written so far a valid file on disk.</summary>
public interface IRowWriter : IDisposable
{
    void Write(DataRow row);

    void Flush();
}
