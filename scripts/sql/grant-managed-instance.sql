-- AuditGuard: let the Function App's managed identity scan (and, in enforce mode, fix) one SQL Managed Instance.
-- Run in master on every Managed Instance, as a Microsoft Entra admin of the instance (an Entra login is needed to
-- create an Entra login). Idempotent: safe to run again.
--
--   sqlcmd -S <mi>.<dns-zone>.database.windows.net -d master -G -i grant-managed-instance.sql \
--          -v IdentityName="func-auditguard-abc123" Remediate=1
--
-- IdentityName: the Function App's name (a system-assigned identity's display name is the app's name).
-- Remediate:    1 = enforce mode may change the audit (ALTER ANY SERVER AUDIT); 0 = plan mode, read only.
--
-- Why each permission (docs/operations.md §9 maps each missing one to its symptom):
--   VIEW ANY DEFINITION   read sys.server_audits, sys.server_audit_specifications(_details), sys.server_file_audits
--   VIEW SERVER STATE     read sys.dm_server_audit_status (on current engines it includes VIEW SERVER SECURITY STATE)
--   ALTER ANY SERVER AUDIT create/alter the baseline's server audit and specification (narrower than CONTROL SERVER)
-- No :setvar defaults on purpose: a script's :setvar overrides -v, and a missing variable must stop the run.
-- In Azure Data Studio / SSMS (SQLCMD mode) add the two lines yourself above this one:
--   :setvar IdentityName "func-auditguard-abc123"
--   :setvar Remediate "1"
:on error exit

SET NOCOUNT ON;
IF DB_NAME() <> N'master' THROW 50000, N'Run this script in master.', 1;

DECLARE @login sysname = N'$(IdentityName)';
IF @login = N'<function-app-name>' OR @login = N'' THROW 50001, N'Set the IdentityName sqlcmd variable.', 1;

DECLARE @sql nvarchar(max);
IF NOT EXISTS (SELECT 1 FROM sys.server_principals WHERE name = @login)
BEGIN
  SET @sql = N'CREATE LOGIN ' + QUOTENAME(@login) + N' FROM EXTERNAL PROVIDER;';
  EXEC (@sql);
  PRINT N'created login ' + QUOTENAME(@login);
END

DECLARE @wanted TABLE (permission_name nvarchar(128));
INSERT @wanted VALUES (N'VIEW ANY DEFINITION'), (N'VIEW SERVER STATE');
IF N'$(Remediate)' = N'1' INSERT @wanted VALUES (N'ALTER ANY SERVER AUDIT');

DECLARE @perm nvarchar(128);
DECLARE perms CURSOR LOCAL FAST_FORWARD FOR SELECT permission_name FROM @wanted;
OPEN perms;
FETCH NEXT FROM perms INTO @perm;
WHILE @@FETCH_STATUS = 0
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM sys.server_permissions p
    JOIN sys.server_principals sp ON sp.principal_id = p.grantee_principal_id
    WHERE sp.name = @login AND p.permission_name = @perm AND p.state IN ('G', 'W'))
  BEGIN
    -- @perm comes from the fixed list above, never from input.
    SET @sql = N'GRANT ' + @perm + N' TO ' + QUOTENAME(@login) + N';';
    EXEC (@sql);
    PRINT N'granted ' + @perm;
  END
  FETCH NEXT FROM perms INTO @perm;
END
CLOSE perms;
DEALLOCATE perms;

-- Plan mode after enforce: take the write permission back.
IF N'$(Remediate)' = N'0' AND EXISTS (
  SELECT 1 FROM sys.server_permissions p JOIN sys.server_principals sp ON sp.principal_id = p.grantee_principal_id
  WHERE sp.name = @login AND p.permission_name = N'ALTER ANY SERVER AUDIT')
BEGIN
  SET @sql = N'REVOKE ALTER ANY SERVER AUDIT FROM ' + QUOTENAME(@login) + N';';
  EXEC (@sql);
  PRINT N'revoked ALTER ANY SERVER AUDIT';
END

SELECT sp.name, p.permission_name, p.state_desc
FROM sys.server_permissions p JOIN sys.server_principals sp ON sp.principal_id = p.grantee_principal_id
WHERE sp.name = @login ORDER BY p.permission_name;
