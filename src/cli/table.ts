/**
 * A plain text table: columns padded to their widest cell, a rule under the header. With `width`, the last column
 * wraps at spaces to fit it (continuation lines indented under the column), so a long reason is never cut.
 */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return lines.length || line ? [...lines, line] : [""];
}

export function textTable(header: string[], rows: string[][], options: { width?: number } = {}): string {
  const last = header.length - 1;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === last ? 0 : (r[i] ?? "").length))));
  const indent = widths.slice(0, last).reduce((n, w) => n + w + 2, 0);
  const room = options.width ? Math.max(30, options.width - indent) : Number.POSITIVE_INFINITY;
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  const lastWidth = Math.min(room, Math.max(header[last]!.length, ...rows.map((r) => (r[last] ?? "").length)));
  const out = [line(header), line([...widths.slice(0, last).map((w) => "-".repeat(w)), "-".repeat(lastWidth)])];
  for (const r of rows) {
    const [first, ...more] = Number.isFinite(room) ? wrapWords(r[last] ?? "", room) : [r[last] ?? ""];
    out.push(line([...r.slice(0, last), first!]));
    for (const m of more) out.push(`${" ".repeat(indent)}${m}`);
  }
  return `${out.join("\n")}\n`;
}
