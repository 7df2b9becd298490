# The offline stub server as README's "Try it offline" starts it: ./build.ps1 -Task stub -Port N, in a process of
# its own, on a port the user chose; CodeGen's commands run against it; stopping the task stops the server.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    function Get-FreePort {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
    }

    function Start-StubTask([int] $Port) {
        # what a user types in a terminal of its own: dotnet pwsh ./build.ps1 -Task stub -Port $Port
        $psi = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
        foreach ($a in @((Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-File', (Join-Path $RepoRoot 'build.ps1'), '-Task', 'stub', '-Port', $Port)) {
            $psi.ArgumentList.Add([string]$a)
        }
        $psi.UseShellExecute = $false
        $psi.RedirectStandardOutput = $true
        $psi.RedirectStandardError = $true
        $process = [System.Diagnostics.Process]::Start($psi)
        $lines = [System.Collections.Generic.List[string]]::new()
        while ($true) {
            $read = $process.StandardOutput.ReadLineAsync()
            if (-not $read.Wait(120000) -or $null -eq $read.Result) { break }
            $lines.Add($read.Result)
            if ($read.Result -match 'Press Ctrl\+C') { break }   # the last line it prints once it serves
        }
        [pscustomobject]@{ Process = $process; Lines = $lines }
    }
}

AfterAll {
    Clear-CodeGenEndpoint
    Restore-EndpointEnvironment
}

Describe 'build.ps1 -Task stub' {
    It 'serves on the port it is given until it is stopped, and CodeGen runs against it' {
        $port = Get-FreePort
        $task = Start-StubTask $port
        try {
            $endpoint = "http://127.0.0.1:$port/v1"
            ($task.Lines -join "`n") | Should -Match "listening on $([regex]::Escape($endpoint))"
            # it tells the user how to point CodeGen at it
            ($task.Lines -join "`n") | Should -Match ([regex]::Escape("Set-CodeGenEndpoint -Endpoint $endpoint -Model stub"))

            Set-CodeGenEndpoint -Endpoint $endpoint -Model stub
            $rows = Import-Csv -LiteralPath (Join-Path $RepoRoot 'examples/instructions.csv') | Select-Object -First 2 |
                Invoke-CodeInstructionToCode -ErrorAction Stop
            $rows | Should -HaveCount 2
            $stub = [pscustomobject]@{ Root = "http://127.0.0.1:$port" }
            $rows[0].generated_code | Should -Be (Get-FakeLlmCode -Server $stub -Task $rows[0].instruction)
            $rows[1].generated_code | Should -Be (Get-FakeLlmCode -Server $stub -Task $rows[1].instruction)
        }
        finally {
            Clear-CodeGenEndpoint
            $task.Process.Kill($true)
            $task.Process.WaitForExit()
        }
    }

    It 'says so when the port is taken, rather than serving elsewhere' {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try {
            $task = Start-StubTask $listener.LocalEndpoint.Port
            $task.Process.WaitForExit()
            $task.Process.ExitCode | Should -Not -Be 0
            ($task.Lines -join "`n") | Should -Not -Match 'listening on'
            $task.Process.StandardError.ReadToEnd() + $task.Process.StandardOutput.ReadToEnd() | Should -Match 'did not start'
        }
        finally { $listener.Stop() }
    }
}
