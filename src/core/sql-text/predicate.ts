/**
 * Server audit filters: the WHERE clause of CREATE/ALTER SERVER AUDIT ("CREATE SERVER AUDIT (Transact-SQL)",
 * predicate_expression: `[NOT] <predicate_factor> [{ AND | OR } [NOT] { <predicate_factor> }] [,...n]`, a factor
 * being `event_field_name { = | <> | != | > | >= | < | <= | LIKE } { number | ' string ' }`). The baseline may allow
 * one filter; AuditGuard writes it into T-SQL only when it parses as exactly that grammar (plus `NOT LIKE`, which the
 * extended auditing reference's example uses), and compares filters in a
 * canonical form, because the engine stores its own normalised text (brackets, parentheses, N'' prefixes), not the
 * text that was typed.
 */
export class InvalidPredicateError extends Error {
  override readonly name = "InvalidPredicateError";
}

type Token = { kind: "field" | "op" | "string" | "number" | "and" | "or" | "not" | "(" | ")"; text: string };

const OPERATORS = ["<>", "!=", ">=", "<=", "=", ">", "<"];

/** Splits a filter into tokens; anything outside the grammar (a semicolon, a comment, a function call) is refused. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const str = /^N?'((?:[^']|'')*)'/i.exec(rest);
    if (str) {
      // eslint-disable-next-line no-control-regex -- control characters are what is being refused
      if (/[\u0000-\u001f\u007f]/.test(str[1]!)) throw new InvalidPredicateError("a control character in a string literal");
      tokens.push({ kind: "string", text: str[1]!.replace(/''/g, "'") });
      i += str[0].length;
      continue;
    }
    const num = /^-?\d+(?!\w)/.exec(rest);
    if (num) {
      tokens.push({ kind: "number", text: num[0] });
      i += num[0].length;
      continue;
    }
    const field = /^\[([A-Za-z_][A-Za-z0-9_]*)\]|^([A-Za-z_][A-Za-z0-9_]*)/.exec(rest);
    if (field) {
      const word = (field[1] ?? field[2])!.toLowerCase();
      const keyword = field[2]?.toLowerCase();
      const previous = tokens.at(-1);
      // `field NOT LIKE 'x'`, as the extended auditing example writes it ("statement not like '[select ]%'").
      if (keyword === "like" && previous?.kind === "not" && tokens.at(-2)?.kind === "field") tokens.splice(-1, 1, { kind: "op", text: "NOT LIKE" });
      else if (keyword === "and" || keyword === "or" || keyword === "not") tokens.push({ kind: keyword, text: keyword.toUpperCase() });
      else if (keyword === "like") tokens.push({ kind: "op", text: "LIKE" });
      else tokens.push({ kind: "field", text: word });
      i += field[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => rest.startsWith(o));
    if (op) {
      tokens.push({ kind: "op", text: op === "!=" ? "<>" : op });
      i += op.length;
      continue;
    }
    if (rest[0] === "(" || rest[0] === ")") {
      tokens.push({ kind: rest[0], text: rest[0] });
      i++;
      continue;
    }
    throw new InvalidPredicateError(`unexpected ${JSON.stringify(rest.slice(0, 12))}`);
  }
  return tokens;
}

/**
 * Parses the grammar and returns the canonical form: lower-case field names without brackets, N'…' strings, and
 * parentheses only where they group an AND/OR (the engine may add them around single comparisons and numbers).
 */
function canonical(tokens: Token[]): string {
  let pos = 0;
  const peek = () => tokens[pos];
  const take = (kind: Token["kind"]) => {
    const t = tokens[pos];
    if (!t || t.kind !== kind) throw new InvalidPredicateError(`expected ${kind}${t ? `, found ${JSON.stringify(t.text)}` : " at the end"}`);
    pos++;
    return t;
  };
  const value = (field: string, op: string): string => {
    const t = peek();
    if (t?.kind === "(") {
      pos++;
      const inner = value(field, op);
      take(")");
      return inner;
    }
    if (t?.kind === "string") {
      pos++;
      return `N'${t.text.replace(/'/g, "''")}'`;
    }
    if (t?.kind === "number" && !op.endsWith("LIKE")) {
      pos++;
      return String(Number(t.text));
    }
    throw new InvalidPredicateError(`expected a string${op.endsWith("LIKE") ? "" : " or a number"} after ${field} ${op}`);
  };
  const factor = (): { text: string; compound: boolean } => {
    if (peek()?.kind === "not") {
      pos++;
      const inner = factor();
      return { text: `NOT ${inner.compound ? `(${inner.text})` : inner.text}`, compound: false };
    }
    if (peek()?.kind === "(") {
      pos++;
      const inner = expression();
      take(")");
      return inner;
    }
    const field = take("field").text;
    const op = take("op").text;
    return { text: `${field} ${op} ${value(field, op)}`, compound: false };
  };
  const expression = (): { text: string; compound: boolean } => {
    const first = factor();
    let out = first.text;
    let compound = false;
    while (peek()?.kind === "and" || peek()?.kind === "or") {
      const joiner = tokens[pos++]!.text;
      const next = factor();
      if (!compound && first.compound) out = `(${out})`;
      out = `${out} ${joiner} ${next.compound ? `(${next.text})` : next.text}`;
      compound = true;
    }
    return { text: out, compound: compound || first.compound };
  };
  const result = expression();
  if (pos !== tokens.length) throw new InvalidPredicateError(`unexpected ${JSON.stringify(tokens[pos]!.text)}`);
  return result.text;
}

/** The filter in canonical form, or an InvalidPredicateError saying where it leaves the documented grammar. */
export function canonicalPredicate(text: string): string {
  if (text.length > 3000) throw new InvalidPredicateError("longer than the 3,000 characters sys.server_audits.predicate holds");
  const tokens = tokenize(text);
  if (!tokens.length) throw new InvalidPredicateError("empty");
  return canonical(tokens);
}

/** Whether two filters say the same (canonical forms equal); a filter that does not parse matches nothing. */
export function samePredicate(a: string, b: string): boolean {
  try {
    return canonicalPredicate(a) === canonicalPredicate(b);
  } catch {
    return false;
  }
}

/** Whether an audit's filter is the one the baseline allows (none, unless it names one), compared in canonical form. */
export function filterAllowed(predicate: string | null, allowed: string | undefined): boolean {
  if (predicate === null || predicate.trim() === "") return allowed === undefined;
  return allowed !== undefined && samePredicate(predicate, allowed);
}

/** The filter as AuditGuard writes it into ALTER SERVER AUDIT … WHERE: its canonical form. */
export function renderPredicate(text: string): string {
  return canonicalPredicate(text);
}
