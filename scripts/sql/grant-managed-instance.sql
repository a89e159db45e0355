-- AuditGuard: let the Function App's managed identity scan (and, in enforce mode, fix) one SQL Managed Instance.
-- Run in master on every Managed Instance, as a Microsoft Entra admin of the instance (an Entra login is needed to
-- create an Entra login). Idempotent: safe to run again; run it with Remediate=0 to take enforce mode back.
--
--   sqlcmd -S <mi>.<dns-zone>.database.windows.net -d master -G -i grant-managed-instance.sql \
--          -v IdentityName="func-auditguard-abc123" Remediate=1
--
-- IdentityName: the Function App's name (a system-assigned identity's display name is the app's name). sqlcmd
--               pastes it into a string literal, so it must be the plain app name (letters, digits, hyphens).
-- Remediate:    1 = enforce mode may change the audit (ALTER ANY SERVER AUDIT); 0 = plan mode, read only.
--
-- Why each permission (docs/operations.md §9 maps each missing one to its symptom):
--   VIEW ANY DEFINITION    read sys.server_audits, sys.server_audit_specifications(_details), sys.server_file_audits
--   VIEW SERVER STATE      read sys.dm_server_audit_status (on current engines it includes VIEW SERVER SECURITY STATE)
--   ALTER ANY SERVER AUDIT create/alter the baseline's server audit and specification (narrower than CONTROL SERVER)
--
-- If CREATE LOGIN fails with 33131 (another Entra object has the same display name), create the login yourself
-- with CREATE LOGIN [<app>] FROM EXTERNAL PROVIDER WITH OBJECT_ID = '<the identity's object id>', then run this again.
--
-- No :setvar defaults on purpose: a script's :setvar overrides -v, and a missing variable must stop the run.
-- In Azure Data Studio / SSMS (SQLCMD mode) add the two lines yourself above this one:
--   :setvar IdentityName "func-auditguard-abc123"
--   :setvar Remediate "1"
:on error exit

SET NOCOUNT ON;
IF DB_NAME() <> N'master' THROW 50000, N'Run this script in master.', 1;

DECLARE @login sysname = N'$(IdentityName)';
IF @login = N'' OR @login = N'<function-app-name>' THROW 50001, N'Set the IdentityName sqlcmd variable.', 1;
IF N'$(Remediate)' NOT IN (N'0', N'1') THROW 50002, N'Set the Remediate sqlcmd variable to 0 (plan) or 1 (enforce).', 1;

-- Statements that take a login name cannot take a variable: each is built with QUOTENAME, so the name stays a name.
DECLARE @sql nvarchar(max);
IF SUSER_ID(@login) IS NULL
BEGIN
  SET @sql = N'CREATE LOGIN ' + QUOTENAME(@login) + N' FROM EXTERNAL PROVIDER;';
  EXEC (@sql);
  IF SUSER_ID(@login) IS NULL THROW 50003, N'The login was not created; see the error above.', 1;
  PRINT N'created login ' + QUOTENAME(@login);
END

-- GRANT of a permission already held, and REVOKE of one never granted, change nothing: no need to test first.
SET @sql = N'GRANT VIEW ANY DEFINITION, VIEW SERVER STATE TO ' + QUOTENAME(@login) + N';';
EXEC (@sql);
IF N'$(Remediate)' = N'1'
  SET @sql = N'GRANT ALTER ANY SERVER AUDIT TO ' + QUOTENAME(@login) + N';';
ELSE
  SET @sql = N'REVOKE ALTER ANY SERVER AUDIT FROM ' + QUOTENAME(@login) + N';';
EXEC (@sql);

SELECT sp.name, p.permission_name, p.state_desc
FROM sys.server_permissions p JOIN sys.server_principals sp ON sp.principal_id = p.grantee_principal_id
WHERE sp.name = @login ORDER BY p.permission_name;
