import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import { renderReport } from "../../src/core/report/render.js";
import type { ComplianceReport } from "../../src/core/report/model.js";
import { sampleReport } from "../fixtures/report/sample-report.js";

// The HTML report in a real browser (Debian's chromium, installed by .ci/run) at 1400 px and printed to PDF: it
// renders without errors, its charts exist, a hostile name shows as text, and what a reader would notice is
// measured (row heights, page height per target, labels inside their chart, ids on one line, text in the PDF), not
// pixels. Screenshots and the PDF are kept in .artifacts/ for people to look at.
const CHROMIUM = "/usr/bin/chromium";

// What the functions run inside the page touch (the project compiles without the DOM library).
interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
  width: number;
  height: number;
}
interface Element {
  getBoundingClientRect(): Box;
  getClientRects(): { length: number };
  querySelector(selector: string): Element | null;
  textContent: string | null;
  classList: { contains(name: string): boolean };
  scrollWidth: number;
  clientWidth: number;
  className: string;
  tagName: string;
}
declare const document: { getElementById(id: string): Element | null; querySelectorAll(selector: string): Iterable<Element>; documentElement: Element };
const skip = !existsSync(CHROMIUM) && !process.env.CI ? "chromium is not installed here (CI installs it)" : false;
const artifacts = join(process.cwd(), ".artifacts");
const WIDTH = 1400;

let browser: Browser;
before(async () => {
  if (skip) return;
  assert.ok(existsSync(CHROMIUM), "chromium must be installed in CI");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  mkdirSync(artifacts, { recursive: true });
});
after(() => browser?.close());

async function open(report: ComplianceReport, width = WIDTH): Promise<{ page: Page; problems: string[]; dialogs: () => number }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
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
  await page.setContent(renderReport(report, "html").body, { waitUntil: "load" });
  return { page, problems, dialogs: () => dialogs };
}

/** Every SVG text of a chart that sticks out of the chart, and every pair of x-axis labels that overlap. */
function chartProblems(page: Page, id: string) {
  return page.evaluate((svgId) => {
    const svg = document.getElementById(svgId)!.getBoundingClientRect();
    const out: string[] = [];
    const texts = [...document.querySelectorAll(`#${svgId} text`)].map((t) => ({ text: t.textContent ?? "", box: t.getBoundingClientRect(), x: t.classList.contains("x-label") }));
    for (const t of texts) if (t.box.left < svg.left - 0.5 || t.box.right > svg.right + 0.5 || t.box.top < svg.top - 0.5 || t.box.bottom > svg.bottom + 0.5) out.push(`clipped: ${t.text}`);
    const xs = texts.filter((t) => t.x);
    for (let i = 0; i < xs.length; i++) for (let j = i + 1; j < xs.length; j++) if (xs[i]!.box.right > xs[j]!.box.left && xs[j]!.box.right > xs[i]!.box.left) out.push(`overlap: ${xs[i]!.text} / ${xs[j]!.text}`);
    return out;
  }, id);
}

describe("the HTML report in headless Chromium", { skip }, () => {
  it("renders with its charts, no console errors, and a hostile name shown as text", async () => {
    const { page, problems, dialogs } = await open(sampleReport());
    try {
      assert.deepEqual(problems, []);
      assert.equal(dialogs(), 0, "the hostile name did not run");
      assert.equal((await page.locator("#chart-by-kind rect.bar").count()) > 0, true);
      assert.equal(await page.locator("#chart-over-time circle.point").count(), 4);
      assert.match(await page.locator("#summary").innerText(), /Targets/);
      assert.ok((await page.locator("#targets").innerText()).includes('<script>alert("x")</script>'), "shown as text");
      const box = await page.locator("#chart-by-kind").boundingBox();
      assert.ok(box && box.width > 200 && box.height > 50, "the chart has a visible size");
      writeFileSync(join(artifacts, "report.png"), await page.screenshot({ fullPage: true }));
    } finally {
      await page.close();
    }
  });

  it(`at ${WIDTH} px: names first, ids on one line of their own, compact rows, nothing wider than the window`, async () => {
    const { page } = await open(sampleReport(8));
    try {
      assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= WIDTH, "no horizontal scrolling");
      const rows = await page.evaluate(() =>
        [...document.querySelectorAll("#targets tbody.target")].map((b) => ({
          name: b.querySelector("td.name b")!.textContent,
          height: b.getBoundingClientRect().height,
          details: b.querySelector("tr.detail") !== null,
          idLines: b.querySelector("tr.rid code")!.getClientRects().length,
          idHeight: b.querySelector("tr.rid code")!.getBoundingClientRect().height,
          nameLeft: b.querySelector("td.name b")!.getBoundingClientRect().top < b.querySelector("tr.rid code")!.getBoundingClientRect().top,
        })),
      );
      assert.equal(rows.length, 15);
      for (const r of rows) {
        assert.ok(r.nameLeft, `${r.name}: the name comes before the id`);
        assert.ok(r.idHeight < 20, `${r.name}: the resource id is on one line (${r.idHeight} px)`);
        if (!r.details) assert.ok(r.height <= 90, `${r.name}: a target with nothing to report takes ${r.height} px`);
      }
      const table = (await page.locator("#targets").boundingBox())!;
      assert.ok(table.height < 3200, `15 targets take ${table.height} px (it was 9,400)`);
      // Growth per target: 40 more targets, 32 of them compliant (one line each) and 8 with one finding and its fix.
      const more = await open(sampleReport(48));
      try {
        const bigger = (await more.page.locator("#targets").boundingBox())!;
        const perTarget = (bigger.height - table.height) / 40;
        assert.ok(perTarget < 110, `${perTarget.toFixed(0)} px per added target`);
      } finally {
        await more.page.close();
      }
      writeFileSync(join(artifacts, `report-${WIDTH}.png`), await page.screenshot({ fullPage: true }));
    } finally {
      await page.close();
    }
  });

  it("shows counts by status and kind as text, and severities, without hovering", async () => {
    const { page } = await open(sampleReport());
    try {
      const summary = await page.locator("#summary").innerText();
      for (const label of ["Compliant", "Remediated", "Exempt", "Noncompliant", "Error"]) assert.ok(summary.includes(label), label);
      const byKind = await page.locator("#by-kind").innerText();
      assert.match(byKind, /SQL Managed Instances\s+5\s+0\s+1\s+1\s+3\s+0/);
      assert.match(byKind, /Synapse workspaces\s+1\s+0\s+0\s+0\s+0\s+1/);
      assert.match(await page.locator("#targets").innerText(), /CRITICAL/);
      assert.match(await page.locator("#chart-by-kind").textContent() ?? "", /SQL Managed Instances.*5/);
    } finally {
      await page.close();
    }
  });

  it("keeps every chart label inside its chart, with one run and with many", async () => {
    const many = sampleReport();
    many.trend = Array.from({ length: 40 }, (_, i) => ({ scanId: `r${i}`, finishedAt: new Date(Date.UTC(2026, 9, 1 + i, 10)).toISOString(), byStatus: { compliant: i, remediated: 1, noncompliant: 40 - i, exempt: 1, error: i % 3 } }));
    const one = sampleReport();
    one.trend = one.trend.slice(-1);
    for (const [name, report] of [["4 runs", sampleReport()], ["40 runs", many], ["one run", one]] as const) {
      const { page } = await open(report);
      try {
        assert.deepEqual(await chartProblems(page, "chart-by-kind"), [], `${name}: by kind`);
        assert.deepEqual(await chartProblems(page, "chart-over-time"), [], `${name}: over time`);
        const labels = await page.locator("#chart-over-time text.x-label").count();
        assert.ok(labels >= 1 && labels <= 7, `${name}: ${labels} date labels`);
        // Remediated apart from compliant, in every run that has any.
        assert.ok((await page.locator('#chart-over-time rect[data-status="remediated"]').count()) >= 1, name);
        if (name === "one run") writeFileSync(join(artifacts, "report-one-run.png"), await page.locator(".overview").screenshot());
      } finally {
        await page.close();
      }
    }
  });

  it("prints to A4 with nothing cut off, and the PDF carries the findings and their evidence", async () => {
    const { page } = await open(sampleReport(8));
    try {
      await page.emulateMedia({ media: "print" });
      // A4 (210 mm) less the 10 mm margins of @page, at 96 px per inch.
      await page.setViewportSize({ width: Math.floor(((210 - 20) / 25.4) * 96), height: 1000 });
      const overflowing = await page.evaluate(() =>
        [...document.querySelectorAll("#targets td, #by-kind td, #rules td, .cards .card")].filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => `${c.className || c.tagName}: ${(c.textContent ?? "").slice(0, 40)}`),
      );
      assert.deepEqual(overflowing, [], "no cell's content is wider than the cell in print");
      assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= Math.floor(((210 - 20) / 25.4) * 96) + 1);
      const pdf = await page.pdf({ format: "A4", printBackground: true, preferCSSPageSize: true });
      const file = join(artifacts, "report.pdf");
      writeFileSync(file, pdf);
      assert.equal(pdf.subarray(0, 5).toString("latin1"), "%PDF-");
      let text: string;
      try {
        text = execFileSync("pdftotext", ["-layout", file, "-"], { encoding: "utf8" });
      } catch (error) {
        if (process.env.CI) throw error;
        return; // poppler-utils is installed by .ci/run; without it here the PDF is kept unread.
      }
      for (const needle of ["SQL auditing compliance", "mi-noaudit-07", "mi.audit.exists", "consequence of mi.audit.exists", "mallory@contoso.com", "203.0.113.7", "ALTER SERVER AUDIT [BackupRestoreAudit] WITH (STATE = ON);", "mi-bulk-0007", "Rule catalog"]) {
        assert.ok(text.includes(needle), `the PDF has ${needle}`);
      }
    } finally {
      await page.close();
    }
  });
});
