BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm
    $common = @{ Endpoint = $server.BaseUrl; Model = 'fake-model' }
    $pwsh = Join-Path $PSHOME 'pwsh.dll'

    # the NuGet packages folder tests/Tools/Tools.csproj downloads older libraries into, for the isolation tests
    function Get-NuGetPackagesFolder {
        if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
        ((& dotnet nuget locals global-packages --list | Select-Object -First 1) -replace '^global-packages:\s*', '').Trim()
    }

    function Invoke-FreshPwsh([string] $Script) {
        # a new process: nothing this session loaded (CodeGen included) is in it
        $file = Join-Path $TestDrive "fresh-$([Guid]::NewGuid().ToString('n')).ps1"
        Set-Content -LiteralPath $file -Value $Script
        $output = & dotnet $pwsh -NoProfile -NonInteractive -File $file 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output | Out-String) }
    }

    function Get-Completion([string] $Line) {
        [System.Management.Automation.CommandCompletion]::CompleteInput($Line, $Line.Length, $null).CompletionMatches
    }
}

AfterAll {
    Clear-CodeGenEndpoint
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'Get-Help' {
    BeforeDiscovery {
        Import-Module (Join-Path $PSScriptRoot '../CodeGen.psd1') -Force
        $cmdlets = @(Get-Command -Module CodeGen | ForEach-Object { @{ Name = $_.Name } })
    }

    It '<Name> has a synopsis, a description, every parameter described and at least two examples that parse' -ForEach $cmdlets {
        $help = Get-Help $Name -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -BeLike "$Name *[<]*" # not the generated syntax stand-in
        ($help.description.Text -join '') | Should -Not -BeNullOrEmpty
        $examples = @($help.examples.example)
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($example in $examples) {
            $errors = $null
            $null = [System.Management.Automation.Language.Parser]::ParseInput($example.code, [ref]$null, [ref]$errors)
            $errors | Should -BeNullOrEmpty -Because "$($example.title) should be valid PowerShell"
        }
        $common = [System.Management.Automation.Cmdlet]::CommonParameters + 'UseTransaction'
        foreach ($parameter in (Get-Command $Name).Parameters.Keys | Where-Object { $_ -notin $common }) {
            $text = (Get-Help $Name -Parameter $parameter).description.Text -join ''
            $text | Should -Not -BeNullOrEmpty -Because "-$parameter of $Name needs a description"
        }
    }

    It 'explains the model in about_CodeGen' {
        $about = Get-Help about_CodeGen | Out-String
        foreach ($topic in 'ROWS IN, CODE OUT', 'ENDPOINTS AND KEYS', 'FILE MODE AND RESUME', 'BATCH', 'CACHE') {
            $about | Should -BeLike "*$topic*"
        }
        $about | Should -BeLike '*CODEGEN_API_KEY*'
    }
}

Describe 'Formatting' {
    It 'shows the run summary as a table' {
        $folder = New-TestFolder
        'task 1', 'task 2' | ForEach-Object { [pscustomobject]@{ instruction = $_ } } | Export-CodeGenData (Join-Path $folder 'in.jsonl')
        $summary = Invoke-CodeInstructionToCode -Path (Join-Path $folder 'in.jsonl') -OutputPath (Join-Path $folder 'out.csv') @common
        $summary.pstypenames[0] | Should -Be 'CodeGen.Core.Running.FileRunSummary'
        $text = $summary | Out-String
        $text | Should -Match 'Output\s+Rows\s+Generated\s+Failed\s+SkippedByResume\s+Cached\s+Tokens\s+Cost\s+Elapsed'
        $text | Should -Match 'out\.csv\s+2\s+2\s+0\s+0'
    }

    It 'shows endpoint settings with their sources and the key masked' {
        $secret = 'sk-format-view-secret-abcdef'
        $text = Get-CodeGenEndpoint @common -ApiKey $secret | Out-String -Width 200
        $text | Should -Not -BeLike "*$secret*"
        $text | Should -BeLike '*Auth*: API key `*`*`*`*cdef (Authorization: Bearer)  (parameters)*'
        $text | Should -BeLike '*fake-model  (parameters)*'
    }

    It 'shows batch request files and batch jobs as tables' {
        $folder = New-TestFolder
        $text = 1..3 | ForEach-Object { "task $_" } | Export-CodeGenBatch -OutFile (Join-Path $folder 'r.jsonl') -Model m | Out-String
        $text | Should -Match 'File\s+Requests\s+Size\s+Rows'
        $text | Should -Match 'r\.jsonl\s+3\s+[\d.]+ KB\s+1-3'
    }
}

Describe 'Tab completion' {
    BeforeEach { Reset-FakeLlm $server; Clear-CodeGenEndpoint }

    It 'completes -Model from the endpoint''s /models, and asks the endpoint once' {
        $matches1 = Get-Completion "Invoke-CodeInstructionToCode -Endpoint $($server.BaseUrl) -Model "
        $matches1.CompletionText | Should -Be @('fake-coder-7b', 'fake-model', "'other model'")
        (Get-Completion "Invoke-CodeInstructionToCode -Endpoint $($server.BaseUrl) -Model fake-c").CompletionText | Should -Be @('fake-coder-7b')
        (Get-FakeLlmStats $server).modelLists | Should -Be 1
    }

    It 'asks /models with the key of the command line' {
        $completed = Get-Completion "Invoke-CodeInstructionToCode -Endpoint $($server.BaseUrl) -ApiKey sk-completion-key-0123 -Model fake-m"
        $completed.CompletionText | Should -Be @('fake-model')
        (Get-FakeLlmStats $server).lastModelsAuthorization | Should -Be 'Bearer sk-completion-key-0123'
    }

    It 'completes -Model for the session default endpoint too' {
        Set-CodeGenEndpoint -Endpoint $server.BaseUrl
        (Get-Completion 'Set-CodeGenEndpoint -Model fake-m').CompletionText | Should -Be @('fake-model')
    }

    It 'completes nothing, quietly, when the endpoint does not answer' {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()
        $Error.Clear()
        @(Get-Completion "Invoke-CodeInstructionToCode -Endpoint http://127.0.0.1:$port/v1 -Model ").Count | Should -Be 0
        $Error.Count | Should -Be 0
    }

    It 'completes -InputKey from the columns of the -Path file, and -OutputKey with names it does not have' {
        $folder = New-TestFolder
        Set-Content -LiteralPath (Join-Path $folder 'rows.csv') -Value 'id,task text,instruction', '1,a,b'
        '{"prompt":"x","lang":"py","generated_code":"y","code":"z"}' | Set-Content -LiteralPath (Join-Path $folder 'rows.jsonl')
        Push-Location $folder
        try {
            (Get-Completion 'Invoke-CodeInstructionToCode -Path rows.csv -OutputPath o.csv -InputKey ').CompletionText | Should -Be @('id', "'task text'", 'instruction')
            (Get-Completion 'Export-CodeGenBatch -Path rows.jsonl -OutFile r.jsonl -InputKey p').CompletionText | Should -Be @('prompt')
            (Get-Completion 'Invoke-CodeInstructionToCode -Path rows.csv -OutputPath o.csv -OutputKey ').CompletionText | Should -Be @('generated_code', 'code', 'solution', 'answer')
            # the file has generated_code and code: neither is offered (it would be refused without -Force)
            (Get-Completion 'Invoke-CodeInstructionToCode -Path ./rows.jsonl -OutputPath o.csv -OutputKey ').CompletionText | Should -Be @('generated_code_2', 'solution', 'answer')
            (Get-Completion 'Import-CodeGenBatchResult -Path ./rows.jsonl -ResultPath r.jsonl -OutputPath o.csv -OutputKey s').CompletionText | Should -Be @('solution')
        }
        finally { Pop-Location }
    }

    It 'completes -Language with language names, fence tags included' {
        (Get-Completion 'Invoke-CodeInstructionToCode -Model m -Language Pow').CompletionText | Should -Be @('PowerShell')
        (Get-Completion 'Invoke-CodeInstructionToCode -Model m -Language ps1').CompletionText | Should -Be @('PowerShell')
        (Get-Completion 'Export-CodeGenBatch -OutFile r.jsonl -Language py').CompletionText | Should -Be @('Python')
        (Get-Completion 'Import-CodeGenBatchResult -Path a -ResultPath b -OutputPath c -Language C').CompletionText | Should -Contain "'C#'"
    }
}

Describe 'Response cache' {
    BeforeEach { Reset-FakeLlm $server; Clear-CodeGenEndpoint }

    It 'answers a rerun from -CachePath without a request, with identical output' {
        $cache = New-TestFolder
        $first = 1..5 | ForEach-Object { "task $_" } | Invoke-CodeInstructionToCode @common -CachePath $cache -IncludeUsage
        (Get-FakeLlmStats $server).requests | Should -Be 5
        Reset-FakeLlm $server
        $verbose = 1..5 | ForEach-Object { "task $_" } | Invoke-CodeInstructionToCode @common -CachePath $cache -IncludeUsage -Verbose 4>&1
        $second = @($verbose | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
        (Get-FakeLlmStats $server).requests | Should -Be 0
        ($second | ConvertTo-Json) | Should -Be ($first | ConvertTo-Json)
        ($verbose | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | Select-Object -Last 1).Message | Should -BeLike '*5 answers reused, 0 not found, 0 stored*'
    }

    It 'uses the session default cache, and -NoCache bypasses it' {
        $cache = New-TestFolder
        Set-CodeGenEndpoint -CachePath $cache
        $null = 'task 1' | Invoke-CodeInstructionToCode @common
        $null = 'task 1' | Invoke-CodeInstructionToCode @common
        (Get-FakeLlmStats $server).requests | Should -Be 1
        $null = 'task 1' | Invoke-CodeInstructionToCode @common -NoCache
        (Get-FakeLlmStats $server).requests | Should -Be 2
        (Get-CodeGenEndpoint).CachePath | Should -Be $cache
    }

    It 'never stores the key' {
        $cache = New-TestFolder
        $key = 'sk-cache-key-must-not-be-stored-0000'
        $null = 'task 1' | Invoke-CodeInstructionToCode @common -ApiKey $key -CachePath $cache
        Get-ChildItem -LiteralPath $cache -Recurse -File | Get-Content -Raw | Where-Object { $_ -like "*$key*" -or $_ -like '*0000*' } | Should -BeNullOrEmpty
    }
}

Describe 'Dependency isolation' {
    It 'loads beside an older CsvHelper already in the session, and reads and writes CSV with its own' {
        $packages = Get-NuGetPackagesFolder
        $older = Join-Path $packages 'csvhelper/30.0.1/lib/net6.0/CsvHelper.dll'
        Test-Path -LiteralPath $older | Should -BeTrue -Because 'tests/Tools/Tools.csproj downloads CsvHelper 30.0.1'
        $folder = New-TestFolder
        $result = Invoke-FreshPwsh @"
`$ErrorActionPreference = 'Stop'
Add-Type -LiteralPath '$older'
Import-Module '$(Join-Path $PSScriptRoot '../CodeGen.psd1')'
Set-Content -LiteralPath '$folder/in.csv' -Value 'instruction', '"task 1, with a comma"', 'task 2'
`$summary = Invoke-CodeInstructionToCode -Path '$folder/in.csv' -OutputPath '$folder/out.csv' -Endpoint '$($server.BaseUrl)' -Model fake-model
"generated=`$(`$summary.Generated)"
[AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'CsvHelper' } |
    ForEach-Object { 'csvhelper={0} in {1}' -f `$_.GetName().Version.Major, [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$_).Name }
"@
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $result.Output | Should -BeLike '*generated=2*'
        $result.Output | Should -BeLike '*csvhelper=30 in Default*'
        $result.Output | Should -BeLike '*csvhelper=34 in CodeGen*'
        (Import-Csv (Join-Path $folder 'out.csv'))[0].generated_code | Should -Be (Get-FakeLlmCode $server 'task 1, with a comma')
    }
}

Describe 'Dependency isolation: Azure.Identity' {
    It 'signs in with its own Azure.Identity and Azure.Core beside an older Azure.Core already in the session (as Az.Accounts brings)' {
        $packages = Get-NuGetPackagesFolder
        $older = Join-Path $packages 'azure.core/1.44.1/lib/net6.0/Azure.Core.dll'
        Test-Path -LiteralPath $older | Should -BeTrue -Because 'tests/Tools/Tools.csproj downloads Azure.Core 1.44.1'
        Set-FakeLlmConfig $server @{ requireEntraToken = $true; tokenLifetimeSeconds = 240 }
        Reset-FakeLlm $server
        try {
            $result = Invoke-FreshPwsh @"
`$ErrorActionPreference = 'Stop'
Add-Type -LiteralPath '$older'
`$env:IDENTITY_ENDPOINT = '$($server.Root)/msi/token'
`$env:IDENTITY_HEADER = 'fake-identity-header'
Import-Module '$(Join-Path $PSScriptRoot '../CodeGen.psd1')'
`$row = 'task 1' | Invoke-CodeInstructionToCode -Provider AzureOpenAI -Endpoint '$($server.Root)' -Deployment gpt4o -EntraId -MaxRetries 0
"code=`$(`$row.generated_code -split "``n" | Select-Object -Last 1)"
[AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'Azure.Core' } |
    ForEach-Object { 'azurecore={0}.{1} in {2}' -f `$_.GetName().Version.Major, `$_.GetName().Version.Minor, [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$_).Name }
"@
        }
        finally { Set-FakeLlmConfig $server @{} }
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $result.Output | Should -BeLike '*code=# Task: task 1*'
        $result.Output | Should -BeLike '*azurecore=1.44 in Default*'
        $result.Output | Should -Match 'azurecore=1\.(5\d|[6-9]\d) in CodeGen'
        (Get-FakeLlmStats $server).tokensIssued | Should -Be 1
    }
}

Describe 'Dependency isolation: Microsoft.ML.Tokenizers' {
    It 'counts tokens with its own tokenizer beside an older Microsoft.ML.Tokenizers already in the session' {
        $packages = Get-NuGetPackagesFolder
        $older = Join-Path $packages 'microsoft.ml.tokenizers/2.0.0/lib/net8.0/Microsoft.ML.Tokenizers.dll'
        Test-Path -LiteralPath $older | Should -BeTrue -Because 'tests/Tools/Tools.csproj downloads Microsoft.ML.Tokenizers 2.0.0'
        $result = Invoke-FreshPwsh @"
`$ErrorActionPreference = 'Stop'
Add-Type -LiteralPath '$older'
Import-Module '$(Join-Path $PSScriptRoot '../CodeGen.psd1')'
`$estimate = Measure-CodeGenCost -Instruction 'hello world' -Model gpt-4o-mini -SystemPrompt 'x' -WarningAction SilentlyContinue
"tokens=`$(`$estimate.PromptTokens)"
[AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'Microsoft.ML.Tokenizers' } |
    ForEach-Object { 'tokenizers={0} in {1}' -f (`$_.GetCustomAttributes([System.Reflection.AssemblyInformationalVersionAttribute], `$false)[0].InformationalVersion -replace '\..*'), [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$_).Name }
"@
        $result.ExitCode | Should -Be 0 -Because $result.Output
        # every Microsoft.ML assembly says 1.0.0.0: the informational version tells them apart
        $expected = (Measure-CodeGenCost -Instruction 'hello world' -Model gpt-4o-mini -SystemPrompt 'x' -WarningAction SilentlyContinue).PromptTokens
        $result.Output | Should -BeLike "*tokens=$expected*"
        $result.Output | Should -BeLike '*tokenizers=2 in Default*'
        $result.Output | Should -BeLike '*tokenizers=3 in CodeGen*'
    }
}

Describe 'Packaging' {
    BeforeAll {
        $repoRoot = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path
        $build = & dotnet $pwsh -NoProfile -NonInteractive -File (Join-Path $repoRoot 'build.ps1') -Task package 2>&1 | Out-String
        $buildExit = $LASTEXITCODE
        $version = (Import-PowerShellDataFile (Join-Path $repoRoot 'CodeGen.psd1')).ModuleVersion
        $packageDir = Join-Path $repoRoot 'out/package'
    }

    It 'builds a versioned module folder with a complete manifest and a .nupkg' {
        $buildExit | Should -Be 0 -Because $build
        Test-Path -LiteralPath (Join-Path $packageDir "CodeGen.$version.nupkg") | Should -BeTrue
        $manifest = Test-ModuleManifest -Path (Join-Path $packageDir "CodeGen/$version/CodeGen.psd1")
        $manifest.Version.ToString() | Should -Be $version
        $manifest.CompatiblePSEditions | Should -Be @('Core')
        $manifest.PowerShellVersion.ToString() | Should -Be '7.4'
        $manifest.Tags | Should -Contain 'OpenAI'
        $manifest.ExportedCmdlets.Keys | Sort-Object | Should -Be ((Get-Command -Module CodeGen).Name | Sort-Object)
        $assembly = Join-Path $packageDir "CodeGen/$version/bin/lib/CodeGen.dll"
        [System.Reflection.AssemblyName]::GetAssemblyName($assembly).Version.ToString(3) | Should -Be $version
        Test-Path -LiteralPath (Join-Path $packageDir "CodeGen/$version/bin/lib/en-US/CodeGen.dll-Help.xml") | Should -BeTrue
    }

    It 'installs with PSResourceGet into a folder, imports from there in a fresh pwsh and runs a row' {
        $repository = "CodeGenTest$([Guid]::NewGuid().ToString('n').Substring(0, 8))"
        $target = New-TestFolder
        Register-PSResourceRepository -Name $repository -Uri $packageDir -Trusted
        try {
            Save-PSResource -Name CodeGen -Version $version -Repository $repository -Path $target -TrustRepository -SkipDependencyCheck
        }
        finally {
            Unregister-PSResourceRepository -Name $repository
        }
        $installed = Join-Path $target "CodeGen/$version/CodeGen.psd1"
        Test-Path -LiteralPath $installed | Should -BeTrue
        $result = Invoke-FreshPwsh @"
`$ErrorActionPreference = 'Stop'
Import-Module '$installed'
`$row = 'task 1' | Invoke-CodeInstructionToCode -Endpoint '$($server.BaseUrl)' -Model fake-model
"module=`$((Get-Module CodeGen).ModuleBase)"
"code=`$(`$row.generated_code.Split("``n")[1])"
"help=`$((Get-Help Invoke-CodeInstructionToCode).Synopsis)"
"@
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $result.Output | Should -BeLike "*module=$target*"
        $result.Output | Should -BeLike '*code=# Task: task 1*'
        $result.Output | Should -BeLike '*help=Asks an LLM*'
    }
}
