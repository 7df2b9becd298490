# The response cache as users meet it: record once, replay offline with no key (-CacheMode ReadOnly), refresh,
# and a committed cache (tests/data/response-cache, recorded by tests/data/Record-ResponseCache.ps1) that must
# keep replaying across CodeGen versions and platforms.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $common = @{ Endpoint = $server.BaseUrl; Model = 'fake-model'; MaxRetries = 0 }
    # what tests/data/response-cache was recorded with: nothing listens there, so anything sent would fail
    $recorded = @{ Endpoint = 'http://127.0.0.1:18080/v1'; Model = 'fake-coder'; InputKey = 'input' }
    $committed = Join-Path $PSScriptRoot 'data/response-cache'
    $dataflowRows = { Get-Content -LiteralPath (Join-Path $PSScriptRoot 'data/dataflow-examples/raw_code.jsonl') -TotalCount 3 | ConvertFrom-Json }

    function New-TaskFile([string] $Path, [string[]] $Tasks) {
        $Tasks | ForEach-Object { [pscustomobject]@{ instruction = $_ } } | Export-Csv -LiteralPath $Path -Encoding utf8
        $Path
    }
}

AfterAll {
    if ($server) { Stop-FakeLlm $server }
    Clear-CodeGenEndpoint
    Restore-EndpointEnvironment
}

Describe 'Replaying the committed cache' {
    BeforeEach { Clear-CodeGenEndpoint }

    It 'answers DataFlow rows from tests/data/response-cache with no key and no server' {
        $rows = & $dataflowRows | Invoke-CodeInstructionToCode @recorded -CachePath $committed -CacheMode ReadOnly -ErrorAction Stop
        $rows | Should -HaveCount 3
        $rows | ForEach-Object { $_.generated_code | Should -BeLike '# Placeholder from the CodeGen stub server*' }
        $rows[0].generated_code | Should -BeLike '*You are given a Python function and an assertion*'
    }

    It 'replays in file mode and counts the answers in the summary' {
        $folder = New-TestFolder
        $in = Join-Path $folder 'rows.jsonl'
        & $dataflowRows | ForEach-Object { $_ | ConvertTo-Json -Compress } | Set-Content -LiteralPath $in
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'out.jsonl') @recorded -CachePath $committed -CacheMode ReadOnly
        $summary.Generated | Should -Be 3
        ($summary.CacheHits, $summary.CacheMisses, $summary.CacheStored) | Should -Be 3, 0, 0
    }

    It 'replays a copy checked out on Windows (CRLF files) with instructions saved on Windows (CRLF text)' {
        $copy = Join-Path (New-TestFolder) 'cache'
        Copy-Item -LiteralPath $committed -Destination $copy -Recurse
        Get-ChildItem -LiteralPath $copy -Recurse -File | ForEach-Object {
            $text = [System.IO.File]::ReadAllText($_.FullName)
            [System.IO.File]::WriteAllText($_.FullName, $text.Replace("`n", "`r`n"))
        }
        $windowsRows = & $dataflowRows | ForEach-Object { $_.input = $_.input.Replace("`n", "`r`n"); $_ }
        $windowsRows[0].input | Should -Match "`r`n"
        $rows = $windowsRows | Invoke-CodeInstructionToCode @recorded -CachePath $copy -CacheMode ReadOnly -ErrorAction Stop
        $rows | Should -HaveCount 3
        $rows.generated_code | Should -Not -Contain $null
    }

    It 'holds no key, no header and no secret-looking text, and says its key format' {
        $files = Get-ChildItem -LiteralPath $committed -Recurse -File
        $files | ForEach-Object { Get-Content -Raw -LiteralPath $_.FullName } | Should -Not -Match '(?i)authorization|api-key|bearer|\bsk-'
        (Get-Content -Raw (Join-Path $committed 'codegen-cache.json') | ConvertFrom-Json).format | Should -Be 1
    }
}

Describe 'Cache modes' {
    BeforeEach { Reset-FakeLlm $server; Set-FakeLlmConfig $server @{}; Clear-CodeGenEndpoint; $folder = New-TestFolder; $cache = Join-Path $folder 'cache' }

    It 'records, replays what it recorded, names the row it cannot answer, and -Resume fills it live' {
        $recordedTasks = New-TaskFile (Join-Path $folder 'recorded.csv') 'task 1', 'task 2', 'task 3'
        $null = Invoke-CodeInstructionToCode -Path $recordedTasks -OutputPath (Join-Path $folder 'first.csv') @common -CachePath $cache
        (Get-FakeLlmStats $server).requests | Should -Be 3

        Reset-FakeLlm $server
        $in = New-TaskFile (Join-Path $folder 'in.csv') 'task 1', 'task 4', 'task 3'
        $out = Join-Path $folder 'out.csv'
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common -CachePath $cache -CacheMode ReadOnly -ErrorVariable failures -ErrorAction SilentlyContinue
        (Get-FakeLlmStats $server).requests | Should -Be 0
        ($summary.Generated, $summary.Failed, $summary.CacheHits, $summary.CacheMisses) | Should -Be 2, 1, 2, 1
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CacheMiss,*'
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $failures[0].Exception.Message | Should -BeLike 'Row 2: *response cache*'
        $failures[0].ErrorDetails.RecommendedAction | Should -BeLike '*-CacheMode ReadWrite*'
        (Import-Csv -LiteralPath $out)[1].generated_code_error | Should -BeLike '*CacheMiss*'

        $resumed = Invoke-CodeInstructionToCode -Path $in -OutputPath $out @common -CachePath $cache -Resume
        ($resumed.Generated, $resumed.SkippedByResume, $resumed.CacheStored) | Should -Be 1, 2, 1
        (Get-FakeLlmStats $server).requests | Should -Be 1
        (Import-Csv -LiteralPath $out).generated_code | Should -Not -Contain ''
    }

    It 'sends every request under Refresh and replays the new answers' {
        $rows = 'task 1', 'task 2' | ForEach-Object { [pscustomobject]@{ instruction = $_ } }
        $null = $rows | Invoke-CodeInstructionToCode @common -CachePath $cache
        Set-FakeLlmConfig $server @{ style = 'plain' }
        $fresh = $rows | Invoke-CodeInstructionToCode @common -CachePath $cache -CacheMode Refresh -Raw -Force
        (Get-FakeLlmStats $server).requests | Should -Be 4
        $fresh[0].generated_code | Should -BeLike '# *'
        $replayed = $rows | Invoke-CodeInstructionToCode @common -CachePath $cache -CacheMode ReadOnly -Raw -Force -ErrorAction Stop
        $replayed.generated_code | Should -Be $fresh.generated_code
        (Get-FakeLlmStats $server).requests | Should -Be 4
    }

    It 'creates nothing under -WhatIf, and the folder only with the first answer it stores' {
        $null = 'task 1' | Invoke-CodeInstructionToCode @common -CachePath $cache -WhatIf
        Test-Path -LiteralPath $cache | Should -BeFalse
        $null = 'task 1 [[fake:status=400]]' | Invoke-CodeInstructionToCode @common -CachePath $cache -ErrorAction SilentlyContinue
        Test-Path -LiteralPath $cache | Should -BeFalse
        $null = 'task 1' | Invoke-CodeInstructionToCode @common -CachePath $cache
        (Get-ChildItem -LiteralPath $cache -Recurse -File).Name | Should -Contain 'codegen-cache.json'
    }

    It 'reports hits and misses in -Verbose' {
        $null = 'task 1' | Invoke-CodeInstructionToCode @common -CachePath $cache
        $verbose = 'task 1', 'task 9' | Invoke-CodeInstructionToCode @common -CachePath $cache -Verbose -ErrorAction SilentlyContinue 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        ($verbose.Message -join "`n") | Should -BeLike '*1 answers reused, 1 not found, 1 stored*'
    }

    It 'takes the mode and folder from Set-CodeGenEndpoint, and a command''s own -CacheMode over them' {
        $null = 'task 1' | Invoke-CodeInstructionToCode @common -CachePath $cache
        Reset-FakeLlm $server
        Set-CodeGenEndpoint -CachePath $cache -CacheMode ReadOnly
        (Get-CodeGenEndpoint).CacheMode | Should -Be 'ReadOnly'
        (Set-CodeGenEndpoint -CacheMode ReadOnly -PassThru).CacheMode | Should -Be 'ReadOnly'
        $replayed = 'task 1' | Invoke-CodeInstructionToCode @common -ErrorAction Stop
        $replayed.generated_code | Should -Not -BeNullOrEmpty
        $null = 'task 2' | Invoke-CodeInstructionToCode @common -ErrorAction SilentlyContinue
        (Get-FakeLlmStats $server).requests | Should -Be 0
        $null = 'task 2' | Invoke-CodeInstructionToCode @common -CacheMode ReadWrite
        (Get-FakeLlmStats $server).requests | Should -Be 1
        $null = 'task 3' | Invoke-CodeInstructionToCode @common -NoCache
        (Get-FakeLlmStats $server).requests | Should -Be 2
    }

    It 'answers -Batch -CacheMode ReadOnly from the cache without creating a batch' {
        $in = New-TaskFile (Join-Path $folder 'in.csv') 'task 1', 'task 2'
        $null = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'live.csv') @common -CachePath $cache
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'batch.csv') @common -CachePath $cache -CacheMode ReadOnly -Batch
        $summary.Generated | Should -Be 2
        (Get-FakeLlmStats $server).batchesCreated | Should -Be 0
        Get-Content -Raw (Join-Path $folder 'batch.csv') | Should -Be (Get-Content -Raw (Join-Path $folder 'live.csv'))
    }

    It 'runs -Batch -NoCache as a batch even when the session replays' {
        Set-CodeGenEndpoint -CachePath $cache -CacheMode ReadOnly
        $in = New-TaskFile (Join-Path $folder 'in.csv') 'task 1'
        $summary = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'batch.csv') @common -NoCache -Batch -PollIntervalSec 0.05
        $summary.Generated | Should -Be 1
        (Get-FakeLlmStats $server).batchesCreated | Should -Be 1
    }

    It 'stores the answers a merged batch brings back, for a replay to find' {
        $in = New-TaskFile (Join-Path $folder 'in.csv') 'task 1', 'task 2', 'task 3'
        $merged = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'batch.csv') @common -CachePath $cache -Batch -PollIntervalSec 0.05
        ($merged.Generated, $merged.CacheStored) | Should -Be 3, 3
        $requests = (Get-FakeLlmStats $server).requests
        $replayed = Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $folder 'replayed.csv') @common -CachePath $cache -CacheMode ReadOnly
        $replayed.CacheHits | Should -Be 3
        (Get-FakeLlmStats $server).requests | Should -Be $requests
    }
}

Describe 'Cache errors' {
    BeforeEach { Clear-CodeGenEndpoint; $folder = New-TestFolder }

    It 'refuses a mode that has no folder, and -NoCache with -CacheMode' {
        { 'task 1' | Invoke-CodeInstructionToCode @common -CacheMode ReadOnly -ErrorAction Stop } | Should -Throw -ErrorId 'CacheModeWithoutCachePath*'
        { 'task 1' | Invoke-CodeInstructionToCode @common -CacheMode Refresh -NoCache -ErrorAction Stop } | Should -Throw -ErrorId 'NoCacheAndCacheMode*'
    }

    It 'refuses to replay a folder that does not exist, and creates nothing' {
        $missing = Join-Path $folder 'no-such-cache'
        { 'task 1' | Invoke-CodeInstructionToCode @common -CachePath $missing -CacheMode ReadOnly -ErrorAction Stop } | Should -Throw -ErrorId 'CacheNotFound*'
        Test-Path -LiteralPath $missing | Should -BeFalse
    }

    It 'refuses a cache recorded by an earlier CodeGen instead of silently missing every answer' {
        $legacy = Join-Path $folder 'legacy'
        New-Item -ItemType Directory -Path (Join-Path $legacy 'ab') | Out-Null
        '{"choices":[{"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}]}' | Set-Content -LiteralPath (Join-Path $legacy "ab/ab$('0' * 62).json")
        $caught = $null
        try { 'task 1' | Invoke-CodeInstructionToCode @common -CachePath $legacy -ErrorAction Stop } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -BeLike 'CacheFormatUnsupported*'
        $caught.Exception.Message | Should -BeLike '*earlier version of CodeGen*'
        $caught.ErrorDetails.RecommendedAction | Should -BeLike '*new folder*'
    }
}
