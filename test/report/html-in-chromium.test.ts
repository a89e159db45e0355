import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { renderReport } from "../../src/core/report/render.js";
import { sampleReport } from "../fixtures/report/sample-report.js";

// The HTML report in a real browser (Debian's chromium, installed by .ci/run): it renders without errors, its
// charts exist, a hostile name shows as text, and a screenshot is kept in .artifacts/ for people to look at.
const CHROMIUM = "/usr/bin/chromium";

test("the HTML report renders in headless Chromium with its charts and no console errors", { skip: !existsSync(CHROMIUM) && !process.env.CI ? "chromium is not installed here (CI installs it)" : false }, async () => {
  assert.ok(existsSync(CHROMIUM), "chromium must be installed in CI");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(e.message));
    let dialogs = 0;
    page.on("dialog", async (d) => {
      dialogs++;
      await d.dismiss();
    });
    await page.setContent(renderReport(sampleReport(), "html").body, { waitUntil: "load" });
    assert.deepEqual(problems, []);
    assert.equal(dialogs, 0, "the hostile name did not run");
    assert.equal(await page.locator("#chart-by-kind rect.bar").count() > 0, true);
    assert.equal(await page.locator("#chart-over-time circle.point").count(), 4);
    assert.match(await page.locator("#summary").innerText(), /Targets/);
    assert.ok((await page.locator("#targets").innerText()).includes('<script>alert("x")</script>'), "shown as text");
    const box = await page.locator("#chart-by-kind").boundingBox();
    assert.ok(box && box.width > 200 && box.height > 50, "the chart has a visible size");
    mkdirSync(join(process.cwd(), ".artifacts"), { recursive: true });
    const shot = await page.screenshot({ fullPage: true });
    writeFileSync(join(process.cwd(), ".artifacts", "report.png"), shot);
  } finally {
    await browser.close();
  }
});
