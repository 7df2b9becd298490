# Measures how the cost of a row grows with its width and with the size of one field, by hand (no test times anything).
#   dotnet pwsh ./tests/Bench/Measure-WideRows.ps1                  # 2 rows of 20k, 40k and 80k columns
#   dotnet pwsh ./tests/Bench/Measure-WideRows.ps1 -FieldMB 200     # peak memory for one 200 MB field (run alone)
# Wide rows: Import-CodeGenData | Export-CodeGenData against Import-Csv | Export-Csv, and file mode against the fake
# server. One field: the peak working set of this process reading it with Import-CodeGenData and of a file-mode run
# (the row is refused as RequestTooLarge and written with its error), for CSV and JSON Lines.
param(
    [int[]] $Columns = @(20000, 40000, 80000),
    [int] $FieldMB = 0
)
$ErrorActionPreference = 'Stop'
$repo = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
Import-Module (Join-Path $repo 'CodeGen.psd1') -Force
Import-Module (Join-Path $repo 'tests/FakeLlm/FakeLlm.psm1') -Force
$work = Join-Path $repo 'out/bench/wide'
New-Item -ItemType Directory -Force -Path $work | Out-Null
$server = Start-FakeLlm
try {
    if ($FieldMB -gt 0) {
        $process = [Diagnostics.Process]::GetCurrentProcess()
        $text = [string]::new('x', $FieldMB * 1000000)
        [IO.File]::WriteAllText("$work/field.csv", "id,instruction`n1,task 1`n2,$text`n3,task 3`n")
        [IO.File]::WriteAllText("$work/field.jsonl", "{`"id`":1,`"instruction`":`"task 1`"}`n{`"id`":2,`"instruction`":`"$text`"}`n{`"id`":3,`"instruction`":`"task 3`"}`n")
        $text = $null
        [GC]::Collect()
        $process.Refresh()
        '{0} MB field; this process started at a peak of {1:n0} MB' -f $FieldMB, ($process.PeakWorkingSet64 / 1MB)
        foreach ($format in 'csv', 'jsonl') {
            $length = 0
            Import-CodeGenData -Path "$work/field.$format" | ForEach-Object { $length += $_.instruction.Length }
            $process.Refresh()
            '  {0,-5} Import-CodeGenData: {1:n0} characters read, peak {2:n0} MB' -f $format, $length, ($process.PeakWorkingSet64 / 1MB)
        }
        foreach ($format in 'csv', 'jsonl') {
            Remove-Item "$work/field-out.$format*" -ErrorAction Ignore
            $summary = Invoke-CodeInstructionToCode -Path "$work/field.$format" -OutputPath "$work/field-out.$format" -Endpoint $server.BaseUrl -Model fake -ErrorAction SilentlyContinue -ErrorVariable failed
            $process.Refresh()
            '  {0,-5} file mode: {1} generated, {2} failed ({3}), peak {4:n0} MB' -f $format, $summary.Generated, $summary.Failed, $failed[0].FullyQualifiedErrorId, ($process.PeakWorkingSet64 / 1MB)
        }
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
