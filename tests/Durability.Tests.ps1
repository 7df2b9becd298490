# A row paid is a row kept: every answer is on disk as it arrives (the run's journal), so a process killed with
# SIGKILL re-pays on -Resume at most the requests that were in flight at that moment.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
}

AfterAll {
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'Answers survive a kill' {
    It 'keeps the answers that wait behind a slow first row through kill -9, and -Resume asks only what was in flight' {
        $folder = New-TestFolder
        $in = Join-Path $folder 'in.csv'
        $out = Join-Path $folder 'out.jsonl'
        1..200 | ForEach-Object { [pscustomobject]@{ id = $_; instruction = $(if ($_ -eq 1) { 'task 1 [[fake:latency=3000]]' } else { "task $_ [[fake:latency=20]]" }) } } |
            Export-Csv -LiteralPath $in
        Reset-FakeLlm $server
        $script = "Import-Module '$(Join-Path $RepoRoot 'CodeGen.psd1')'; Invoke-CodeInstructionToCode -Path '$in' -OutputPath '$out' -Endpoint '$($server.BaseUrl)' -Model fake-model -ThrottleLimit 8 | Out-Null"
        $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
        foreach ($argument in @((Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-Command', $script)) { $psi.ArgumentList.Add($argument) }
        $psi.UseShellExecute = $false
        $process = [System.Diagnostics.Process]::Start($psi)
        try {
            # rows 2..128 fill the window behind row 1 (16 × ThrottleLimit) and are answered; none can be written yet
            # the run holds its journal locked against other runs, a lock Get-Content honours: read it as cat does
            $journal = "$out.journal"
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while ([DateTime]::UtcNow -lt $deadline -and -not ((Test-Path -LiteralPath $journal) -and @(& cat $journal).Count -ge 120)) {
                Start-Sleep -Milliseconds 20
            }
            @(& cat $journal).Count | Should -BeGreaterOrEqual 120

            # a second run of the same output, while the first holds it, is refused before it sends or touches anything
            $before = (Get-FakeLlmStats $server).requests
            $caught = $null
            try { Invoke-CodeInstructionToCode -Path $in -OutputPath $out -Endpoint $server.BaseUrl -Model fake-model -Resume -ErrorAction Stop } catch { $caught = $_ }
            $caught.FullyQualifiedErrorId | Should -BeLike 'OutputInUse,*'
            $caught.CategoryInfo.Category | Should -Be 'ResourceBusy'
            $caught.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
            (Get-FakeLlmStats $server).requests - $before | Should -BeLessOrEqual 8 # only what the first run had in flight
            Test-Path -LiteralPath "$out.resuming" | Should -BeFalse
        }
        finally {
            $process.Kill() # SIGKILL: no cleanup runs
            $process.WaitForExit()
        }
        $paid = (Get-FakeLlmStats $server).requests
        Reset-FakeLlm $server

        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath $out -Endpoint $server.BaseUrl -Model fake-model -ThrottleLimit 8 -Resume -Verbose 4>&1 |
            Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] -or $_.Message -like '*answers of the interrupted run*' }
        $notice = $summary | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $notice.Message | Should -BeLike '* answers of the interrupted run are in *out.jsonl.journal*'
        $result = $summary | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $result.Generated + $result.SkippedByResume | Should -Be 200

        $repaid = (Get-FakeLlmStats $server).answeredByTask.psobject.Properties.Name | Where-Object { [int]($_ -replace '^task (\d+).*$', '$1') -le 128 }
        # what was in flight at the kill (row 1 among them), and nothing the run had an answer for
        @($repaid).Count | Should -BeLessOrEqual 8
        $paid | Should -BeGreaterOrEqual 128
        $rows = Get-Content -LiteralPath $out | ConvertFrom-Json
        $rows.id | Should -Be (1..200)
        $rows | Where-Object { -not $_.generated_code } | Should -BeNullOrEmpty
        Test-Path -LiteralPath "$out.journal" | Should -BeFalse
    }
}

Describe 'A full disk' {
    It 'stops sending at the first failed write with OutputWriteFailed, keeps the answers in flight, and -Resume pays for nothing twice' {
        # the output on a 2 MB file system of its own: a tmpfs mounted in a private mount namespace (unshare), where
        # the machine allows one; the whole story (fill, fail, free space, resume) runs in that namespace
        $probe = & unshare -rm sh -c 'mount -t tmpfs -o size=64k codegen-probe /mnt && echo mounted' 2>$null
        if ($LASTEXITCODE -ne 0 -or $probe -ne 'mounted') {
            Set-ItResult -Skipped -Because 'this machine allows no tmpfs mount in a private namespace (unshare -rm)'
            return
        }
        $folder = New-TestFolder
        $in = Join-Path $folder 'in.csv'
        $disk = Join-Path $folder 'disk'
        $report = Join-Path $folder 'report.json'
        New-Item -ItemType Directory -Path $disk | Out-Null
        1..3000 | ForEach-Object { [pscustomobject]@{ id = $_; instruction = "task $_ [[fake:latency=5]]" } } | Export-Csv -LiteralPath $in
        Reset-FakeLlm $server
        $script = @'
$ErrorActionPreference = 'Stop'
Import-Module '{module}'
$out = Join-Path '{disk}' 'out.csv'
$stats = { (Invoke-RestMethod -Uri '{root}/_fake/stats' -NoProxy).requests }
# a disk that fills part-way through the run: a filler leaves about 700 KB for the output and its journal
[IO.File]::WriteAllBytes((Join-Path '{disk}' 'filler'), [byte[]]::new(1300KB))
$caught = $null
try { Invoke-CodeInstructionToCode -Path '{in}' -OutputPath $out -Endpoint '{endpoint}' -Model fake-model -ThrottleLimit 8 | Out-Null }
catch { $caught = $_ }
$paidFirst = & $stats
Remove-Item (Join-Path '{disk}' 'filler')
$summary = Invoke-CodeInstructionToCode -Path '{in}' -OutputPath $out -Endpoint '{endpoint}' -Model fake-model -ThrottleLimit 8 -Resume
$rows = Import-Csv $out
[pscustomobject]@{
    ErrorId = $caught.FullyQualifiedErrorId
    Category = "$($caught.CategoryInfo.Category)"
    Message = $caught.Exception.Message
    Action = $caught.ErrorDetails.RecommendedAction
    HasStackTrace = $caught.Exception.Message -match '\bat [A-Z][\w.]+\('
    PaidFirst = $paidFirst
    PaidTotal = & $stats
    Rows = @($rows).Count
    Ids = (@($rows.id) -join ',') -eq ((1..3000) -join ',')
    Answered = @($rows | Where-Object generated_code).Count
    JournalLeft = Test-Path ($out + '.journal')
} | ConvertTo-Json | Set-Content -LiteralPath '{report}'
'@
        $script = $script.Replace('{module}', (Join-Path $RepoRoot 'CodeGen.psd1')).Replace('{disk}', $disk).Replace('{root}', $server.Root).
            Replace('{in}', $in).Replace('{endpoint}', $server.BaseUrl).Replace('{report}', $report)
        $file = Join-Path $folder 'story.ps1'
        Set-Content -LiteralPath $file -Value $script
        & unshare -rm sh -c "mount -t tmpfs -o size=2m codegen-test '$disk' && exec dotnet '$(Join-Path $PSHOME 'pwsh.dll')' -NoProfile -NonInteractive -File '$file'"
        $LASTEXITCODE | Should -Be 0
        $result = Get-Content -LiteralPath $report -Raw | ConvertFrom-Json

        $result.ErrorId | Should -Be 'OutputWriteFailed,CodeGen.Commands.InvokeCodeInstructionToCodeCommand'
        $result.Category | Should -Be 'WriteError'
        $result.Message | Should -Match 'disk is full'
        $result.Message | Should -Match ([regex]::Escape($disk))
        $result.HasStackTrace | Should -BeFalse
        $result.Action | Should -Match 'Free space .* -Resume'
        $result.PaidFirst | Should -BeLessThan 3000 # it stopped sending
        $result.Rows | Should -Be 3000
        $result.Ids | Should -BeTrue
        $result.Answered | Should -Be 3000
        $result.JournalLeft | Should -BeFalse
        # paid twice: nothing (the requests in flight when the disk filled were waited for, and the journal kept their
        # answers in the room it had reserved)
        $result.PaidTotal - 3000 | Should -Be 0
    }
}

Describe 'Files beside the output' {
    It 'refuses a journal planted as a link with UnsafeSideFile, before it sends anything, and leaves the target as it was' {
        $folder = New-TestFolder
        $in = Join-Path $folder 'in.csv'
        $out = Join-Path $folder 'out.csv'
        $victim = Join-Path (New-TestFolder) 'notes.txt'
        Set-Content -LiteralPath $victim -Value 'my notes' -NoNewline
        $before = [IO.File]::ReadAllBytes($victim)
        1..3 | ForEach-Object { [pscustomobject]@{ id = $_; instruction = "task $_" } } | Export-Csv -LiteralPath $in
        New-Item -ItemType SymbolicLink -Path "$out.journal" -Target $victim | Out-Null
        Reset-FakeLlm $server

        $caught = $null
        try { Invoke-CodeInstructionToCode -Path $in -OutputPath $out -Endpoint $server.BaseUrl -Model fake-model -Force -ErrorAction Stop } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be 'UnsafeSideFile,CodeGen.Commands.InvokeCodeInstructionToCodeCommand'
        $caught.CategoryInfo.Category | Should -Be 'SecurityError'
        $caught.TargetObject | Should -Be "$out.journal"
        $caught.Exception.Message | Should -BeLike "$out.journal: is a symbolic link*"
        $caught.ErrorDetails.RecommendedAction | Should -Match 'remove it'
        [IO.File]::ReadAllBytes($victim) | Should -Be $before
        (Get-FakeLlmStats $server).requests | Should -Be 0
        Test-Path -LiteralPath $out | Should -BeFalse
    }
}
