BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $common = @{ Endpoint = $server.BaseUrl; Model = 'fake-model' }
}

AfterAll {
    Clear-CodeGenEndpoint
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'Hostile paths and values' {
    BeforeEach { Set-FakeLlmConfig $server @{}; Reset-FakeLlm $server; Clear-CodeGenEndpoint }

    It 'refuses a header with a line break before any request (no header or request smuggled in)' {
        { 'task 1' | Invoke-CodeInstructionToCode @common -Header @{ 'X-A' = "v`r`nX-Injected: 1" } } |
            Should -Throw -ErrorId 'InvalidEndpointConfiguration,*' -ExpectedMessage "*'X-A'*line break*"
        { 'task 1' | Invoke-CodeInstructionToCode @common -Header @{ "X-A`nX-B" = 'v' } } | Should -Throw -ErrorId 'InvalidEndpointConfiguration,*'
        { 'task 1' | Invoke-CodeInstructionToCode @common -ApiKey "sk-key-0123456789`r`nX-Injected: 1" } | Should -Throw -ErrorId 'InvalidEndpointConfiguration,*'
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'refuses an -OutputPath that links to the input, even with -Force, and leaves the input whole' {
        $folder = New-TestFolder
        $in = Join-Path $folder 'in.csv'
        1..500 | ForEach-Object { [pscustomobject]@{ id = $_; instruction = "task $_" } } | Export-Csv -LiteralPath $in
        $before = Get-FileHash -LiteralPath $in
        $link = Join-Path $folder 'out.csv'
        $null = New-Item -ItemType SymbolicLink -Path $link -Target $in
        { Invoke-CodeInstructionToCode -Path $in -OutputPath $link @common -Force } | Should -Throw -ErrorId 'SameInputAndOutput,*'
        $alias = Join-Path $folder 'alias'
        $null = New-Item -ItemType SymbolicLink -Path $alias -Target $folder
        { Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $alias 'in.csv') @common -Force } | Should -Throw -ErrorId 'SameInputAndOutput,*'
        (Get-FileHash -LiteralPath $in).Hash | Should -Be $before.Hash
        (Get-FakeLlmStats $server).requests | Should -Be 0
    }

    It 'masks the password of a -Proxy address wherever it is shown' {
        $info = Get-CodeGenEndpoint @common -Proxy 'http://proxyuser:S3cretProxyPw@127.0.0.1:3128/'
        $info.Proxy | Should -Be 'http://****@127.0.0.1:3128/'
        (Get-CodeGenEndpoint @common -Proxy 'http://ghp_TokenAsUser123@127.0.0.1:3128/' | Out-String) | Should -Not -BeLike '*ghp_TokenAsUser123*'
        ($info | Out-String) + ($info | ConvertTo-Json) | Should -Not -BeLike '*S3cretProxyPw*'
        Set-CodeGenEndpoint -Proxy 'http://proxyuser:S3cretProxyPw@127.0.0.1:3128/'
        (Set-CodeGenEndpoint -PassThru | Out-String) | Should -Not -BeLike '*S3cretProxyPw*'
    }

    It 'says DataFileWriteFailed when the output folder cannot be written' {
        $folder = New-TestFolder
        $in = Join-Path $folder 'in.csv'
        'task 1' | ForEach-Object { [pscustomobject]@{ instruction = $_ } } | Export-Csv -LiteralPath $in
        $locked = Join-Path $folder 'locked'
        $null = New-Item -ItemType Directory -Path $locked
        $isRoot = (& id -u) -eq '0'
        if ($isRoot) { & chattr +i $locked 2>$null } else { & chmod 555 $locked }
        try {
            $probe = Join-Path $locked 'probe'
            $writable = try { [IO.File]::WriteAllText($probe, 'x'); $true } catch { $false }
            if ($writable) { Set-ItResult -Skipped -Because 'this file system lets the folder be written (no chattr)'; return }
            { Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $locked 'out.csv') @common } | Should -Throw -ErrorId 'DataFileWriteFailed,*'
            $caught = $null
            try { Invoke-CodeInstructionToCode -Path $in -OutputPath (Join-Path $locked 'out.csv') @common -ErrorAction Stop } catch { $caught = $_ }
            $caught.ErrorDetails.RecommendedAction | Should -BeLike '*can be read and written*-Resume*'
        }
        finally {
            if ($isRoot) { & chattr -i $locked 2>$null } else { & chmod 755 $locked }
        }
    }
}
