# Measures how the cost of a row grows with its width and with the size of one field, by hand (no test times anything).
#   dotnet pwsh ./tests/Bench/Measure-WideRows.ps1                  # 2 rows of 20k, 40k and 80k columns
#   dotnet pwsh ./tests/Bench/Measure-WideRows.ps1 -FieldMB 200     # peak memory for one 200 MB field (run alone)
# Wide rows: Import-CodeGenData | Export-CodeGenData against Import-Csv | Export-Csv, and file mode against the fake
# server. One field: the peak working set of a process reading it with Import-CodeGenData, and of one running it in
# file mode (the row is refused as RequestTooLarge and written with its error), for CSV and JSON Lines.
param(
    [int[]] $Columns = @(20000, 40000, 80000),
    [int] $FieldMB = 0,
    # internal: one measurement of -FieldMB, in a process of its own (a peak working set only ever grows)
    [ValidateSet('', 'import-csv', 'import-jsonl', 'file-csv', 'file-jsonl')]
    [string] $Step = ''
)
$ErrorActionPreference = 'Stop'
$repo = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
$work = Join-Path $repo 'out/bench/wide'
New-Item -ItemType Directory -Force -Path $work | Out-Null

if ($FieldMB -gt 0 -and -not $Step) {
    # the files are written a megabyte at a time, so that making them costs no memory
    $chunk = [Text.Encoding]::ASCII.GetBytes([string]::new('x', 1000000))
    foreach ($format in 'csv', 'jsonl') {
        $stream = [IO.File]::Create("$work/field.$format")
        try {
            $head, $tail = if ($format -eq 'csv') { "id,instruction`n1,task 1`n2,", "`n3,task 3`n" }
                else { "{`"id`":1,`"instruction`":`"task 1`"}`n{`"id`":2,`"instruction`":`"", "`"}`n{`"id`":3,`"instruction`":`"task 3`"}`n" }
            $stream.Write([Text.Encoding]::ASCII.GetBytes($head))
            for ($i = 0; $i -lt $FieldMB; $i++) { $stream.Write($chunk) }
            $stream.Write([Text.Encoding]::ASCII.GetBytes($tail))
        }
        finally { $stream.Dispose() }
    }
    $pwsh = if (Test-Path "$PSHOME/pwsh.dll") { 'dotnet', "$PSHOME/pwsh.dll" } else { , "$PSHOME/pwsh" }
    "one field of $FieldMB MB (the peak working set of a process doing only this, and of the same process idle):"
    foreach ($step in 'import-csv', 'import-jsonl', 'file-csv', 'file-jsonl') {
        & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -File $PSCommandPath -FieldMB $FieldMB -Step $step
    }
    return
}

Import-Module (Join-Path $repo 'CodeGen.psd1') -Force
Import-Module (Join-Path $repo 'tests/FakeLlm/FakeLlm.psm1') -Force
$server = Start-FakeLlm
try {
    if ($Step) {
        $process = [Diagnostics.Process]::GetCurrentProcess()
        $process.Refresh()
        $idle = $process.PeakWorkingSet64
        $mode, $format = $Step -split '-'
        $what = if ($mode -eq 'import') {
            $length = 0
            Import-CodeGenData -Path "$work/field.$format" | ForEach-Object { $length += $_.instruction.Length }
            "Import-CodeGenData read $length characters"
        }
        else {
            Remove-Item "$work/field-out.$format*" -ErrorAction Ignore
            $summary = Invoke-CodeInstructionToCode -Path "$work/field.$format" -OutputPath "$work/field-out.$format" -Endpoint $server.BaseUrl -Model fake -ErrorAction SilentlyContinue -ErrorVariable failed
            "file mode: $($summary.Generated) generated, $($summary.Failed) failed ($($failed[0].FullyQualifiedErrorId -replace ',.*'))"
        }
        $process.Refresh()
        '  {0,-5} {1}: peak {2:n0} MB (idle {3:n0} MB)' -f $format, $what, ($process.PeakWorkingSet64 / 1MB), ($idle / 1MB)
        return
    }
    foreach ($n in $Columns) {
        $in = Join-Path $work "wide-$n.csv"
        $header = 'instruction,' + ((1..($n - 1) | ForEach-Object { "col$_" }) -join ',')
        $rows = 1..2 | ForEach-Object { $r = $_; "task $r," + ((1..($n - 1) | ForEach-Object { "v$r-$_" }) -join ',') }
        Set-Content -LiteralPath $in -Value (@($header) + $rows)
        $theirs = (Measure-Command { Import-Csv -LiteralPath $in | Export-Csv -LiteralPath "$work/theirs.csv" -UseQuotes AsNeeded }).TotalSeconds
        $mine = (Measure-Command { Import-CodeGenData -Path $in | Export-CodeGenData -Path "$work/mine.csv" }).TotalSeconds
        Remove-Item "$work/file-out.csv*" -ErrorAction Ignore
        $file = (Measure-Command { $null = Invoke-CodeInstructionToCode -Path $in -OutputPath "$work/file-out.csv" -Endpoint $server.BaseUrl -Model fake }).TotalSeconds
        '{0,7:n0} columns: Import-Csv|Export-Csv {1,6:n2} s, Import-CodeGenData|Export-CodeGenData {2,6:n2} s ({3:n2}x), file mode {4,6:n2} s' -f $n, $theirs, $mine, ($mine / $theirs), $file
    }
}
finally {
    $server | Stop-FakeLlm
}
