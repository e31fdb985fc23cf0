<#
.SYNOPSIS
    rootcause evidence bundle for Remote Desktop "error code 0x904, extended error code 0x7"
    (knowledge base rdp-0x904).

.DESCRIPTION
    Run this on the Windows host that clients fail to reach over Remote Desktop. It runs the
    host checks that the rdp-0x904 knowledge base declares (kb/rdp-0x904/collectors.ron) and
    writes their output into ONE JSON file, the evidence bundle. Read the bundle anywhere with

        rootcause collect --bundle bundle.json
        rootcause diagnose --bundle bundle.json

    What it reads (nothing else):
      - the OS version, product type, cloud vendor hints and installed hotfixes (Get-HotFix);
      - the RDP listener certificate (Win32_TSGeneralSetting, Cert:\LocalMachine\Remote Desktop
        and Cert:\LocalMachine\My): thumbprint, subject, validity, private key, EKU;
      - registry values under HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server (RDP-Tcp:
        SecurityLayer, UserAuthentication, MinEncryptionLevel, SSLCertificateSHA1Hash,
        PortNumber; fDenyTSConnections) and their Group Policy copies;
      - the access control lists (by SID) of %ProgramData%\Microsoft\Crypto\RSA\MachineKeys and of
        its f686aace6942fb7f7ceb231212eef4a4* RDP key files (never the keys themselves);
      - the state of TermService, SessionEnv, UmRdpService, CertPropSvc, KeyIso, CryptSvc and
        which process listens on the RDP port;
      - Windows Firewall profiles and the rules for the RDP port;
      - antivirus products (root\SecurityCenter2 on client editions), running services of
        well-known security products, Microsoft Defender's running mode;
      - the CredSSP AllowEncryptionOracle policy and the tspkg.dll version;
      - SCHANNEL protocol keys, the FIPS policy, the SSL cipher suite order policy;
      - RD licensing mode and grace period days (RD Session Hosts only);
      - counts of RDP-related events of the last 7 days (System, RemoteConnectionManager,
        RdpCoreTS logs).

    It CHANGES NOTHING: no setting, service, file, certificate or firewall rule is modified,
    nothing is sent anywhere. The only file written is the bundle. Review the bundle before you
    share it: it holds the computer name, certificate subjects and thumbprints, the names of
    firewall rules and security products.

    Run it elevated (as Administrator): some ACLs and WMI classes can only be read so.

    Each check runs in its own runspace with a time limit (Timeout below, in seconds; the same
    limits as in collectors.ron). A check that runs over is stopped and recorded as an error;
    a check that fails is recorded with its error message; the others still run.

    The check scripts below are copied verbatim from kb/rdp-0x904/collectors.ron (a test of
    rootcause compares them): change them there and here together.

.PARAMETER OutFile
    Where to write the bundle. Default: rootcause-bundle-<COMPUTERNAME>.json in the current
    directory. Written as UTF-8 without byte order mark.

.PARAMETER TimeoutSeconds
    Overrides every check's time limit (seconds). 0 (default) keeps each check's own limit.

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File collect.ps1 -OutFile C:\temp\bundle.json

.NOTES
    Works with Windows PowerShell 5.1 (Windows Server 2012 R2 with WMF 5.1 and later) and
    PowerShell 7. Bundle format: {"format": "rootcause-bundle", "version": 1, "kb": "rdp-0x904",
    "computer": ..., "collected": ..., "checks": {"<check id>": {"output": "<the check's JSON
    text>", "error": null or "message", "seconds": n}}}.
#>
[CmdletBinding()]
param(
    [string]$OutFile = '',
    [int]$TimeoutSeconds = 0
)

$ErrorActionPreference = 'Continue'
$BundleVersion = 1
$ScriptVersion = 'collect.ps1 1'

# ---- The host checks of kb/rdp-0x904/collectors.ron (id, time limit in seconds, script).
$Checks = [ordered]@{}
$Checks.Add('host_os_hotfixes', @{ Timeout = 60; Run = @'
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cs = Get-CimInstance -ClassName Win32_ComputerSystem
$tag = [string](Get-CimInstance -ClassName Win32_SystemEnclosure -ErrorAction SilentlyContinue | Select-Object -First 1).SMBIOSAssetTag
$agent = @(Get-Service -Name 'WindowsAzureGuestAgent', 'RdAgent' -ErrorAction SilentlyContinue).Count -gt 0
$azure = ($tag -eq '7783-7084-3265-9085-8269-3286-77') -or $agent
$other = ([string]$cs.Manufacturer -match 'Amazon EC2|Google') -or ([string]$cs.Model -match 'Google Compute Engine|HVM domU')
$fixes = @(Get-HotFix -ErrorAction SilentlyContinue | Where-Object { $_.InstalledOn } | Sort-Object -Property InstalledOn -Descending)
$now = Get-Date
$last = $null
if ($fixes.Count -gt 0) { $last = $fixes[0] }
[ordered]@{
    ComputerName = $env:COMPUTERNAME
    Caption = [string]$os.Caption
    Version = [string]$os.Version
    BuildNumber = [int]$os.BuildNumber
    ProductType = [int]$os.ProductType
    Manufacturer = [string]$cs.Manufacturer
    Model = [string]$cs.Model
    Azure = [bool]$azure
    OtherCloud = [bool]$other
    LastBootUpTime = if ($os.LastBootUpTime) { $os.LastBootUpTime.ToString('o') } else { $null }
    HotfixCount = $fixes.Count
    LastHotfix = if ($last) { [string]$last.HotFixID } else { $null }
    LastHotfixInstalledOn = if ($last) { $last.InstalledOn.ToString('o') } else { $null }
    DaysSinceLastHotfix = if ($last) { [int][math]::Floor(($now - $last.InstalledOn).TotalDays) } else { $null }
    HotfixesLast30Days = @($fixes | Where-Object { ($now - $_.InstalledOn).TotalDays -lt 30 }).Count
} | ConvertTo-Json -Depth 5 -Compress
'@ })

$Checks.Add('host_rdp_certificate', @{ Timeout = 30; Run = @'
$ts = Get-CimInstance -Namespace 'root\cimv2\TerminalServices' -ClassName Win32_TSGeneralSetting -Filter "TerminalName='RDP-Tcp'" -ErrorAction SilentlyContinue | Select-Object -First 1
$bound = [string]$ts.SSLCertificateSHA1Hash
$rd = @(Get-ChildItem -Path 'Cert:\LocalMachine\Remote Desktop' -ErrorAction SilentlyContinue)
$my = @(Get-ChildItem -Path 'Cert:\LocalMachine\My' -ErrorAction SilentlyContinue)
$cert = $null
$store = $null
$source = $null
if ($bound) {
    $cert = $rd | Where-Object { $_.Thumbprint -eq $bound } | Select-Object -First 1
    if ($cert) { $store = 'Remote Desktop' } else {
        $cert = $my | Where-Object { $_.Thumbprint -eq $bound } | Select-Object -First 1
        if ($cert) { $store = 'My' }
    }
    if ($cert) { $source = 'binding' }
}
$boundFound = [bool]$cert
if (-not $cert) {
    $cert = $rd | Sort-Object -Property NotAfter -Descending | Select-Object -First 1
    if ($cert) { $store = 'Remote Desktop'; $source = 'newest' }
}
$now = Get-Date
$out = [ordered]@{
    BoundThumbprint = if ($bound) { $bound } else { $null }
    BoundFound = $boundFound
    RemoteDesktopStoreCount = $rd.Count
    Found = [bool]$cert
    Source = $source
    Store = $store
    Thumbprint = $null
    Subject = $null
    Issuer = $null
    NotBefore = $null
    NotAfter = $null
    Expired = $null
    NotYetValid = $null
    DaysLeft = $null
    SelfSigned = $null
    HasPrivateKey = $null
    ServerAuth = $null
}
if ($cert) {
    $eku = $cert.Extensions | Where-Object { $_.Oid.Value -eq '2.5.29.37' } | Select-Object -First 1
    $out.Thumbprint = $cert.Thumbprint
    $out.Subject = $cert.Subject
    $out.Issuer = $cert.Issuer
    $out.NotBefore = $cert.NotBefore.ToString('o')
    $out.NotAfter = $cert.NotAfter.ToString('o')
    $out.Expired = $cert.NotAfter -lt $now
    $out.NotYetValid = $cert.NotBefore -gt $now
    $out.DaysLeft = [int][math]::Floor(($cert.NotAfter - $now).TotalDays)
    $out.SelfSigned = $cert.Subject -eq $cert.Issuer
    $out.HasPrivateKey = $cert.HasPrivateKey
    $out.ServerAuth = (-not $eku) -or (@($eku.EnhancedKeyUsages | ForEach-Object { $_.Value }) -contains '1.3.6.1.5.5.7.3.1')
}
$out | ConvertTo-Json -Depth 5 -Compress
'@ })

$Checks.Add('host_rdp_tcp_settings', @{ Timeout = 20; Run = @'
$ts = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server' -ErrorAction SilentlyContinue
$rdp = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp' -ErrorAction SilentlyContinue
$pol = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services' -ErrorAction SilentlyContinue
$winlogon = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon' -ErrorAction SilentlyContinue
$current = [ordered]@{
    fDenyTSConnections = $ts.fDenyTSConnections
    SecurityLayer = $rdp.SecurityLayer
    UserAuthentication = $rdp.UserAuthentication
    MinEncryptionLevel = $rdp.MinEncryptionLevel
}
$policy = [ordered]@{
    fDenyTSConnections = $pol.fDenyTSConnections
    SecurityLayer = $pol.SecurityLayer
    UserAuthentication = $pol.UserAuthentication
    MinEncryptionLevel = $pol.MinEncryptionLevel
}
$out = [ordered]@{}
foreach ($name in @($current.Keys)) {
    $out[$name] = if ($null -ne $policy[$name]) { $policy[$name] } else { $current[$name] }
}
$hash = $rdp.SSLCertificateSHA1Hash
$out['PolicyOverrides'] = @($policy.Values | Where-Object { $null -ne $_ }).Count -gt 0
$out['PortNumber'] = $rdp.PortNumber
$out['SSLCertificateSHA1Hash'] = if ($hash) { -join ($hash | ForEach-Object { $_.ToString('X2') }) } else { $null }
$out['fAllowSecProtocolNegotiation'] = $rdp.fAllowSecProtocolNegotiation
$out['MaxInstanceCount'] = $rdp.MaxInstanceCount
$out['LogonsDisabled'] = ($winlogon.WinStationsDisabled -eq 1)
$out['DrainMode'] = [int]$ts.TSServerDrainMode
$out['Local'] = $current
$out['Policy'] = $policy
$out | ConvertTo-Json -Depth 5 -Compress
'@ })

$Checks.Add('host_machinekeys_acl', @{ Timeout = 30; Run = @'
$dir = Join-Path -Path $env:ProgramData -ChildPath 'Microsoft\Crypto\RSA\MachineKeys'
function Get-RcAcl([string]$Path) {
    $acl = Get-Acl -LiteralPath $Path -ErrorAction Stop
    $owner = $null
    try { $owner = $acl.GetOwner([System.Security.Principal.SecurityIdentifier]).Value } catch { }
    $aces = foreach ($a in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        $sid = $a.IdentityReference.Value
        $name = $sid
        try { $name = $a.IdentityReference.Translate([System.Security.Principal.NTAccount]).Value } catch { }
        $mask = [int64][int]$a.FileSystemRights
        if ($mask -lt 0) { $mask += 4294967296 }
        [ordered]@{
            Sid = $sid
            Name = $name
            Type = $a.AccessControlType.ToString()
            Rights = $mask
            InheritOnly = (([int]$a.PropagationFlags -band 2) -ne 0)
        }
    }
    [ordered]@{ Owner = $owner; Aces = @($aces) }
}
function Get-RcMask([int64]$Mask) {
    if ($Mask -band 268435456) { $Mask = $Mask -bor 2032127 }
    if ($Mask -band 2147483648) { $Mask = $Mask -bor 1179785 }
    if ($Mask -band 1073741824) { $Mask = $Mask -bor 1179926 }
    if ($Mask -band 536870912) { $Mask = $Mask -bor 1179808 }
    $Mask
}
function Test-RcGrant($Aces, [string[]]$Sids, [int64]$Need) {
    $allow = [int64]0
    $deny = [int64]0
    foreach ($e in $Aces) {
        if ($e.InheritOnly -or ($Sids -notcontains $e.Sid)) { continue }
        $m = Get-RcMask $e.Rights
        if ($e.Type -eq 'Allow') { $allow = $allow -bor $m } else { $deny = $deny -bor $m }
    }
    (($allow -band $Need) -eq $Need) -and (($deny -band $Need) -eq 0)
}
function Get-RcAll($Items, [string]$Name) {
    $values = @($Items | ForEach-Object { $_[$Name] })
    if ($values.Count -eq 0) { return $null }
    if ($values -contains $false) { return $false }
    if (@($values | Where-Object { $null -eq $_ }).Count -gt 0) { return $null }
    return $true
}
$folderFound = Test-Path -LiteralPath $dir
$folderAcl = $null
$folderError = $null
$adminsFull = $null
$everyoneRw = $null
$folderOk = $false
if ($folderFound) {
    $folderOk = $null
    try {
        $folderAcl = Get-RcAcl -Path $dir
        $adminsFull = Test-RcGrant -Aces $folderAcl.Aces -Sids @('S-1-5-32-544') -Need 2032127
        $everyoneRw = Test-RcGrant -Aces $folderAcl.Aces -Sids @('S-1-1-0') -Need 3
        $folderOk = $adminsFull -and $everyoneRw
    } catch { $folderError = $_.Exception.Message }
}
$keys = @(Get-ChildItem -LiteralPath $dir -Filter 'f686aace6942fb7f7ceb231212eef4a4*' -Force -ErrorAction SilentlyContinue)
$keyOut = @(foreach ($k in $keys) {
    $entry = [ordered]@{ Name = $k.Name; Owner = $null; NetworkServiceRead = $null; SystemFull = $null; Ok = $null; Error = $null; Aces = @() }
    try {
        $r = Get-RcAcl -Path $k.FullName
        $entry.Owner = $r.Owner
        $entry.Aces = $r.Aces
        $entry.NetworkServiceRead = Test-RcGrant -Aces $r.Aces -Sids @('S-1-5-20', 'S-1-1-0', 'S-1-5-11') -Need 131209
        $entry.SystemFull = Test-RcGrant -Aces $r.Aces -Sids @('S-1-5-18', 'S-1-1-0', 'S-1-5-11') -Need 2032127
        $entry.Ok = $entry.NetworkServiceRead -and $entry.SystemFull
    } catch { $entry.Error = $_.Exception.Message }
    $entry
})
$keyAclOk = Get-RcAll $keyOut 'Ok'
$aclOk = $true
if ($folderOk -eq $false -or $keyAclOk -eq $false) { $aclOk = $false } elseif ($null -eq $folderOk -or ($keyOut.Count -gt 0 -and $null -eq $keyAclOk)) { $aclOk = $null }
[ordered]@{
    Folder = $dir
    FolderFound = $folderFound
    FolderError = $folderError
    FolderOwner = if ($folderAcl) { $folderAcl.Owner } else { $null }
    FolderAdministratorsFull = $adminsFull
    FolderEveryoneReadWrite = $everyoneRw
    FolderOk = $folderOk
    FolderAces = @(if ($folderAcl) { $folderAcl.Aces })
    KeyCount = $keyOut.Count
    KeyAclOk = $keyAclOk
    NetworkServiceRead = Get-RcAll $keyOut 'NetworkServiceRead'
    SystemFull = Get-RcAll $keyOut 'SystemFull'
    AclOk = $aclOk
    Keys = $keyOut
} | ConvertTo-Json -Depth 5 -Compress
'@ })

$Checks.Add('host_services', @{ Timeout = 30; Run = @'
$names = 'TermService', 'SessionEnv', 'UmRdpService', 'CertPropSvc', 'KeyIso', 'CryptSvc'
$out = [ordered]@{}
foreach ($n in $names) {
    $s = Get-Service -Name $n -ErrorAction SilentlyContinue
    if ($s) {
        $out[$n] = [ordered]@{ Status = $s.Status.ToString(); StartType = [string]$s.StartType; DisplayName = [string]$s.DisplayName }
    } else {
        $out[$n] = $null
    }
}
$port = (Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp' -ErrorAction SilentlyContinue).PortNumber
if (-not $port) { $port = 3389 }
$svcPid = [int](Get-CimInstance -ClassName Win32_Service -Filter "Name='TermService'" -ErrorAction SilentlyContinue).ProcessId
$listen = @(Get-NetTCPConnection -LocalPort $port -State Listen -ErrorAction SilentlyContinue)
$owners = @($listen | ForEach-Object { [int]$_.OwningProcess } | Sort-Object -Unique)
$procs = @(foreach ($p in $owners) { $pr = Get-Process -Id $p -ErrorAction SilentlyContinue; if ($pr) { $pr.ProcessName } else { [string]$p } })
$out['Port'] = [int]$port
$out['Listening'] = $listen.Count -gt 0
$out['ListenerIsTermService'] = if ($listen.Count -gt 0) { ($svcPid -gt 0) -and ($owners -contains $svcPid) } else { $null }
$out['ListenerProcesses'] = $procs -join ','
$out | ConvertTo-Json -Depth 5 -Compress
'@ })

$Checks.Add('host_firewall_rules', @{ Timeout = 60; Run = @'
$port = (Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp' -ErrorAction SilentlyContinue).PortNumber
if (-not $port) { $port = 3389 }
$portText = [string]$port
$profiles = @(Get-NetFirewallProfile -PolicyStore ActiveStore -ErrorAction SilentlyContinue)
$enabledProfiles = @($profiles | Where-Object { [string]$_.Enabled -eq 'True' } | ForEach-Object { [string]$_.Name })
$builtin = Get-NetFirewallRule -PolicyStore ActiveStore -Name 'RemoteDesktop-UserMode-In-TCP' -ErrorAction SilentlyContinue | Select-Object -First 1
$builtinPorts = @()
if ($builtin) { $builtinPorts = @(($builtin | Get-NetFirewallPortFilter).LocalPort) }
$filters = @(Get-NetFirewallPortFilter -PolicyStore ActiveStore -ErrorAction SilentlyContinue | Where-Object { [string]$_.Protocol -eq 'TCP' -and @($_.LocalPort) -contains $portText })
$rules = @()
if ($filters.Count -gt 0) {
    $rules = @($filters | Get-NetFirewallRule -ErrorAction SilentlyContinue | Where-Object { [string]$_.Direction -eq 'Inbound' -and [string]$_.Enabled -eq 'True' })
}
$allow = @($rules | Where-Object { [string]$_.Action -eq 'Allow' })
$block = @($rules | Where-Object { [string]$_.Action -eq 'Block' })
[ordered]@{
    Port = [int]$port
    EnabledProfiles = $enabledProfiles -join ','
    FirewallEnabled = $enabledProfiles.Count -gt 0
    BuiltinRuleFound = [bool]$builtin
    BuiltinRuleEnabled = if ($builtin) { [string]$builtin.Enabled -eq 'True' } else { $null }
    BuiltinRuleAction = if ($builtin) { [string]$builtin.Action } else { $null }
    BuiltinRuleProfile = if ($builtin) { [string]$builtin.Profile } else { $null }
    BuiltinRulePortMatches = if ($builtin) { $builtinPorts -contains $portText } else { $null }
    AllowRules = $allow.Count
    BlockRules = $block.Count
    AllowRuleNames = @($allow | ForEach-Object { [string]$_.Name }) -join ','
    AllowRuleDisplayNames = @($allow | ForEach-Object { [string]$_.DisplayName }) -join '; '
    AllowsRdp = ($enabledProfiles.Count -eq 0) -or (($allow.Count -gt 0) -and ($block.Count -eq 0))
} | ConvertTo-Json -Depth 5 -Compress
'@ })

$Checks.Add('host_antivirus', @{ Timeout = 30; Run = @'
$defender = '{D68DDC3A-831F-4fae-9E44-DA132C1ACF46}'
$securityCenter = $true
$found = @()
try {
    $found = @(Get-CimInstance -Namespace 'root\SecurityCenter2' -ClassName AntiVirusProduct -ErrorAction Stop)
} catch { $securityCenter = $false }
$products = @(foreach ($p in $found) {
    $state = [int64]$p.productState
    $isDefender = ([string]$p.instanceGuid -eq $defender) -or ([string]$p.pathToSignedProductExe -match '^windowsdefender:|\\Windows Defender\\')
    [ordered]@{
        Name = [string]$p.displayName
        State = $state
        Enabled = ((($state -shr 12) -band 15) -eq 1)
        UpToDate = ((($state -shr 4) -band 15) -eq 0)
        ThirdParty = -not $isDefender
    }
})
$known = 'CSFalconService', 'SentinelAgent', 'SepMasterService', 'mfemms', 'masvc', 'ekrn', 'AVP*', 'klnagent', 'SAVService', 'Sophos*', 'ds_agent', 'TmListen', 'ntrtscan', 'CylanceSvc', 'CbDefense', 'EPSecurityService', 'WRSVC', 'cyserver', 'AvastSvc', 'AVGSvc', 'MBAMService', 'CiscoAMP*'
$services = @(Get-Service -Name $known -ErrorAction SilentlyContinue | Where-Object { $_.Status.ToString() -eq 'Running' } | ForEach-Object { $_.Name } | Sort-Object -Unique)
$mode = $null
try { $mode = [string](Get-MpComputerStatus -ErrorAction Stop).AMRunningMode } catch { }
$third = @($products | Where-Object { $_.ThirdParty } | ForEach-Object { $_.Name })
$count = $third.Count
if ($count -eq 0) { $count = $services.Count }
if ($count -eq 0 -and $mode -match 'Passive') { $count = 1 }
[ordered]@{
    SecurityCenter = $securityCenter
    Products = $products
    RunningSecurityServices = $services -join ','
    DefenderMode = $mode
    ThirdPartyCount = $count
    ThirdPartyNames = (@($third) + @($services)) -join ', '
} | ConvertTo-Json -Depth 5 -Compress
'@ })

$Checks.Add('host_credssp', @{ Timeout = 20; Run = @'
$p = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System\CredSSP\Parameters' -ErrorAction SilentlyContinue
$value = $p.AllowEncryptionOracle
$vi = (Get-Item -LiteralPath (Join-Path -Path $env:SystemRoot -ChildPath 'System32\tspkg.dll') -ErrorAction SilentlyContinue).VersionInfo
$version = $null
$patched = $null
if ($vi) {
    $version = '{0}.{1}.{2}.{3}' -f $vi.FileMajorPart, $vi.FileMinorPart, $vi.FileBuildPart, $vi.FilePrivatePart
    $v = [version]$version
    $min = @{ '6.1.7601' = '6.1.7601.24117'; '6.2.9200' = '6.2.9200.22432'; '6.3.9600' = '6.3.9600.18999'; '10.0.14393' = '10.0.14393.2248'; '10.0.15063' = '10.0.15063.1088'; '10.0.16299' = '10.0.16299.431' }
    $key = '{0}.{1}.{2}' -f $v.Major, $v.Minor, $v.Build
    if ($min.ContainsKey($key)) { $patched = $v -ge [version]$min[$key] } elseif ($v -ge [version]'10.0.17134.0') { $patched = $true }
}
[ordered]@{
    AllowEncryptionOracle = $value
    PolicySet = $null -ne $value
    TspkgVersion = $version
    Patched = $patched
    EffectiveAllowEncryptionOracle = if ($null -ne $value) { $value } elseif ($patched) { 1 } else { $null }
} | ConvertTo-Json -Depth 5 -Compress
'@ })

$Checks.Add('host_tls_protocols', @{ Timeout = 20; Run = @'
$base = 'HKLM:\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols'
$out = [ordered]@{}
$disabled = @()
foreach ($name in 'TLS 1.0', 'TLS 1.1', 'TLS 1.2', 'TLS 1.3') {
    $k = Get-ItemProperty -Path "$base\$name\Server" -ErrorAction SilentlyContinue
    $off = ($k.Enabled -eq 0)
    if ($off) { $disabled += $name }
    $out[$name.Replace(' ', '').Replace('.', '_')] = [ordered]@{ Enabled = $k.Enabled; DisabledByDefault = $k.DisabledByDefault; Disabled = $off }
}
$lsa = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa' -ErrorAction SilentlyContinue
$fips = (Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa\FIPSAlgorithmPolicy' -ErrorAction SilentlyContinue).Enabled
$suites = (Get-ItemProperty -Path 'HKLM:\SOFTWARE\Policies\Microsoft\Cryptography\Configuration\SSL\00010002' -ErrorAction SilentlyContinue).Functions
$out['DisabledServerProtocols'] = $disabled -join ','
$out['Tls12Disabled'] = $disabled -contains 'TLS 1.2'
$out['LegacyDisabled'] = ($disabled -contains 'TLS 1.0') -and ($disabled -contains 'TLS 1.1')
$out['FipsEnabled'] = ($fips -eq 1)
$out['CipherSuitePolicy'] = [bool]$suites
$out['DisableDomainCreds'] = ($lsa.disabledomaincreds -eq 1)
$out | ConvertTo-Json -Depth 5 -Compress
'@ })

$Checks.Add('host_licensing', @{ Timeout = 30; Run = @'
$ts = Get-CimInstance -Namespace 'root\cimv2\TerminalServices' -ClassName Win32_TerminalServiceSetting -ErrorAction SilentlyContinue | Select-Object -First 1
$rdsh = $false
if ($ts) { $rdsh = ([int]$ts.TerminalServerMode -eq 1) }
$grace = $null
if ($rdsh) {
    $r = Invoke-CimMethod -InputObject $ts -MethodName GetGracePeriodDays -ErrorAction SilentlyContinue
    if ($r -and $r.ReturnValue -eq 0) { $grace = [int]$r.DaysLeft }
}
$pol = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services' -ErrorAction SilentlyContinue
[ordered]@{
    TerminalServerMode = if ($ts) { [int]$ts.TerminalServerMode } else { $null }
    RdSessionHost = $rdsh
    LicensingType = if ($ts) { [int]$ts.LicensingType } else { $null }
    LicensingName = if ($ts) { [string]$ts.LicensingName } else { $null }
    GracePeriodDays = $grace
    PolicyLicensingMode = $pol.LicensingMode
    PolicyLicenseServers = if ($pol.LicenseServers) { [string]$pol.LicenseServers } else { $null }
} | ConvertTo-Json -Depth 5 -Compress
'@ })

$Checks.Add('host_recent_events', @{ Timeout = 60; Run = @'
$since = (Get-Date).AddDays(-7)
function Get-RcEvents([hashtable]$Filter) { @(Get-WinEvent -FilterHashtable $Filter -MaxEvents 2000 -ErrorAction SilentlyContinue) }
function Get-RcCount($Events, [int]$Id) { @($Events | Where-Object { $_.Id -eq $Id }).Count }
$systemLog = $null -ne (Get-WinEvent -ListLog 'System' -ErrorAction SilentlyContinue)
$schannel = Get-RcEvents @{ LogName = 'System'; ProviderName = 'Schannel'; Id = 36870, 36871, 36874, 36888; StartTime = $since }
$rcm = Get-RcEvents @{ LogName = 'System'; ProviderName = 'Microsoft-Windows-TerminalServices-RemoteConnectionManager'; Id = 1056, 1057, 1058, 1070, 1071; StartTime = $since }
$auth = Get-RcEvents @{ LogName = 'Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational'; Id = 1149; StartTime = $since }
$core = Get-RcEvents @{ LogName = 'Microsoft-Windows-RemoteDesktopServices-RdpCoreTS/Operational'; Id = 131; StartTime = $since }
[ordered]@{
    Days = 7
    Since = $since.ToString('o')
    SystemLog = $systemLog
    Schannel36870 = Get-RcCount $schannel 36870
    Schannel36871 = Get-RcCount $schannel 36871
    Schannel36874 = Get-RcCount $schannel 36874
    Schannel36888 = Get-RcCount $schannel 36888
    Rcm1056 = Get-RcCount $rcm 1056
    Rcm1057 = Get-RcCount $rcm 1057
    Rcm1058 = Get-RcCount $rcm 1058
    Rcm1070 = Get-RcCount $rcm 1070
    Rcm1071 = Get-RcCount $rcm 1071
    Rcm1149 = Get-RcCount $auth 1149
    RdpCoreTs131 = Get-RcCount $core 131
} | ConvertTo-Json -Depth 5 -Compress
'@ })

# ---- Run each check in its own runspace, with its time limit.
function Invoke-RcCheck([string]$Id, [string]$Script, [int]$Timeout) {
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $result = [ordered]@{ output = $null; error = $null; seconds = 0 }
    $ps = $null
    $finished = $false
    try {
        $ps = [powershell]::Create()
        [void]$ps.AddScript($Script)
        $handle = $ps.BeginInvoke()
        if ($handle.AsyncWaitHandle.WaitOne($Timeout * 1000)) {
            $finished = $true
            $items = @($ps.EndInvoke($handle))
            $text = (@($items | ForEach-Object { [string]$_ }) -join "`n").Trim()
            if ($text) {
                $result.output = $text
            } else {
                $errors = @($ps.Streams.Error | Select-Object -First 3 | ForEach-Object { $_.ToString() })
                if ($errors.Count -gt 0) { $result.error = $errors -join ' / ' } else { $result.error = 'the check printed nothing' }
            }
        } else {
            # Ask the pipeline to stop without waiting for it: a check stuck in a WMI call
            # must not hold up the others. The runspace is left behind and ends with the process.
            [void]$ps.BeginStop($null, $null)
            $result.error = "timed out after $Timeout s"
        }
    } catch {
        $result.error = $_.Exception.Message
    } finally {
        if ($finished -and $ps) { $ps.Dispose() }
    }
    $result.seconds = [math]::Round($watch.Elapsed.TotalSeconds, 2)
    $result
}

$identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
$elevated = ([System.Security.Principal.WindowsPrincipal]$identity).IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
if (-not $elevated) {
    Write-Warning 'Not running as Administrator: some checks (MachineKeys ACLs, certificate binding, licensing) may fail or be incomplete.'
}

$results = [ordered]@{}
$n = 0
foreach ($id in $Checks.Keys) {
    $n++
    $check = $Checks[$id]
    $limit = if ($TimeoutSeconds -gt 0) { $TimeoutSeconds } else { [int]$check.Timeout }
    Write-Host ('[{0,2}/{1}] {2} ...' -f $n, $Checks.Count, $id) -NoNewline
    $r = Invoke-RcCheck -Id $id -Script $check.Run -Timeout $limit
    if ($r.error) { Write-Host (' failed: {0}' -f $r.error) } else { Write-Host (' ok ({0} s)' -f $r.seconds) }
    $results[$id] = $r
}

$bundle = [ordered]@{
    format = 'rootcause-bundle'
    version = $BundleVersion
    kb = 'rdp-0x904'
    computer = $env:COMPUTERNAME
    collected = (Get-Date).ToUniversalTime().ToString('o')
    script = $ScriptVersion
    powershell = $PSVersionTable.PSVersion.ToString()
    elevated = $elevated
    checks = $results
}
$json = $bundle | ConvertTo-Json -Depth 5

if (-not $OutFile) { $OutFile = 'rootcause-bundle-{0}.json' -f $env:COMPUTERNAME }
$path = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutFile)
[System.IO.File]::WriteAllText($path, $json, (New-Object System.Text.UTF8Encoding $false))
Write-Host ('Bundle written to {0}' -f $path)
Write-Host ('Read it with: rootcause collect --bundle "{0}"' -f $path)
