/**
 * Tokens of the Kusto Query Language subset the emulator evaluates. Anything the lexer does not know is a
 * syntax error, reported with its position as the service reports it.
 */
export type TokenKind = "ident" | "string" | "number" | "timespan" | "op" | "eof";

export interface Token {
  kind: TokenKind;
  text: string;
  /** For numbers: the value; for timespans: milliseconds. */
  value?: number;
  pos: number;
}

export class KqlError extends Error {
  constructor(
    readonly code: "SyntaxError" | "SemanticError",
    message: string,
    readonly pos?: number,
  ) {
    super(message);
    this.name = "KqlError";
  }
}

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1, min: 60_000, sec: 1000, hr: 3_600_000, day: 86_400_000, days: 86_400_000 };
const OPERATORS = ["!contains_cs", "!startswith_cs", "!endswith_cs", "!has_cs", "!startswith", "!endswith", "!contains", "!has", "!in~", "!in", "!between", "==", "!=", "=~", "!~", "<=", ">=", "..", "|", "(", ")", ",", "<", ">", "=", "+", "-", "*", "/", "%", ".", "[", "]", "~", ";"];

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      let value = "";
      i++;
      for (;;) {
        if (i >= text.length) throw new KqlError("SyntaxError", `Query could not be parsed at '${text.slice(start, start + 10)}' on line [1,${start}]: unterminated string literal`, start);
        const ch = text[i]!;
        if (ch === "\\") {
          const next = text[i + 1];
          value += next === "n" ? "\n" : next === "t" ? "\t" : (next ?? "");
          i += 2;
          continue;
        }
        if (ch === c) {
          i++;
          break;
        }
        value += ch;
        i++;
      }
      tokens.push({ kind: "string", text: value, pos: start });
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^(\d+(?:\.\d+)?)(ms|min|sec|hr|days|day|d|h|m|s)?(?![A-Za-z0-9_])/.exec(text.slice(i));
      if (!m) throw new KqlError("SyntaxError", `Query could not be parsed at '${text.slice(i, i + 10)}' on line [1,${i}]`, i);
      const n = Number(m[1]);
      if (m[2]) tokens.push({ kind: "timespan", text: m[0], value: n * UNIT_MS[m[2]]!, pos: start });
      else tokens.push({ kind: "number", text: m[0], value: n, pos: start });
      i += m[0].length;
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_$]*(?:-[A-Za-z]+)?/.exec(text.slice(i))!;
      // project-away, mv-expand and friends are one keyword; a minus between identifiers otherwise is subtraction.
      let word = m[0];
      if (word.includes("-") && !/^(project-away|project-rename|project-keep|mv-expand|mv-apply|make-series|parse-where)$/.test(word)) word = word.split("-")[0]!;
      tokens.push({ kind: "ident", text: word, pos: start });
      i += word.length;
      // datetime(2026-11-24T10:00:00Z) and timespan(1h) take an unquoted literal: read it whole.
      const literal = /^\s*\(([^()'"]*)\)/.exec(text.slice(i));
      if (/^(datetime|timespan)$/i.test(word) && literal && !/^\s*$/.test(literal[1]!)) {
        tokens.push({ kind: "op", text: "(", pos: i });
        tokens.push({ kind: "string", text: literal[1]!.trim(), pos: i + 1 });
        tokens.push({ kind: "op", text: ")", pos: i + literal[0].length - 1 });
        i += literal[0].length;
      }
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i) && !(/[a-z]$/.test(o) && /[A-Za-z0-9_]/.test(text[i + o.length] ?? "")));
    if (op) {
      tokens.push({ kind: "op", text: op, pos: start });
      i += op.length;
      continue;
    }
    throw new KqlError("SyntaxError", `Query could not be parsed at '${c}' on line [1,${i}]`, i);
  }
  tokens.push({ kind: "eof", text: "", pos: text.length });
  return tokens;
}
