# A small pipeline of the kind CodeGen's users write: read instructions from a CSV, generate PowerShell for
# each with Invoke-CodeInstructionToCode, keep the rows whose code passes a check of the pipeline's own, and
# write them as JSON Lines. Rows that fail (no answer, or code that does not parse) go to a second file with
# the reason. The endpoint, model and cache come from the caller's session (Set-CodeGenEndpoint).

function Test-GeneratedPowerShell {
    # The pipeline's own check: the code is not empty and PowerShell parses it without errors.
    [CmdletBinding()]
    [OutputType([string])]
    param([AllowNull()] [AllowEmptyString()] [string] $Code)
    if ([string]::IsNullOrWhiteSpace($Code)) { return 'no code' }
    $tokens = $errors = $null
    [void][System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$tokens, [ref]$errors)
    if ($errors) { return "does not parse: $($errors[0].Message) (line $($errors[0].Extent.StartLineNumber))" }
    $null # passes
}

function Invoke-CodePipeline {
    <#
    .SYNOPSIS
        Generates PowerShell for every instruction of a CSV file and keeps the code that parses.
    .EXAMPLE
        Invoke-CodePipeline -InputPath ./instructions.csv -OutputPath ./kept.jsonl -RejectedPath ./rejected.jsonl
    #>
    [CmdletBinding()]
    param(
        # A CSV with the columns id and instruction.
        [Parameter(Mandatory)] [string] $InputPath,
        # JSON Lines of the rows kept: id, instruction, generated_code.
        [Parameter(Mandatory)] [string] $OutputPath,
        # JSON Lines of the rows set aside: id, instruction, reason.
        [string] $RejectedPath
    )
    $kept = [System.Collections.Generic.List[object]]::new()
    $rejected = [System.Collections.Generic.List[object]]::new()
    $reasons = @{}

    # A row that fails comes out without code and with an error record (its TargetObject is the row): the
    # errors are collected, not shown, and decide the row's reason below.
    $rows = Import-Csv -LiteralPath $InputPath |
        Invoke-CodeInstructionToCode -ErrorVariable rowErrors -ErrorAction SilentlyContinue
    foreach ($failure in $rowErrors) {
        $id = $failure.TargetObject.id
        $reasons[$id] = ($failure.FullyQualifiedErrorId -split ',')[0]
    }

    foreach ($row in $rows) {
        $reason = if ($reasons.ContainsKey($row.id)) { $reasons[$row.id] } else { Test-GeneratedPowerShell -Code $row.generated_code }
        if ($reason) {
            Write-Verbose "Row $($row.id) set aside: $reason"
            $rejected.Add([ordered]@{ id = $row.id; instruction = $row.instruction; reason = $reason })
        }
        else {
            $kept.Add([ordered]@{ id = $row.id; instruction = $row.instruction; generated_code = $row.generated_code })
        }
    }

    $kept | ForEach-Object { $_ | ConvertTo-Json -Compress } | Set-Content -LiteralPath $OutputPath -Encoding utf8NoBOM
    if ($RejectedPath) {
        $rejected | ForEach-Object { $_ | ConvertTo-Json -Compress } | Set-Content -LiteralPath $RejectedPath -Encoding utf8NoBOM
    }
    [pscustomobject]@{ Kept = $kept.Count; Rejected = $rejected.Count; Reasons = @($rejected | ForEach-Object { "$($_.id): $($_.reason)" }) }
}

Export-ModuleMember -Function Invoke-CodePipeline, Test-GeneratedPowerShell
