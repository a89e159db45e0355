import { test } from "node:test";
import assert from "node:assert/strict";
import { createProgressReporter } from "../../src/cli/progress.js";

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, columns: 120, chunks, write: (c: string) => (chunks.push(c), true) };
}

test("without a terminal, progress is plain lines a log can keep", () => {
  let t = 0;
  const out = sink(false);
  const progress = createProgressReporter(out, () => (t += 500));
  progress.start(2);
  progress.tick("mi-a", "compliant");
  progress.tick("mi-b", "remediated");
  progress.finish();
  const text = out.chunks.join("");
  assert.ok(!text.includes("\r") && !text.includes("\u001b"), "no carriage returns or escape codes");
  assert.match(text, /^scanning 2 targets\n\[1\/2\] compliant +mi-a\n\[2\/2\] remediated +mi-b\nscanned 2\/2 in /);
});

test("on a terminal, one bar is redrawn in place with the tally", () => {
  const out = sink(true);
  const progress = createProgressReporter(out, () => 0);
  progress.start(4);
  progress.tick("x", "compliant");
  progress.tick("y", "error");
  progress.finish();
  const last = out.chunks.at(-1)!;
  assert.match(last, /\[#{14}-{14}\] 2\/4 0\.0s {2}compliant 1, error 1\n$/);
  assert.ok(out.chunks.slice(1).every((c) => c.startsWith("\r")));
});
