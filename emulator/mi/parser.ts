import type { SqlType } from "../sql/contracts.js";
import { errors, sqlError, type TsqlError } from "./errors.js";
import { reservedKeywords, tokenize, type Token } from "./lexer.js";

/**
 * A recursive-descent parser for exactly the statements the emulated Managed Instance supports. Anything else is
 * the syntax error SQL Server would raise (102/156) — never skipped.
 */

export type Expr =
  | { kind: "literal"; value: string | number | null; national?: boolean }
  | { kind: "var"; name: string }
  | { kind: "sysvar"; name: string }
  | { kind: "column"; qualifier?: string; name: string }
  | { kind: "call"; name: string; args: Expr[] }
  | { kind: "cast"; expr: Expr; type: SqlType }
  | { kind: "unary"; op: "-" | "NOT"; expr: Expr }
  | { kind: "binary"; op: "=" | "<>" | "<" | ">" | "<=" | ">=" | "AND" | "OR" | "+" | "-" | "*" | "/" | "LIKE"; left: Expr; right: Expr }
  | { kind: "isnull"; expr: Expr; not: boolean }
  | { kind: "in"; expr: Expr; list: Expr[]; not: boolean }
  /** CASE: searched when `operand` is absent, simple (operand = each WHEN) otherwise. */
  | { kind: "case"; operand?: Expr; whens: { when: Expr; then: Expr }[]; else?: Expr }
  /** [NOT] EXISTS (SELECT …): the NOT is a unary around it. */
  | { kind: "exists"; query: SelectStatement };

export interface SelectItem {
  kind: "star" | "expr";
  qualifier?: string;
  expr?: Expr;
  alias?: string;
}
export interface TableRef {
  schema: string;
  name: string;
  alias: string;
  /** WITH (NOLOCK, …): accepted and, like every hint on a catalog view, without effect. */
  hints?: string[];
}
export interface Join {
  type: "INNER" | "LEFT";
  table: TableRef;
  on: Expr;
}

export type AuditTarget = { type: "EXTERNAL_MONITOR" } | { type: "URL"; path: string; retentionDays?: number };

export interface AuditOptions {
  queueDelay?: number;
  onFailure?: "CONTINUE" | "FAIL_OPERATION";
  state?: boolean;
  auditGuid?: string;
  operatorAudit?: boolean;
  retentionDays?: number;
}

export interface SelectStatement {
  kind: "select";
  top?: Expr;
  distinct?: boolean;
  items: SelectItem[];
  from?: TableRef;
  joins: Join[];
  where?: Expr;
  groupBy: Expr[];
  having?: Expr;
  orderBy: { expr: Expr; desc: boolean }[];
}

export type StatementBody =
  | SelectStatement
  | { kind: "use"; database: string }
  | { kind: "createCredential"; name: string; identity: string; secret?: string }
  | { kind: "dropCredential"; name: string }
  | { kind: "declare"; vars: { name: string; type: SqlType; init?: Expr }[] }
  | { kind: "set"; name: string; expr: Expr }
  | { kind: "setOption"; options: string[]; value: string }
  | { kind: "exec"; returnVar?: string; proc: string; args: { name?: string; expr: Expr }[] }
  | { kind: "begin" }
  | { kind: "commit" }
  | { kind: "rollback" }
  | { kind: "print"; expr: Expr }
  | { kind: "if"; condition: Expr; then: Statement; else?: Statement }
  | { kind: "throw"; number: Expr; message: Expr; state: Expr }
  | { kind: "createAudit"; name: string; target: AuditTarget; options: AuditOptions; predicate?: string }
  | { kind: "alterAudit"; name: string; target?: AuditTarget; options: AuditOptions; predicate?: string; removeWhere?: boolean; newName?: string }
  | { kind: "dropAudit"; name: string }
  | { kind: "createSpec"; name: string; audit: string; add: string[]; state?: boolean }
  | { kind: "alterSpec"; name: string; audit?: string; add: string[]; drop: string[]; state?: boolean }
  | { kind: "dropSpec"; name: string }
  | { kind: "backup"; log: boolean; database: string; urls: string[]; options: string[] }
  | { kind: "restore"; database: string; urls: string[]; options: string[] }
  | { kind: "block"; body: Statement[] }
  /** EXEC (expression): dynamic SQL, run as a batch of its own. */
  | { kind: "execDynamic"; sql: Expr }
  | { kind: "createLogin"; name: string; source: { kind: "external"; objectId?: string } | { kind: "sql"; password: string } }
  | { kind: "grant" | "revoke"; permissions: string[]; principal: string };

export type Statement = StatementBody & { text: string; line: number };

export type StatementKind = Statement["kind"];

/** Parses a whole batch. GO is a client-tool separator, not T-SQL: here it is the syntax error the server raises. */
export function parseBatch(sql: string): Statement[] {
  try {
    return new Parser(sql).batch();
  } catch (e) {
    // Blocks and expressions nested thousands deep exhaust the parser's stack: SQL Server's own answer is 191.
    if (e instanceof RangeError) throw sqlError(191, "Some part of your SQL statement is nested too deeply. Rewrite the query or break it up into smaller queries.", 15);
    throw e;
  }
}

class Parser {
  private readonly tokens: Token[];
  private pos = 0;

  constructor(private readonly sql: string) {
    this.tokens = tokenize(sql);
  }

  batch(): Statement[] {
    const out: Statement[] = [];
    for (;;) {
      while (this.isPunct(";")) this.pos++;
      if (this.peek().kind === "eof") return out;
      const first = this.peek();
      const stmt = this.statement();
      const last = this.tokens[this.pos - 1]!;
      out.push({ ...stmt, text: this.sql.slice(first.start, last.end), line: first.line });
    }
  }

  // ---------------------------------------------------------------------------------------------- helpers
  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const t = this.peek();
    if (t.kind !== "eof") this.pos++;
    return t;
  }
  private isWord(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === "word" && t.upper === word;
  }
  private isPunct(p: string): boolean {
    const t = this.peek();
    return t.kind === "punct" && t.value === p;
  }
  private acceptWord(word: string): boolean {
    if (this.isWord(word)) {
      this.pos++;
      return true;
    }
    return false;
  }
  private acceptPunct(p: string): boolean {
    if (this.isPunct(p)) {
      this.pos++;
      return true;
    }
    return false;
  }
  /** The error SQL Server raises at the current token (or the last one when the batch ended early). */
  private fail(): TsqlError {
    let t = this.peek();
    if (t.kind === "eof") t = this.tokens[Math.max(0, this.pos - 1)] ?? t;
    if (t.kind === "word" && reservedKeywords.has(t.upper)) return errors.syntaxKeyword(t.text, t.line);
    return errors.syntax(t.kind === "eof" ? "" : t.text, t.line);
  }
  private expectWord(word: string): void {
    if (!this.acceptWord(word)) throw this.fail();
  }
  private expectPunct(p: string): void {
    if (!this.acceptPunct(p)) throw this.fail();
  }
  /** An identifier: a non-reserved word, [bracketed] or "quoted". */
  private identifier(): string {
    const t = this.peek();
    if (t.kind === "qident") {
      this.pos++;
      return t.value;
    }
    if (t.kind === "word" && !reservedKeywords.has(t.upper)) {
      this.pos++;
      return t.value;
    }
    throw this.fail();
  }
  private stringLiteral(): string {
    const t = this.peek();
    if (t.kind !== "string") throw this.fail();
    this.pos++;
    return t.value;
  }
  private integer(): number {
    const t = this.peek();
    if (t.kind !== "number" || !/^\d+$/.test(t.value)) throw this.fail();
    this.pos++;
    return Number(t.value);
  }
  private onOff(): boolean {
    if (this.acceptWord("ON")) return true;
    if (this.acceptWord("OFF")) return false;
    throw this.fail();
  }
  private atStatementEnd(): boolean {
    const t = this.peek();
    return t.kind === "eof" || (t.kind === "punct" && t.value === ";") || (t.kind === "word" && statementStarts.has(t.upper));
  }

  // ---------------------------------------------------------------------------------------------- statements
  private statement(): StatementBody {
    const t = this.peek();
    if (t.kind !== "word") throw this.fail();
    switch (t.upper) {
      case "SELECT":
        return this.select();
      case "USE":
        this.next();
        return { kind: "use", database: this.identifier() };
      case "DECLARE":
        return this.declare();
      case "SET":
        return this.set();
      case "EXEC":
      case "EXECUTE":
        return this.exec();
      case "BEGIN":
        this.next();
        if (!this.isWord("TRAN") && !this.isWord("TRANSACTION")) return this.block();
        this.next();
        this.optionalTransactionName();
        return { kind: "begin" };
      case "GRANT":
      case "REVOKE":
        return this.grantOrRevoke();
      case "COMMIT":
      case "ROLLBACK": {
        this.next();
        if (!this.acceptWord("TRAN") && !this.acceptWord("TRANSACTION")) this.acceptWord("WORK");
        this.optionalTransactionName();
        return { kind: t.upper === "COMMIT" ? "commit" : "rollback" };
      }
      case "PRINT":
        this.next();
        return { kind: "print", expr: this.expr() };
      case "IF": {
        this.next();
        const condition = this.expr();
        const then = this.nested();
        while (this.isPunct(";") && this.isWord("ELSE", 1)) this.pos++;
        if (!this.acceptWord("ELSE")) return { kind: "if", condition, then };
        return { kind: "if", condition, then, else: this.nested() };
      }
      case "THROW": {
        this.next();
        // THROW without arguments re-throws inside CATCH only; there is no TRY/CATCH here.
        const number = this.expr();
        this.expectPunct(",");
        const message = this.expr();
        this.expectPunct(",");
        return { kind: "throw", number, message, state: this.expr() };
      }
      case "CREATE":
      case "ALTER":
      case "DROP":
        return this.auditDdl();
      case "BACKUP":
        return this.backup();
      case "RESTORE":
        return this.restore();
      default:
        throw this.fail();
    }
  }

  /** The statement an IF or ELSE governs: one statement or a BEGIN…END block. */
  private nested(): Statement {
    while (this.isPunct(";")) this.pos++;
    const first = this.peek();
    const body = this.statement();
    const last = this.tokens[this.pos - 1]!;
    return { ...body, text: this.sql.slice(first.start, last.end), line: first.line };
  }

  /** BEGIN … END (BEGIN already read): statements until the matching END; an empty block is a syntax error. */
  private block(): StatementBody {
    const body: Statement[] = [];
    for (;;) {
      while (this.isPunct(";")) this.pos++;
      if (this.acceptWord("END")) break;
      if (this.peek().kind === "eof") throw this.fail();
      const first = this.peek();
      const stmt = this.statement();
      const last = this.tokens[this.pos - 1]!;
      body.push({ ...stmt, text: this.sql.slice(first.start, last.end), line: first.line });
    }
    if (!body.length) throw this.fail();
    return { kind: "block", body };
  }

  /** GRANT|REVOKE <server permission>[, …] TO|FROM <login>: server-scope permissions only (no ON clause). */
  private grantOrRevoke(): StatementBody {
    const verb = this.next().upper as "GRANT" | "REVOKE";
    const permissions: string[] = [];
    do {
      const words: string[] = [];
      while (this.peek().kind === "word" && !this.isWord(verb === "GRANT" ? "TO" : "FROM") && !this.isWord("ON")) words.push(this.next().upper);
      if (!words.length) throw this.fail();
      permissions.push(words.join(" "));
    } while (this.acceptPunct(","));
    if (this.isWord("ON")) throw this.fail();
    this.expectWord(verb === "GRANT" ? "TO" : "FROM");
    const principal = this.identifier();
    return { kind: verb === "GRANT" ? "grant" : "revoke", permissions, principal };
  }

  private optionalTransactionName(): void {
    const t = this.peek();
    if (t.kind === "var" || t.kind === "qident" || (t.kind === "word" && !reservedKeywords.has(t.upper) && !statementStarts.has(t.upper))) this.pos++;
  }

  private select(): SelectStatement {
    this.expectWord("SELECT");
    const distinct = this.acceptWord("DISTINCT");
    let top: Expr | undefined;
    if (this.acceptWord("TOP")) {
      if (this.acceptPunct("(")) {
        top = this.expr();
        this.expectPunct(")");
      } else top = { kind: "literal", value: this.integer() };
    }
    const items: SelectItem[] = [];
    do items.push(this.selectItem());
    while (this.acceptPunct(","));
    let from: TableRef | undefined;
    const joins: Join[] = [];
    if (this.acceptWord("FROM")) {
      from = this.tableRef();
      for (;;) {
        let type: "INNER" | "LEFT" | undefined;
        if (this.acceptWord("INNER")) type = "INNER";
        else if (this.acceptWord("LEFT")) {
          this.acceptWord("OUTER");
          type = "LEFT";
        } else if (this.isWord("JOIN")) type = "INNER";
        if (!type) break;
        this.expectWord("JOIN");
        const table = this.tableRef();
        this.expectWord("ON");
        joins.push({ type, table, on: this.expr() });
      }
    }
    const where = this.acceptWord("WHERE") ? this.expr() : undefined;
    const groupBy: Expr[] = [];
    if (this.acceptWord("GROUP")) {
      this.expectWord("BY");
      do groupBy.push(this.expr());
      while (this.acceptPunct(","));
    }
    const having = this.acceptWord("HAVING") ? this.expr() : undefined;
    const orderBy: { expr: Expr; desc: boolean }[] = [];
    if (this.acceptWord("ORDER")) {
      this.expectWord("BY");
      do {
        const expr = this.expr();
        const desc = this.acceptWord("DESC");
        if (!desc) this.acceptWord("ASC");
        orderBy.push({ expr, desc });
      } while (this.acceptPunct(","));
    }
    return {
      kind: "select",
      ...(top ? { top } : {}),
      ...(distinct ? { distinct } : {}),
      items,
      ...(from ? { from } : {}),
      joins,
      ...(where ? { where } : {}),
      groupBy,
      ...(having ? { having } : {}),
      orderBy,
    };
  }

  private selectItem(): SelectItem {
    if (this.acceptPunct("*")) return { kind: "star" };
    const t = this.peek();
    const t1 = this.peek(1);
    const t2 = this.peek(2);
    if ((t.kind === "word" || t.kind === "qident") && t1.kind === "punct" && t1.value === "." && t2.kind === "punct" && t2.value === "*") {
      this.pos += 3;
      return { kind: "star", qualifier: t.value };
    }
    // alias = expr
    if ((t.kind === "qident" || (t.kind === "word" && !reservedKeywords.has(t.upper))) && t1.kind === "punct" && t1.value === "=" ) {
      this.pos += 2;
      return { kind: "expr", expr: this.expr(), alias: t.value };
    }
    const expr = this.expr();
    let alias: string | undefined;
    if (this.acceptWord("AS")) alias = this.peek().kind === "string" ? this.stringLiteral() : this.identifier();
    else {
      const a = this.peek();
      if (a.kind === "qident" || a.kind === "string" || (a.kind === "word" && !reservedKeywords.has(a.upper) && !statementStarts.has(a.upper))) {
        this.pos++;
        alias = a.value;
      }
    }
    return { kind: "expr", expr, ...(alias !== undefined ? { alias } : {}) };
  }

  private tableRef(): TableRef {
    const parts = [this.identifier()];
    while (this.acceptPunct(".")) parts.push(this.identifier());
    if (parts.length > 3) throw this.fail();
    const name = parts[parts.length - 1]!;
    const schema = parts.length >= 2 ? parts[parts.length - 2]! : "dbo";
    let alias = name;
    if (this.acceptWord("AS")) alias = this.identifier();
    else {
      const a = this.peek();
      if (a.kind === "qident" || (a.kind === "word" && !reservedKeywords.has(a.upper) && !statementStarts.has(a.upper))) {
        this.pos++;
        alias = a.value;
      }
    }
    // "Table hints (Transact-SQL)": WITH ( <table_hint> [ , …n ] ).
    const hints: string[] = [];
    if (this.isWord("WITH") && this.peek(1).kind === "punct" && this.peek(1).value === "(") {
      this.pos += 2;
      do {
        const h = this.peek();
        if (h.kind !== "word" || !tableHints.has(h.upper)) throw this.fail();
        this.pos++;
        hints.push(h.upper);
      } while (this.acceptPunct(","));
      this.expectPunct(")");
    }
    return { schema, name, alias, ...(hints.length ? { hints } : {}) };
  }

  private sqlType(): SqlType {
    const t = this.peek();
    const name = t.kind === "qident" ? t.value.toLowerCase() : t.kind === "word" ? t.value.toLowerCase() : "";
    if (!name) throw this.fail();
    this.pos++;
    const length = (dflt: number, allowMax: boolean): number | "max" => {
      if (!this.acceptPunct("(")) return dflt;
      let n: number | "max";
      if (allowMax && this.acceptWord("MAX")) n = "max";
      else n = this.integer();
      this.expectPunct(")");
      return n;
    };
    switch (name) {
      case "int":
      case "integer":
        return { kind: "int" };
      case "bigint":
        return { kind: "bigint" };
      case "smallint":
        return { kind: "smallint" };
      case "tinyint":
        return { kind: "tinyint" };
      case "bit":
        return { kind: "bit" };
      case "float":
      case "real":
        return { kind: "float" };
      case "sysname":
        return { kind: "nvarchar", length: 128 };
      case "nvarchar":
      case "nchar":
        return { kind: "nvarchar", length: length(name === "nchar" ? 1 : 30, true) };
      case "varchar": {
        const n = length(30, true);
        return n === "max" ? { kind: "nvarchar", length: "max" } : { kind: "varchar", length: n };
      }
      case "char": {
        const n = length(1, false);
        return { kind: "char", length: n === "max" ? 8000 : n };
      }
      case "datetime":
        return { kind: "datetime" };
      case "datetime2": {
        const n = length(7, false);
        return { kind: "datetime2", scale: n === "max" ? 7 : n };
      }
      case "uniqueidentifier":
        return { kind: "uniqueidentifier" };
      case "varbinary":
        return { kind: "varbinary", length: length(30, true) };
      default:
        this.pos--;
        throw errors.syntax(t.text, t.line);
    }
  }

  private declare(): StatementBody {
    this.expectWord("DECLARE");
    const vars: { name: string; type: SqlType; init?: Expr }[] = [];
    do {
      const v = this.next();
      if (v.kind !== "var") {
        this.pos--;
        throw this.fail();
      }
      this.acceptWord("AS");
      const type = this.sqlType();
      const init = this.acceptPunct("=") ? this.expr() : undefined;
      vars.push({ name: v.value, type, ...(init ? { init } : {}) });
    } while (this.acceptPunct(","));
    return { kind: "declare", vars };
  }

  private set(): StatementBody {
    this.expectWord("SET");
    const v = this.peek();
    if (v.kind === "word") return this.setOption();
    this.next();
    if (v.kind !== "var") {
      this.pos--;
      throw this.fail();
    }
    this.expectPunct("=");
    return { kind: "set", name: v.value, expr: this.expr() };
  }

  /** Session SET options, including the batch tedious sends after login. */
  private setOption(): StatementBody {
    const t = this.peek();
    if (t.upper === "TRANSACTION") {
      this.pos++;
      this.expectWord("ISOLATION");
      this.expectWord("LEVEL");
      const levels = [["READ", "COMMITTED"], ["READ", "UNCOMMITTED"], ["REPEATABLE", "READ"], ["SNAPSHOT"], ["SERIALIZABLE"]];
      const level = levels.find((l) => l.every((w, i) => this.isWord(w, i)));
      if (!level) throw this.fail();
      this.pos += level.length;
      return { kind: "setOption", options: ["TRANSACTION ISOLATION LEVEL"], value: level.join(" ") };
    }
    if (valuedSetOptions.has(t.upper)) {
      this.pos++;
      const v = this.next();
      const ok = v.kind === "number" || v.kind === "word" || v.kind === "qident" || v.kind === "string" || (v.kind === "punct" && v.value === "-" && this.peek().kind === "number");
      if (!ok) {
        this.pos--;
        throw this.fail();
      }
      let value = v.value;
      if (v.kind === "punct") value = "-" + this.next().value;
      return { kind: "setOption", options: [t.upper], value };
    }
    const options: string[] = [];
    do {
      const o = this.peek();
      if (o.kind !== "word" || !onOffSetOptions.has(o.upper)) throw this.fail();
      this.pos++;
      options.push(o.upper);
    } while (this.acceptPunct(","));
    return { kind: "setOption", options, value: this.onOff() ? "ON" : "OFF" };
  }

  private exec(): StatementBody {
    this.next();
    if (this.acceptPunct("(")) {
      const sql = this.expr();
      this.expectPunct(")");
      return { kind: "execDynamic", sql };
    }
    let returnVar: string | undefined;
    if (this.peek().kind === "var") {
      returnVar = this.next().value;
      this.expectPunct("=");
    }
    const parts = [this.identifier()];
    while (this.acceptPunct(".")) parts.push(this.identifier());
    const args: { name?: string; expr: Expr }[] = [];
    if (!this.atStatementEnd()) {
      do {
        const t = this.peek();
        if (t.kind === "var" && this.peek(1).kind === "punct" && this.peek(1).value === "=") {
          this.pos += 2;
          args.push({ name: t.value, expr: this.expr() });
        } else args.push({ expr: this.expr() });
      } while (this.acceptPunct(","));
    }
    return { kind: "exec", ...(returnVar ? { returnVar } : {}), proc: parts[parts.length - 1]!, args };
  }

  // ---------------------------------------------------------------------------------------------- audit DDL
  private auditDdl(): StatementBody {
    const verb = this.next().upper as "CREATE" | "ALTER" | "DROP";
    if (verb === "CREATE" && this.acceptWord("LOGIN")) return this.createLogin();
    if (verb !== "ALTER" && this.acceptWord("CREDENTIAL")) return verb === "CREATE" ? this.createCredential() : { kind: "dropCredential", name: this.identifier() };
    if (!this.acceptWord("SERVER")) throw this.fail();
    if (!this.acceptWord("AUDIT")) throw this.fail();
    const spec = this.acceptWord("SPECIFICATION");
    const name = this.identifier();
    if (verb === "DROP") return { kind: spec ? "dropSpec" : "dropAudit", name };
    if (spec) return this.specBody(verb, name);
    return verb === "CREATE" ? this.createAudit(name) : this.alterAudit(name);
  }

  /**
   * CREATE CREDENTIAL name WITH IDENTITY = 'identity' [, SECRET = 'secret'] ("CREATE CREDENTIAL (Transact-SQL)"; a
   * URL audit's or backup's container is named by a credential whose identity is 'SHARED ACCESS SIGNATURE' or
   * 'Managed Identity').
   */
  private createCredential(): StatementBody {
    const name = this.identifier();
    this.expectWord("WITH");
    this.expectWord("IDENTITY");
    this.expectPunct("=");
    const identity = this.stringLiteral();
    let secret: string | undefined;
    if (this.acceptPunct(",")) {
      this.expectWord("SECRET");
      this.expectPunct("=");
      secret = this.stringLiteral();
    }
    return { kind: "createCredential", name, identity, ...(secret !== undefined ? { secret } : {}) };
  }

  /** CREATE LOGIN name FROM EXTERNAL PROVIDER [WITH OBJECT_ID = 'guid'] | WITH PASSWORD = 'secret' (LOGIN read). */
  private createLogin(): StatementBody {
    const name = this.identifier();
    if (this.acceptWord("FROM")) {
      this.expectWord("EXTERNAL");
      this.expectWord("PROVIDER");
      if (!this.acceptWord("WITH")) return { kind: "createLogin", name, source: { kind: "external" } };
      this.expectWord("OBJECT_ID");
      this.expectPunct("=");
      return { kind: "createLogin", name, source: { kind: "external", objectId: this.stringLiteral() } };
    }
    this.expectWord("WITH");
    this.expectWord("PASSWORD");
    this.expectPunct("=");
    return { kind: "createLogin", name, source: { kind: "sql", password: this.stringLiteral() } };
  }

  private auditTarget(): AuditTarget {
    const t = this.peek();
    if (this.acceptWord("EXTERNAL_MONITOR")) return { type: "EXTERNAL_MONITOR" };
    if (this.acceptWord("URL")) {
      this.expectPunct("(");
      let path: string | undefined;
      let retentionDays: number | undefined;
      do {
        if (this.acceptWord("PATH")) {
          this.expectPunct("=");
          path = this.stringLiteral();
        } else if (this.acceptWord("RETENTION_DAYS")) {
          this.expectPunct("=");
          retentionDays = this.integer();
        } else throw this.fail();
      } while (this.acceptPunct(","));
      this.expectPunct(")");
      if (path === undefined) throw errors.syntax(")", t.line);
      return { type: "URL", path, ...(retentionDays !== undefined ? { retentionDays } : {}) };
    }
    if (this.isWord("FILE") || this.isWord("APPLICATION_LOG") || this.isWord("SECURITY_LOG")) throw errors.notSupported(this.peek().upper);
    throw this.fail();
  }

  private auditOptions(allowState: boolean): AuditOptions {
    const o: AuditOptions = {};
    this.expectPunct("(");
    do {
      const t = this.peek();
      if (t.kind !== "word") throw this.fail();
      this.pos++;
      switch (t.upper) {
        case "QUEUE_DELAY":
          this.expectPunct("=");
          o.queueDelay = this.integer();
          break;
        case "ON_FAILURE":
          this.expectPunct("=");
          if (this.acceptWord("CONTINUE")) o.onFailure = "CONTINUE";
          else if (this.acceptWord("FAIL_OPERATION")) o.onFailure = "FAIL_OPERATION";
          else if (this.isWord("SHUTDOWN")) throw errors.shutdownNotSupported();
          else throw this.fail();
          break;
        case "STATE":
          if (!allowState) {
            this.pos--;
            throw this.fail();
          }
          this.expectPunct("=");
          o.state = this.onOff();
          break;
        case "AUDIT_GUID":
          this.expectPunct("=");
          o.auditGuid = this.stringLiteral();
          if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(o.auditGuid)) throw errors.conversion(o.auditGuid, "uniqueidentifier");
          break;
        case "OPERATOR_AUDIT":
          this.expectPunct("=");
          o.operatorAudit = this.onOff();
          break;
        case "RETENTION_DAYS":
          this.expectPunct("=");
          o.retentionDays = this.integer();
          break;
        default:
          this.pos--;
          throw this.fail();
      }
    } while (this.acceptPunct(","));
    this.expectPunct(")");
    return o;
  }

  /** The predicate is validated as an expression and kept as the source text, as sys.server_audits shows it. */
  private predicate(): string {
    const start = this.peek().start;
    this.expr();
    return this.sql.slice(start, this.tokens[this.pos - 1]!.end).trim();
  }

  private createAudit(name: string): StatementBody {
    this.expectWord("TO");
    const target = this.auditTarget();
    const options = this.acceptWord("WITH") ? this.auditOptions(false) : {};
    const predicate = this.acceptWord("WHERE") ? this.predicate() : undefined;
    return { kind: "createAudit", name, target, options, ...(predicate !== undefined ? { predicate } : {}) };
  }

  private alterAudit(name: string): StatementBody {
    if (this.acceptWord("REMOVE")) {
      this.expectWord("WHERE");
      return { kind: "alterAudit", name, options: {}, removeWhere: true };
    }
    if (this.acceptWord("MODIFY")) {
      this.expectWord("NAME");
      this.expectPunct("=");
      return { kind: "alterAudit", name, options: {}, newName: this.identifier() };
    }
    const target = this.acceptWord("TO") ? this.auditTarget() : undefined;
    const options = this.acceptWord("WITH") ? this.auditOptions(true) : {};
    const predicate = this.acceptWord("WHERE") ? this.predicate() : undefined;
    if (!target && Object.keys(options).length === 0 && predicate === undefined) throw this.fail();
    return { kind: "alterAudit", name, ...(target ? { target } : {}), options, ...(predicate !== undefined ? { predicate } : {}) };
  }

  private group(): string {
    this.expectPunct("(");
    const t = this.peek();
    if (t.kind !== "word") throw this.fail();
    this.pos++;
    if (!serverAuditGroups.has(t.upper)) throw errors.unknownGroup(t.text);
    this.expectPunct(")");
    return t.upper;
  }

  private specBody(verb: "CREATE" | "ALTER", name: string): StatementBody {
    let audit: string | undefined;
    if (this.acceptWord("FOR")) {
      this.expectWord("SERVER");
      this.expectWord("AUDIT");
      audit = this.identifier();
    } else if (verb === "CREATE") throw this.fail();
    const add: string[] = [];
    const drop: string[] = [];
    if (this.isWord("ADD") || this.isWord("DROP")) {
      do {
        if (this.acceptWord("ADD")) add.push(this.group());
        else if (verb === "ALTER" && this.acceptWord("DROP")) drop.push(this.group());
        else throw this.fail();
      } while (this.acceptPunct(","));
    }
    let state: boolean | undefined;
    if (this.acceptWord("WITH")) {
      this.expectPunct("(");
      this.expectWord("STATE");
      this.expectPunct("=");
      state = this.onOff();
      this.expectPunct(")");
    }
    if (verb === "ALTER" && audit === undefined && add.length === 0 && drop.length === 0 && state === undefined) throw this.fail();
    const s = state !== undefined ? { state } : {};
    if (verb === "CREATE") return { kind: "createSpec", name, audit: audit!, add, ...s };
    return { kind: "alterSpec", name, ...(audit !== undefined ? { audit } : {}), add, drop, ...s };
  }

  // ---------------------------------------------------------------------------------------------- backup/restore
  private backupUrls(): string[] {
    const urls: string[] = [];
    do {
      if (this.isWord("DISK") || this.isWord("TAPE")) throw errors.notSupported(this.peek().upper);
      this.expectWord("URL");
      this.expectPunct("=");
      const t = this.peek();
      if (t.kind === "var") {
        this.pos++;
        urls.push(t.value);
      } else urls.push(this.stringLiteral());
    } while (this.acceptPunct(","));
    return urls;
  }

  private backupOptions(): string[] {
    const options: string[] = [];
    if (!this.acceptWord("WITH")) return options;
    do {
      const t = this.peek();
      if (t.kind !== "word") throw this.fail();
      this.pos++;
      if (!backupOptionNames.has(t.upper)) {
        this.pos--;
        throw this.fail();
      }
      if (unsupportedBackupOptions.has(t.upper)) throw errors.notSupported(t.upper);
      if (this.acceptPunct("=")) {
        const v = this.next();
        if (!["string", "number", "word", "var"].includes(v.kind)) {
          this.pos--;
          throw this.fail();
        }
      }
      options.push(t.upper);
    } while (this.acceptPunct(","));
    return options;
  }

  private backup(): StatementBody {
    this.expectWord("BACKUP");
    let log = false;
    if (this.acceptWord("LOG")) log = true;
    else this.expectWord("DATABASE");
    const database = this.identifier();
    this.expectWord("TO");
    const urls = this.backupUrls();
    return { kind: "backup", log, database, urls, options: this.backupOptions() };
  }

  private restore(): StatementBody {
    this.expectWord("RESTORE");
    this.expectWord("DATABASE");
    const database = this.identifier();
    this.expectWord("FROM");
    const urls = this.backupUrls();
    return { kind: "restore", database, urls, options: this.backupOptions() };
  }

  // ---------------------------------------------------------------------------------------------- expressions
  expr(): Expr {
    return this.or();
  }
  private or(): Expr {
    let left = this.and();
    while (this.acceptWord("OR")) left = { kind: "binary", op: "OR", left, right: this.and() };
    return left;
  }
  private and(): Expr {
    let left = this.not();
    while (this.acceptWord("AND")) left = { kind: "binary", op: "AND", left, right: this.not() };
    return left;
  }
  private not(): Expr {
    if (this.acceptWord("NOT")) return { kind: "unary", op: "NOT", expr: this.not() };
    return this.comparison();
  }
  private comparison(): Expr {
    const left = this.additive();
    const t = this.peek();
    if (t.kind === "punct" && ["=", "<>", "!=", "<", ">", "<=", ">="].includes(t.value)) {
      this.pos++;
      const op = (t.value === "!=" ? "<>" : t.value) as "=";
      return { kind: "binary", op, left, right: this.additive() };
    }
    if (this.acceptWord("IS")) {
      const not = this.acceptWord("NOT");
      this.expectWord("NULL");
      return { kind: "isnull", expr: left, not };
    }
    const not = this.isWord("NOT") && (this.isWord("IN", 1) || this.isWord("LIKE", 1));
    if (not) this.pos++;
    if (this.acceptWord("IN")) {
      this.expectPunct("(");
      const list: Expr[] = [];
      do list.push(this.additive());
      while (this.acceptPunct(","));
      this.expectPunct(")");
      return { kind: "in", expr: left, list, not };
    }
    if (this.acceptWord("LIKE")) {
      const like: Expr = { kind: "binary", op: "LIKE", left, right: this.additive() };
      return not ? { kind: "unary", op: "NOT", expr: like } : like;
    }
    if (not) throw this.fail();
    return left;
  }
  /** CASE [input] WHEN … THEN … [ELSE …] END ("CASE (Transact-SQL)"). */
  private caseExpr(): Expr {
    this.expectWord("CASE");
    const operand = this.isWord("WHEN") ? undefined : this.expr();
    const whens: { when: Expr; then: Expr }[] = [];
    while (this.acceptWord("WHEN")) {
      const when = this.expr();
      this.expectWord("THEN");
      whens.push({ when, then: this.expr() });
    }
    if (!whens.length) throw this.fail();
    const otherwise = this.acceptWord("ELSE") ? this.expr() : undefined;
    this.expectWord("END");
    return { kind: "case", ...(operand ? { operand } : {}), whens, ...(otherwise ? { else: otherwise } : {}) };
  }

  private additive(): Expr {
    let left = this.multiplicative();
    for (;;) {
      if (this.acceptPunct("+")) left = { kind: "binary", op: "+", left, right: this.multiplicative() };
      else if (this.acceptPunct("-")) left = { kind: "binary", op: "-", left, right: this.multiplicative() };
      else return left;
    }
  }
  private multiplicative(): Expr {
    let left = this.unary();
    for (;;) {
      if (this.acceptPunct("*")) left = { kind: "binary", op: "*", left, right: this.unary() };
      else if (this.acceptPunct("/")) left = { kind: "binary", op: "/", left, right: this.unary() };
      else return left;
    }
  }
  private unary(): Expr {
    if (this.acceptPunct("-")) return { kind: "unary", op: "-", expr: this.unary() };
    if (this.acceptPunct("+")) return this.unary();
    return this.primary();
  }
  private primary(): Expr {
    const t = this.peek();
    switch (t.kind) {
      case "number":
        this.pos++;
        return { kind: "literal", value: Number(t.value) };
      case "string":
        this.pos++;
        return { kind: "literal", value: t.value, ...(t.national ? { national: true } : {}) };
      case "var":
        this.pos++;
        return { kind: "var", name: t.value };
      case "sysvar":
        this.pos++;
        return { kind: "sysvar", name: t.upper };
      case "punct":
        if (t.value === "(") {
          this.pos++;
          const e = this.expr();
          this.expectPunct(")");
          return e;
        }
        throw this.fail();
      case "qident":
      case "word": {
        if (t.kind === "word" && t.upper === "NULL") {
          this.pos++;
          return { kind: "literal", value: null };
        }
        if (t.kind === "word" && t.upper === "CASE") return this.caseExpr();
        if (t.kind === "word" && t.upper === "EXISTS") {
          this.pos++;
          this.expectPunct("(");
          const query = this.select();
          this.expectPunct(")");
          return { kind: "exists", query };
        }
        if (t.kind === "word" && (t.upper === "CONVERT" || t.upper === "TRY_CONVERT")) {
          // CONVERT ( data_type [ ( length ) ] , expression [ , style ] ): the style only shapes dates as text here.
          this.pos++;
          this.expectPunct("(");
          const type = this.sqlType();
          this.expectPunct(",");
          const expr = this.expr();
          if (this.acceptPunct(",")) this.expr();
          this.expectPunct(")");
          return { kind: "cast", expr, type };
        }
        if (t.kind === "word" && t.upper === "CAST") {
          this.pos++;
          this.expectPunct("(");
          const expr = this.expr();
          this.expectWord("AS");
          const type = this.sqlType();
          this.expectPunct(")");
          return { kind: "cast", expr, type };
        }
        const next = this.peek(1);
        if (t.kind === "word" && next.kind === "punct" && next.value === "(" && (!reservedKeywords.has(t.upper) || t.upper === "COALESCE" || t.upper === "NULLIF")) {
          this.pos += 2;
          const args: Expr[] = [];
          if (t.upper === "COUNT" && this.acceptPunct("*")) {
            this.expectPunct(")");
            return { kind: "call", name: "COUNT", args: [{ kind: "literal", value: 1 }] };
          }
          if (!this.isPunct(")")) {
            do args.push(this.expr());
            while (this.acceptPunct(","));
          }
          this.expectPunct(")");
          return { kind: "call", name: t.upper, args };
        }
        const first = this.identifier();
        if (this.acceptPunct(".")) return { kind: "column", qualifier: first, name: this.identifier() };
        return { kind: "column", name: first };
      }
      default:
        throw this.fail();
    }
  }
}

const statementStarts = new Set(["USE", "IF", "ELSE", "THROW", "SELECT", "DECLARE", "SET", "EXEC", "EXECUTE", "BEGIN", "END", "COMMIT", "ROLLBACK", "PRINT", "CREATE", "ALTER", "DROP", "BACKUP", "RESTORE", "GRANT", "REVOKE"]);

/** "Table hints (Transact-SQL)" that take no argument. */
const tableHints = new Set([
  "NOLOCK", "READUNCOMMITTED", "READCOMMITTED", "READCOMMITTEDLOCK", "REPEATABLEREAD", "SERIALIZABLE", "HOLDLOCK", "UPDLOCK", "XLOCK",
  "ROWLOCK", "PAGLOCK", "TABLOCK", "TABLOCKX", "NOWAIT", "READPAST", "NOEXPAND", "KEEPIDENTITY", "KEEPDEFAULTS", "IGNORE_CONSTRAINTS", "IGNORE_TRIGGERS",
]);

const onOffSetOptions = new Set([
  "ANSI_NULLS", "ANSI_NULL_DFLT_ON", "ANSI_NULL_DFLT_OFF", "ANSI_PADDING", "ANSI_WARNINGS", "ANSI_DEFAULTS", "ARITHABORT", "ARITHIGNORE",
  "CONCAT_NULL_YIELDS_NULL", "CURSOR_CLOSE_ON_COMMIT", "IMPLICIT_TRANSACTIONS", "NUMERIC_ROUNDABORT", "QUOTED_IDENTIFIER", "XACT_ABORT",
  "NOCOUNT", "NOEXEC", "FMTONLY", "PARSEONLY", "STATISTICS", "SHOWPLAN_XML", "FORCEPLAN",
]);
const valuedSetOptions = new Set(["DATEFIRST", "DATEFORMAT", "LANGUAGE", "TEXTSIZE", "LOCK_TIMEOUT", "DEADLOCK_PRIORITY", "ROWCOUNT", "CONTEXT_INFO"]);

const backupOptionNames = new Set([
  "COPY_ONLY", "COMPRESSION", "NO_COMPRESSION", "INIT", "NOINIT", "FORMAT", "NOFORMAT", "STATS", "CHECKSUM", "NO_CHECKSUM",
  "CONTINUE_AFTER_ERROR", "STOP_ON_ERROR", "MAXTRANSFERSIZE", "BLOCKSIZE", "BUFFERCOUNT", "DESCRIPTION", "NAME", "SKIP", "NOSKIP",
  "RECOVERY", "NORECOVERY", "REPLACE", "STANDBY", "NO_TRUNCATE", "CREDENTIAL", "FILE_SNAPSHOT", "REWIND", "NOREWIND", "UNLOAD", "NOUNLOAD",
  "MEDIANAME", "MEDIADESCRIPTION", "EXPIREDATE", "RETAINDAYS", "FILE", "PASSWORD", "MEDIAPASSWORD",
]);
/** MI's T-SQL differences page: these BACKUP/RESTORE options are not supported on a managed instance. */
const unsupportedBackupOptions = new Set(["CREDENTIAL", "FILE_SNAPSHOT", "REWIND", "NOREWIND", "UNLOAD", "NOUNLOAD", "NORECOVERY", "STANDBY", "NO_TRUNCATE"]);

/** Server-level audit action groups (sql-server-audit-action-groups-and-actions). */
export const serverAuditGroups = new Set([
  "APPLICATION_ROLE_CHANGE_PASSWORD_GROUP", "AUDIT_CHANGE_GROUP", "BACKUP_RESTORE_GROUP", "BATCH_COMPLETED_GROUP", "BATCH_STARTED_GROUP",
  "BROKER_LOGIN_GROUP", "DATABASE_CHANGE_GROUP", "DATABASE_LOGOUT_GROUP", "DATABASE_MIRRORING_LOGIN_GROUP", "DATABASE_OBJECT_ACCESS_GROUP",
  "DATABASE_OBJECT_CHANGE_GROUP", "DATABASE_OBJECT_OWNERSHIP_CHANGE_GROUP", "DATABASE_OBJECT_PERMISSION_CHANGE_GROUP", "DATABASE_OPERATION_GROUP",
  "DATABASE_OWNERSHIP_CHANGE_GROUP", "DATABASE_PERMISSION_CHANGE_GROUP", "DATABASE_PRINCIPAL_CHANGE_GROUP", "DATABASE_PRINCIPAL_IMPERSONATION_GROUP",
  "DATABASE_ROLE_MEMBER_CHANGE_GROUP", "DBCC_GROUP", "EXTGOV_OPERATION_GROUP", "FAILED_DATABASE_AUTHENTICATION_GROUP", "FAILED_LOGIN_GROUP",
  "FULLTEXT_GROUP", "LEDGER_OPERATION_GROUP", "LOGIN_CHANGE_PASSWORD_GROUP", "LOGOUT_GROUP", "SCHEMA_OBJECT_ACCESS_GROUP",
  "SCHEMA_OBJECT_CHANGE_GROUP", "SCHEMA_OBJECT_OWNERSHIP_CHANGE_GROUP", "SCHEMA_OBJECT_PERMISSION_CHANGE_GROUP", "SERVER_OBJECT_CHANGE_GROUP",
  "SERVER_OBJECT_OWNERSHIP_CHANGE_GROUP", "SERVER_OBJECT_PERMISSION_CHANGE_GROUP", "SERVER_OPERATION_GROUP", "SERVER_PERMISSION_CHANGE_GROUP",
  "SERVER_PRINCIPAL_CHANGE_GROUP", "SERVER_PRINCIPAL_IMPERSONATION_GROUP", "SERVER_ROLE_MEMBER_CHANGE_GROUP", "SERVER_STATE_CHANGE_GROUP",
  "STATEMENT_ROLLBACK_GROUP", "STORAGE_LOGIN_GROUP", "SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP", "SUCCESSFUL_LOGIN_GROUP", "TRACE_CHANGE_GROUP",
  "TRANSACTION_GROUP", "USER_CHANGE_PASSWORD_GROUP", "USER_DEFINED_AUDIT_GROUP",
]);
