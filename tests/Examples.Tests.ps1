# Every PowerShell example in README.md and docs/help/*.md (the source of Get-Help's examples and about_CodeGen),
# as written. Each one is parsed, and the CodeGen commands and parameters it names must exist. Each one that can
# run here runs, unchanged, in a folder of its own with the files it reads, against the stub server: the
# machine's environment points CODEGEN_ENDPOINT at the stub, sets ANTHROPIC_API_KEY, and HTTP_PROXY routes http://
# endpoints such as Ollama's http://localhost:11434/v1 to it. The few that cannot run here (a build, an Azure resource, a key
# typed at a prompt, a batch made by another tool) are listed below with the reason.
BeforeDiscovery {
    $root = Split-Path $PSScriptRoot -Parent
    $files = @(Get-Item (Join-Path $root 'README.md')) + @(Get-ChildItem (Join-Path $root 'docs/help') -Filter *.md)
    $script:Examples = foreach ($file in $files) {
        $lines = [System.IO.File]::ReadAllLines($file.FullName)
        for ($i = 0; $i -lt $lines.Count; $i++) {
            if ($lines[$i] -notmatch '^```powershell\s*$') { continue }
            $start = $i + 1
            $code = [System.Collections.Generic.List[string]]::new()
            for ($i++; $i -lt $lines.Count -and $lines[$i] -notmatch '^```\s*$'; $i++) { $code.Add($lines[$i]) }
            @{ Name = "$($file.Name):$start"; File = $file.Name; Code = $code -join "`n" }
        }
    }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $server = Start-FakeLlm

    # Examples that do not run here, each found by a piece of its text, and why. The static checks still apply.
    $script:NotRun = @(
        @{ File = 'README.md'; Text = 'build.ps1 -Task demo'; Why = 'builds the repository and runs its demo' }
        @{ File = 'README.md'; Text = 'build.ps1 -Task build'; Why = 'builds the repository' }
        @{ File = 'README.md'; Text = 'Register-PSResourceRepository'; Why = 'registers a PSResourceGet repository for the user' }
        @{ File = 'README.md'; Text = '-Endpoint https://myres.openai.azure.com -Deployment gpt-4o-mini-batch'; Why = 'an Azure OpenAI resource' }
        @{ File = 'README.md'; Text = 'python -m vllm'; Why = 'merges results that vLLM''s run_batch wrote' }
        @{ File = 'README.md'; Text = 'Invoke-CodePipeline -InputPath ./tests/instructions.csv'; Why = 'records against OpenAI; examples/pester-pipeline is the example CI runs' }
        @{ File = 'README.md'; Text = 'It ''keeps the rows whose code parses'''; Why = 'a fragment of a Pester suite; examples/pester-pipeline runs the whole one' }
        @{ File = 'README.md'; Text = 'Mock Invoke-CodeInstructionToCode -ModuleName CodePipeline'; Why = 'a fragment of a Pester suite; examples/pester-pipeline runs the whole one' }
        @{ File = 'README.md'; Text = '-Endpoint https://myresource.openai.azure.com -Deployment gpt-4o-prod'; Why = 'Azure OpenAI resources, Entra ID and Get-AzAccessToken' }
        @{ File = 'README.md'; Text = 'generativelanguage.googleapis.com'; Why = 'Google''s API, over https' }
        @{ File = 'README.md'; Text = '-Proxy http://proxy.corp:3128'; Why = 'a corporate proxy that is not here' }
        @{ File = 'Get-CodeGenBatch.md'; Text = 'Get-CodeGenBatch -Id batch_6721a0c2e5c48190'; Why = 'a batch id of a real provider' }
        @{ File = 'Stop-CodeGenBatch.md'; Text = 'Stop-CodeGenBatch -Id batch_6721a0c2e5c48190'; Why = 'a batch id of a real provider' }
        @{ File = 'Import-CodeGenBatchResult.md'; Text = '-ResultPath ./results.jsonl'; Why = 'merges results that vLLM''s run_batch wrote' }
        @{ File = 'Import-CodeGenBatchResult.md'; Text = '-ResultPath ./output-1.jsonl'; Why = 'merges result files downloaded from a provider' }
        @{ File = 'Invoke-CodeInstructionToCode.md'; Text = '-Endpoint https://myres.openai.azure.com -Deployment gpt-4o-mini -EntraId'; Why = 'an Azure OpenAI resource and Entra ID sign-in' }
        @{ File = 'Set-CodeGenEndpoint.md'; Text = 'Read-Host -AsSecureString'; Why = 'reads a key typed at a prompt' }
        @{ File = 'Measure-CodeGenCost.md'; Text = '-Provider Anthropic -Model claude-sonnet-4-5'; Why = 'Anthropic''s count_tokens, over https' }
        @{ File = 'about_CodeGen.md'; Text = 'Invoke-MyPipeline'; Why = 'records against OpenAI with a pipeline module of the reader''s' }
        @{ File = 'about_CodeGen.md'; Text = 'Mock Invoke-CodeInstructionToCode -ModuleName MyPipeline'; Why = 'a fragment of a Pester suite; examples/pester-pipeline runs the whole one' }
    )

    # a folder of scripts that parse, as a repository that keeps its scripts clean has
    $scripts = "`$null = New-Item -ItemType Directory ./scripts/lib; Set-Content ./scripts/a.ps1 'Get-Date'; Set-Content ./scripts/lib/b.psm1 'function Get-B { 1 }'; Set-Content ./scripts/c.py 'print(1)'; Set-Content ./scripts/d.sh 'echo hi'"

    # What some examples need done first, as a user would have done it before (a run whose output they look at).
    $script:Before = @(
        @{ File = 'README.md'; Text = 'Import-CodeGenData generated.jsonl'; Run = '
            Invoke-CodeInstructionToCode -Path instructions.csv -OutputPath generated.jsonl -Model gpt-4o-mini
            Import-Csv instructions.csv | Export-Csv big.csv -Delimiter ";" -Encoding latin1' }
        @{ File = 'Test-CodeGenCode.md'; Text = 'Import-Csv ./generated.csv'; Run = 'Invoke-CodeInstructionToCode -Path ./examples/instructions.csv -OutputPath ./generated.csv -Model gpt-4o-mini' }
        @{ File = 'Test-CodeGenCode.md'; Text = '-CodeKey text -Language Python'; Run = "Copy-Item -LiteralPath '$(Join-Path $PSScriptRoot 'data/dataflow-examples/code_input.jsonl')' ./code_input.jsonl" }
        @{ File = 'Test-CodeGenCode.md'; Text = "-Language '{language}' |"; Run = "Copy-Item -LiteralPath '$(Join-Path $PSScriptRoot 'data/dataflow-examples/code_input.jsonl')' ./code_input.jsonl" }
        @{ File = 'Test-CodeGenCode.md'; Text = 'Get-ChildItem ./scripts'; Run = $scripts }
        @{ File = 'Test-CodeGenCode.md'; Text = 'if ($failed = Test-CodeGenCode'; Run = $scripts }
        @{ File = 'README.md'; Text = 'if ($failed = Get-ChildItem ./scripts'; Run = $scripts }
        # LiteLLM's price map, as downloaded (one entry of it)
        @{ File = 'Measure-CodeGenCost.md'; Text = '-PriceFile ./model_prices_and_context_window.json'; Run = @'
'{ "gpt-4o-mini": { "input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07, "cache_read_input_token_cost": 7.5e-08, "input_cost_per_token_batches": 7.5e-08, "output_cost_per_token_batches": 3e-07, "litellm_provider": "openai", "mode": "chat" } }' | Set-Content ./model_prices_and_context_window.json
'@ }
        @{ File = 'Get-CodeGenBatch.md'; Text = '-Offline'; Run = 'Invoke-CodeInstructionToCode -Path ./big.csv -OutputPath ./out.csv -Model gpt-4o-mini -Batch -NoWait' }
        # the rows the cancelled batch did not run come back without code, as the example says
        @{ File = 'Stop-CodeGenBatch.md'; Text = 'Stop-CodeGenBatch -OutputPath ./out.csv'; ErrorId = 'BatchResultMissing'
            Run = 'Invoke-CodeInstructionToCode -Path ./big.csv -OutputPath ./out.csv -Model gpt-4o-mini -Batch -NoWait' }
    )

    function Find-NotRun([hashtable] $Example) {
        $script:NotRun | Where-Object { $_.File -eq $Example.File -and $Example.Code.Contains($_.Text) }
    }

    function Find-Before([hashtable] $Example) {
        $script:Before | Where-Object { $_.File -eq $Example.File -and $Example.Code.Contains($_.Text) }
    }

    # Run every example that can run here, in a pwsh of its own (Run-Examples.ps1), with the environment of a
    # machine where CODEGEN_ENDPOINT points at the stub server and HTTP_PROXY routes http:// endpoints to it, and
    # CodeGen is where PowerShell finds installed modules (so new runspaces load it by themselves).
    $runnable = @($Examples | Where-Object { -not (Find-NotRun $_) } | ForEach-Object {
        [ordered]@{
            Name       = $_.Name
            Code       = $_.Code
            Before     = (Find-Before $_).Run
            BatchPolls = $(if ($_.Code -match '-NoWait' -or $_.File -eq 'Stop-CodeGenBatch.md') { 2 } else { 1 })
        }
    })
    $modules = Join-Path $TestDrive 'modules'
    $null = New-Item -ItemType Directory -Path $modules
    $null = New-Item -ItemType SymbolicLink -Path (Join-Path $modules 'CodeGen') -Target $RepoRoot
    $examplesFile = Join-Path $TestDrive 'examples.json'
    $resultsFile = Join-Path $TestDrive 'results.json'
    ConvertTo-Json -InputObject $runnable -Depth 5 | Set-Content -LiteralPath $examplesFile -Encoding utf8
    $saved = @{}
    foreach ($variable in 'CODEGEN_ENDPOINT', 'CODEGEN_MODEL', 'ANTHROPIC_API_KEY', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'PSModulePath') { $saved[$variable] = [Environment]::GetEnvironmentVariable($variable) }
    try {
        $env:CODEGEN_ENDPOINT = $server.BaseUrl
        $env:ANTHROPIC_API_KEY = 'sk-ant-examples-0123456789'   # a user of Anthropic has one set, as the examples say
        $env:HTTP_PROXY = $server.Root
        foreach ($variable in 'CODEGEN_MODEL', 'http_proxy', 'NO_PROXY', 'no_proxy') { [Environment]::SetEnvironmentVariable($variable, $null) }
        $env:PSModulePath = $modules + [System.IO.Path]::PathSeparator + $env:PSModulePath
        & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -File (Join-Path $PSScriptRoot 'Run-Examples.ps1') `
            -ExamplesPath $examplesFile -ResultsPath $resultsFile -ServerRoot $server.Root -WorkPath (Join-Path $TestDrive 'work') | Out-Null
    }
    finally {
        foreach ($variable in $saved.Keys) { [Environment]::SetEnvironmentVariable($variable, $saved[$variable]) }
    }
    $script:Results = if (Test-Path -LiteralPath $resultsFile) { Get-Content -Raw -LiteralPath $resultsFile | ConvertFrom-Json -AsHashtable } else { @{} }
}

AfterAll {
    Clear-CodeGenEndpoint
    if ($server) { Stop-FakeLlm $server }
    Restore-EndpointEnvironment
}

Describe 'Examples in the README and the help' {
    It '<Name> names only commands and parameters that exist' -ForEach $Examples {
        $tokens = $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$tokens, [ref]$errors)
        $errors | Should -BeNullOrEmpty
        $commands = $ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] }, $true)
        foreach ($command in $commands) {
            $name = $command.GetCommandName()
            if ($name -notmatch '-CodeGen|^Invoke-CodeInstructionToCode$') { continue }
            $info = Get-Command $name -Module CodeGen -ErrorAction SilentlyContinue
            $info | Should -Not -BeNullOrEmpty -Because "$Name runs $name"
            $known = @($info.Parameters.Keys) + @($info.Parameters.Values.Aliases)
            foreach ($parameter in $command.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] }) {
                $known | Should -Contain $parameter.ParameterName -Because "$Name passes -$($parameter.ParameterName) to $name"
            }
        }
    }

    It '<Name> runs as written' -ForEach $Examples {
        $notRun = Find-NotRun $_
        if ($notRun) {
            Set-ItResult -Skipped -Because $notRun.Why
            return
        }
        $script:Results.Contains($Name) | Should -BeTrue -Because 'Run-Examples.ps1 ran it'
        $expected = @((Find-Before $_).ErrorId | Where-Object { $_ })
        @($script:Results[$Name].Errors | Where-Object { $_.Id -notin $expected } | ForEach-Object { "$($_.Id): $($_.Message)" }) | Should -BeNullOrEmpty
    }

    It 'lists only examples that exist among those it does not run or prepares' {
        foreach ($entry in $script:NotRun + $script:Before) {
            @($Examples | Where-Object { $_.File -eq $entry.File -and $_.Code.Contains($entry.Text) }).Count | Should -Be 1 -Because "'$($entry.Text)' in $($entry.File)"
        }
    }
}
