import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { decodePayload, encodePayload, fromTableKey, invertedTimeKey, PayloadCorruptError, toTableKey } from "../../src/azure/table-payload.js";

const sizes: Array<[string, unknown]> = [
  ["small", { status: "compliant", findings: [] }],
  ["compressible large", { findings: Array.from({ length: 5000 }, (_, i) => ({ ruleId: `mi.rule.${i % 7}`, message: "the audit is missing" })) }],
  // Random text does not compress: forces several chunks and overflow entities.
  ["incompressible over one entity", { blob: randomBytes(1_500_000).toString("base64") }],
];

for (const [name, value] of sizes) {
  test(`a ${name} payload round-trips without loss and within Table limits`, () => {
    const encoded = encodePayload(value);
    for (const props of [encoded.head, ...encoded.overflow]) {
      assert.ok(Object.keys(props).length < 250, "fewer than 255 properties");
      let bytes = 0;
      for (const v of Object.values(props)) {
        if (typeof v === "string") {
          assert.ok(v.length <= 32_000, "each string under 64 KiB");
          bytes += v.length * 2;
        }
      }
      assert.ok(bytes < 1_000_000, "each entity under 1 MiB");
    }
    assert.deepEqual(decodePayload(encoded.head, encoded.overflow), value);
  });
}

test("a missing chunk is detected, never silently truncated", () => {
  const encoded = encodePayload({ blob: randomBytes(1_500_000).toString("base64") });
  assert.ok(encoded.overflow.length >= 1);
  assert.throws(() => decodePayload(encoded.head, []), PayloadCorruptError);
});

test("ARM ids become valid, reversible table keys", () => {
  const id = "/subscriptions/AB/resourceGroups/rg#1/providers/Microsoft.Sql/managedInstances/mi?x";
  const key = toTableKey(id);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what Table keys forbid
  assert.doesNotMatch(key, /[/\\#?\u0000-\u001f\u007f-\u009f]/);
  assert.equal(fromTableKey(key), id.toLowerCase());
});

test("inverted time keys sort newest first", () => {
  const older = invertedTimeKey(new Date("2026-01-01T00:00:00Z"));
  const newer = invertedTimeKey(new Date("2026-06-01T00:00:00Z"));
  assert.ok(newer < older);
  assert.equal(newer.length, older.length);
});
