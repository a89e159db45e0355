import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isValidIdentifier, quoteActionGroup, quoteIdentifier, quoteString, UnsafeNameError } from "../../src/core/sql-text/identifiers.js";
import { renderStatement } from "../../src/core/sql-text/render.js";

describe("identifiers that go into T-SQL", () => {
  it("plain names are bracket-quoted", () => {
    assert.equal(quoteIdentifier("BackupRestoreAudit"), "[BackupRestoreAudit]");
    assert.equal(quoteIdentifier("Audit 2026-Q4.v2"), "[Audit 2026-Q4.v2]");
    assert.equal(quoteIdentifier("Überwachung_1"), "[Überwachung_1]");
  });

  const hostile = [
    "x]; DROP SERVER AUDIT [y",
    "x'; DROP TABLE t; --",
    'x"y',
    "a\nb",
    "a\u0000b",
    "a\u202eb",
    " leading",
    "trailing ",
    "",
    "a".repeat(129),
    "1starts-with-digit",
    "a;b",
    "a/*b*/",
    "[a]",
  ];
  for (const name of hostile) {
    it(`refuses ${JSON.stringify(name).slice(0, 40)}`, () => {
      assert.equal(isValidIdentifier(name), false);
      assert.throws(() => quoteIdentifier(name), UnsafeNameError);
      assert.throws(() => renderStatement({ op: "set-audit-state", audit: name, state: "ON" }), UnsafeNameError);
    });
  }

  it("128 characters is the limit", () => {
    assert.equal(isValidIdentifier("a".repeat(128)), true);
  });

  it("string literals double quotes and refuse control characters", () => {
    assert.equal(quoteString("https://a.blob.core.windows.net/it's"), "N'https://a.blob.core.windows.net/it''s'");
    assert.throws(() => quoteString("a\nb"), UnsafeNameError);
  });

  it("action groups come only from the known list", () => {
    assert.equal(quoteActionGroup("BACKUP_RESTORE_GROUP"), "BACKUP_RESTORE_GROUP");
    assert.throws(() => quoteActionGroup("BACKUP_RESTORE_GROUP); DROP SERVER AUDIT [x"), UnsafeNameError);
    assert.throws(() => quoteActionGroup("backup_restore_group"), UnsafeNameError);
  });

  it("a URL target renders as an N'' literal with retention", () => {
    assert.equal(
      renderStatement({ op: "alter-audit-target", audit: "A", target: { url: "https://acct.blob.core.windows.net/audit", retentionDays: 30 } }),
      "ALTER SERVER AUDIT [A] TO URL (PATH = N'https://acct.blob.core.windows.net/audit', RETENTION_DAYS = 30);",
    );
  });
});
