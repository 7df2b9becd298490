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
