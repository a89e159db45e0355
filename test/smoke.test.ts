import { test } from "node:test";
import assert from "node:assert/strict";
test("toolchain compiles and runs", () => { assert.equal(1 + 1, 2); });
