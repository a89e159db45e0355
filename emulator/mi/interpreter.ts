import type { ResultSet, SqlType, SqlValue } from "../sql/contracts.js";
import { views } from "./catalog.js";
import { errors, sqlError } from "./errors.js";
import type { Expr, SelectStatement } from "./parser.js";
import type { SessionContext } from "./session-context.js";
import type { ServerPermission } from "./state-schema.js";
import { compare, convert, likeToRegExp, T, toText, typeOfValue, type Typed } from "./values.js";

/**
 * The T-SQL interpreter's query half: SELECT over the catalog views, expressions with SQL's three-valued logic,
 * built-in functions and system variables. Statements, control flow and variables' lifetimes are the session's
 * (session.ts); audit semantics are audit-statements.ts's.
 */
export type Row = Map<string, { view: string; values: SqlValue[] } | null>;

export interface Env {
  vars: Map<string, Typed>;
  params: ReadonlyMap<string, SqlValue>;
  /** How deep in EXEC (@sql) this batch runs: SQL Server stops at 32 (error 217). */
  depth?: number;
  row?: Row;
  sources?: { alias: string; view: string }[];
  /** The rows of the group being evaluated (GROUP BY, or a whole-table aggregate): where aggregates read. */
  group?: Row[];
}

export class Interpreter {
  constructor(private readonly s: SessionContext) {}

  // ---------------------------------------------------------------------------------------------- SELECT
  select(stmt: SelectStatement, env: Env): ResultSet {
    const sources: { alias: string; view: string }[] = [];
    const resolve = (t: { schema: string; name: string; alias: string }): string => {
      const view = t.name.toLowerCase();
      if (t.schema.toLowerCase() !== "sys" || !(view in views)) throw errors.invalidObject(t.schema.toLowerCase() === "dbo" ? t.name : `${t.schema}.${t.name}`);
      if (view === "dm_server_audit_status" && !this.s.engine.hasPermission(this.s.principal, "VIEW SERVER STATE")) throw errors.viewServerState();
      if (sources.some((s) => s.alias.toLowerCase() === t.alias.toLowerCase())) {
        throw sqlError(1011, `The correlation name '${t.alias}' is specified multiple times in a FROM clause.`, 16);
      }
      sources.push({ alias: t.alias, view });
      return view;
    };
    // Metadata visibility: without these permissions the audit views are simply empty, as on a real server; the
    // principal views filter their own rows (a login always sees itself); the other views are visible to public.
    const canSee = this.s.engine.hasPermission(this.s.principal, "ALTER ANY SERVER AUDIT") || this.s.engine.hasPermission(this.s.principal, "VIEW ANY DEFINITION");
    const viewRows = (view: string): SqlValue[][] => (canSee || !views[view]!.needsAuditMetadata ? views[view]!.rows(this.s.engine.catalog(this.s.principal)) : []);

    const noTable: Row = new Map();
    let rows: Row[] = [noTable];
    if (stmt.from) {
      const v = resolve(stmt.from);
      rows = viewRows(v).map((values) => new Map([[stmt.from!.alias.toLowerCase(), { view: v, values }]]));
    }
    const scope = (row: Row | undefined, group?: Row[]): Env => ({ ...env, row, sources, group });
    for (const j of stmt.joins) {
      const v = resolve(j.table);
      const right = viewRows(v);
      const next: Row[] = [];
      for (const left of rows) {
        let matched = false;
        for (const values of right) {
          const candidate = new Map(left).set(j.table.alias.toLowerCase(), { view: v, values });
          if (this.truth(j.on, scope(candidate)) === true) {
            matched = true;
            next.push(candidate);
          }
        }
        if (!matched && j.type === "LEFT") next.push(new Map(left).set(j.table.alias.toLowerCase(), null));
      }
      rows = next;
    }
    if (stmt.where) {
      if (containsAggregate(stmt.where)) throw errors.aggregateInWhere();
      rows = rows.filter((r) => this.truth(stmt.where!, scope(r)) === true);
    }

    // Expand the select list into named expressions.
    const items: { name: string; expr: Expr }[] = [];
    for (const item of stmt.items) {
      if (item.kind === "star") {
        const chosen = item.qualifier ? sources.filter((s) => s.alias.toLowerCase() === item.qualifier!.toLowerCase()) : sources;
        if (chosen.length === 0) throw item.qualifier ? sqlError(4104, `The multi-part identifier "${item.qualifier}" could not be bound.`, 16) : sqlError(263, "Must specify table to select from.", 16);
        for (const s of chosen) for (const c of views[s.view]!.columns) items.push({ name: c.name, expr: { kind: "column", qualifier: s.alias, name: c.name } });
      } else {
        const e = item.expr!;
        items.push({ name: item.alias ?? (e.kind === "column" ? e.name : ""), expr: e });
      }
    }

    // GROUP BY, or aggregates without it (one group of every row): each output row is a group.
    const grouped = stmt.groupBy.length > 0 || items.some((i) => containsAggregate(i.expr)) || (stmt.having !== undefined && containsAggregate(stmt.having));
    let units: { row: Row | undefined; group?: Row[] }[];
    if (grouped) {
      for (const i of items) checkGrouped(i.expr, stmt.groupBy);
      if (stmt.having) checkGrouped(stmt.having, stmt.groupBy);
      const groups = new Map<string, Row[]>();
      for (const r of rows) {
        const key = JSON.stringify(stmt.groupBy.map((g) => groupKey(this.eval(g, scope(r)).value)));
        groups.set(key, [...(groups.get(key) ?? []), r]);
      }
      if (stmt.groupBy.length === 0 && groups.size === 0) groups.set("[]", []);
      units = [...groups.values()].map((g) => ({ row: g[0], group: g }));
      if (stmt.having) units = units.filter((u) => this.truth(stmt.having!, scope(u.row, u.group)) === true);
    } else units = rows.map((r) => ({ row: r }));

    // Column types come from evaluating against no row, so an empty result still has real metadata.
    const columns = items.map((i) => {
      const col = i.expr.kind === "column" ? this.columnDef(i.expr, scope(undefined)) : undefined;
      if (i.expr.kind === "call" && (i.expr.name === "COUNT" || i.expr.name === "COUNT_BIG")) return { name: i.name, type: i.expr.name === "COUNT" ? T.int : T.bigint, nullable: false };
      return { name: i.name, type: col?.type ?? this.eval(i.expr, scope(undefined, grouped ? [] : undefined)).type, nullable: col?.nullable ?? true };
    });

    if (stmt.orderBy.length > 0) {
      const keyed = units.map((u) => ({
        u,
        keys: stmt.orderBy.map((o) => {
          // ORDER BY 2 means the second select-list column; an unqualified name may be a select-list alias.
          const e = o.expr.kind === "literal" && typeof o.expr.value === "number" ? (items[o.expr.value - 1]?.expr ?? o.expr) : o.expr;
          const aliasHit = e.kind === "column" && !e.qualifier ? items.find((i) => i.name.toLowerCase() === e.name.toLowerCase() && !(i.expr.kind === "column" && i.expr.name === e.name && i.expr.qualifier === undefined)) : undefined;
          return this.eval(aliasHit ? aliasHit.expr : e, scope(u.row, u.group)).value;
        }),
      }));
      keyed.sort((a, b) => {
        for (let i = 0; i < stmt.orderBy.length; i++) {
          const x = a.keys[i]!;
          const y = b.keys[i]!;
          const c = x === null && y === null ? 0 : x === null ? -1 : y === null ? 1 : (compare(x, y) ?? 0);
          if (c !== 0) return stmt.orderBy[i]!.desc ? -c : c;
        }
        return 0;
      });
      units = keyed.map((k) => k.u);
    }
    let out = units.map((u) => items.map((i, k) => convert(this.eval(i.expr, scope(u.row, u.group)), columns[k]!.type).value));
    if (stmt.distinct) {
      const seen = new Set<string>();
      out = out.filter((r) => {
        const key = JSON.stringify(r.map(groupKey));
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    }
    if (stmt.top) {
      const n = convert(this.eval(stmt.top, env), T.bigint).value as number;
      out = out.slice(0, Math.max(0, n));
    }
    return { columns, rows: out };
  }

  private lookupColumn(e: { qualifier?: string; name: string }, env: Env): { index: number; view: string; alias: string } {
    const sources = env.sources ?? [];
    const hits: { index: number; view: string; alias: string }[] = [];
    for (const s of sources) {
      if (e.qualifier && s.alias.toLowerCase() !== e.qualifier.toLowerCase()) continue;
      const index = views[s.view]!.columns.findIndex((c) => c.name.toLowerCase() === e.name.toLowerCase());
      if (index >= 0) hits.push({ index, view: s.view, alias: s.alias });
    }
    if (e.qualifier && !sources.some((s) => s.alias.toLowerCase() === e.qualifier!.toLowerCase())) {
      throw sqlError(4104, `The multi-part identifier "${e.qualifier}.${e.name}" could not be bound.`, 16);
    }
    if (hits.length === 0) throw errors.invalidColumn(e.name);
    if (hits.length > 1) throw errors.ambiguousColumn(e.name);
    return hits[0]!;
  }

  private columnDef(e: { qualifier?: string; name: string }, env: Env) {
    const hit = this.lookupColumn(e, env);
    return views[hit.view]!.columns[hit.index]!;
  }

  // ---------------------------------------------------------------------------------------------- expressions
  truth(e: Expr, env: Env): boolean | null {
    switch (e.kind) {
      case "binary":
        if (e.op === "AND") {
          const a = this.truth(e.left, env);
          if (a === false) return false;
          const b = this.truth(e.right, env);
          return b === false ? false : a === null || b === null ? null : true;
        }
        if (e.op === "OR") {
          const a = this.truth(e.left, env);
          if (a === true) return true;
          const b = this.truth(e.right, env);
          return b === true ? true : a === null || b === null ? null : false;
        }
        if (e.op === "LIKE") {
          const a = this.eval(e.left, env).value;
          const b = this.eval(e.right, env).value;
          if (a === null || b === null) return null;
          return likeToRegExp(toText(b)).test(toText(a));
        }
        if (["=", "<>", "<", ">", "<=", ">="].includes(e.op)) {
          const c = compare(this.eval(e.left, env).value, this.eval(e.right, env).value);
          if (c === null) return null;
          return e.op === "=" ? c === 0 : e.op === "<>" ? c !== 0 : e.op === "<" ? c < 0 : e.op === ">" ? c > 0 : e.op === "<=" ? c <= 0 : c >= 0;
        }
        break;
      case "unary":
        if (e.op === "NOT") {
          const a = this.truth(e.expr, env);
          return a === null ? null : !a;
        }
        break;
      case "isnull": {
        const isNull = this.eval(e.expr, env).value === null;
        return e.not ? !isNull : isNull;
      }
      case "exists": {
        // A subquery of its own: it sees the batch's variables, not the outer query's rows.
        const inner: Env = { vars: env.vars, params: env.params, ...(env.depth !== undefined ? { depth: env.depth } : {}) };
        return this.select(e.query, inner).rows.length > 0;
      }
      case "in": {
        const v = this.eval(e.expr, env).value;
        let unknown = v === null;
        let found = false;
        for (const item of e.list) {
          const c = compare(v, this.eval(item, env).value);
          if (c === null) unknown = true;
          else if (c === 0) found = true;
        }
        const r = found ? true : unknown ? null : false;
        return e.not ? (r === null ? null : !r) : r;
      }
      default:
        break;
    }
    throw errors.syntax(e.kind === "binary" ? e.op : "=");
  }

  eval(e: Expr, env: Env): Typed {
    switch (e.kind) {
      case "literal":
        if (e.value === null) return { type: T.int, value: null };
        if (typeof e.value === "number") return { type: Number.isInteger(e.value) && Math.abs(e.value) < 2 ** 31 ? T.int : T.float, value: e.value };
        return { type: e.national ? T.nvarchar(Math.max(1, e.value.length)) : { kind: "varchar", length: Math.max(1, e.value.length) }, value: e.value };
      case "var": {
        const v = env.vars.get(e.name.toLowerCase());
        if (v) return v;
        const key = [...env.params.keys()].find((k) => k.toLowerCase() === e.name.toLowerCase());
        if (key !== undefined) {
          const value = env.params.get(key) ?? null;
          return { type: typeOfValue(value), value };
        }
        throw errors.mustDeclare(e.name);
      }
      case "sysvar":
        return this.sysvar(e.name);
      case "column": {
        const hit = this.lookupColumn(e, env);
        const entry = env.row?.get(hit.alias.toLowerCase());
        const type = views[hit.view]!.columns[hit.index]!.type;
        return { type, value: entry ? (entry.values[hit.index] ?? null) : null };
      }
      case "cast":
        return convert(this.eval(e.expr, env), e.type);
      case "unary": {
        if (e.op === "NOT") throw errors.syntaxKeyword("NOT");
        const v = this.eval(e.expr, env);
        return { type: v.type, value: v.value === null ? null : -Number(v.value) };
      }
      case "binary": {
        if (["+", "-", "*", "/"].includes(e.op)) {
          const a = this.eval(e.left, env);
          const b = this.eval(e.right, env);
          const stringy = (t: Typed): boolean => ["nvarchar", "varchar", "char"].includes(t.type.kind);
          if (e.op === "+" && stringy(a) && stringy(b)) {
            return { type: T.nvarchar(4000), value: a.value === null || b.value === null ? null : toText(a.value) + toText(b.value) };
          }
          if (a.value === null || b.value === null) return { type: T.int, value: null };
          const x = Number(convert(a, T.float).value);
          const y = Number(convert(b, T.float).value);
          if (e.op === "/" && y === 0) throw sqlError(8134, "Divide by zero error encountered.", 16);
          const r = e.op === "+" ? x + y : e.op === "-" ? x - y : e.op === "*" ? x * y : a.type.kind === "float" || b.type.kind === "float" ? x / y : Math.trunc(x / y);
          return { type: Number.isInteger(r) ? T.int : T.float, value: r };
        }
        const t = this.truth(e, env);
        // A predicate where a value is expected is a syntax error in T-SQL.
        void t;
        throw errors.syntax(e.op);
      }
      case "isnull":
      case "in":
        throw errors.syntaxKeyword(e.kind === "in" ? "IN" : "IS");
      case "call":
        return this.call(e.name, e.args, env);
      case "case": {
        for (const w of e.whens) {
          const hit = e.operand ? compare(this.eval(e.operand, env).value, this.eval(w.when, env).value) === 0 : this.truth(w.when, env) === true;
          if (hit) return convert(this.eval(w.then, env), this.caseType(e, env));
        }
        // "CASE": the result type is the highest-precedence type of the result expressions (their longest length for text).
        const type = this.caseType(e, env);
        return e.else ? convert(this.eval(e.else, env), type) : { type, value: null };
      }
      case "exists":
        throw errors.syntaxKeyword("EXISTS");
    }
  }

  /** A CASE's type from its result expressions; a bare NULL has no type of its own and does not count. */
  private caseType(e: Extract<Expr, { kind: "case" }>, env: Env): SqlType {
    const results = [...e.whens.map((w) => w.then), ...(e.else ? [e.else] : [])].filter((x) => !(x.kind === "literal" && x.value === null));
    return resultType(results.map((x) => this.eval(x, { ...env, row: undefined }).type));
  }

  /** COUNT, COUNT_BIG, SUM, MIN, MAX, AVG over the current group; NULLs are skipped ("Aggregate Functions"). */
  private aggregate(name: string, args: Expr[], env: Env): Typed {
    if (!env.group) throw errors.aggregateInWhere();
    if (args.length !== 1) throw sqlError(174, `The ${name.toLowerCase()} function requires 1 argument(s).`, 15);
    const arg = args[0]!;
    const type = this.eval(arg, { ...env, row: undefined, group: undefined }).type;
    const values = env.group.map((r) => this.eval(arg, { ...env, row: r, group: undefined }).value).filter((v) => v !== null);
    if (name === "COUNT") return { type: T.int, value: values.length };
    if (name === "COUNT_BIG") return { type: T.bigint, value: values.length };
    if (!values.length) return { type, value: null };
    if (name === "MIN" || name === "MAX") {
      const best = values.reduce((a, b) => ((compare(a, b) ?? 0) <= 0 ? (name === "MIN" ? a : b) : name === "MIN" ? b : a));
      return { type, value: best };
    }
    if (!["int", "bigint", "smallint", "tinyint", "float", "bit"].includes(type.kind)) throw sqlError(8117, `Operand data type ${type.kind} is invalid for ${name.toLowerCase()} operator.`, 16);
    const sum = values.reduce<number>((a, v) => a + Number(v), 0);
    const resultType = type.kind === "float" ? T.float : type.kind === "bigint" ? T.bigint : T.int;
    if (name === "SUM") return { type: resultType, value: sum };
    return { type: resultType, value: type.kind === "float" ? sum / values.length : Math.trunc(sum / values.length) };
  }

  private sysvar(name: string): Typed {
    switch (name) {
      case "@@VERSION":
        return {
          type: T.nvarchar(300),
          value: `Microsoft SQL Azure (RTM) - 12.0.2000.8 \n\tOct  2 2026 12:00:00 \n\tCopyright (C) 2022 Microsoft Corporation\n`,
        };
      case "@@SERVERNAME":
        return { type: T.sysname, value: this.s.engine.serverName };
      case "@@SPID":
        return { type: T.smallint, value: this.s.id };
      case "@@LOCK_TIMEOUT":
        return { type: T.int, value: this.s.lockTimeout };
      case "@@TRANCOUNT":
        return { type: T.int, value: this.s.tranCount };
      // "@@MAX_PRECISION (Transact-SQL)": tinyint, 38 by default (jTDS reads it when it connects).
      case "@@MAX_PRECISION":
        return { type: T.tinyint, value: 38 };
      // "@@SERVICENAME (Transact-SQL)": nvarchar(128), MSSQLSERVER for a default instance [unverified on MI].
      case "@@SERVICENAME":
        return { type: T.nvarchar(128), value: "MSSQLSERVER" };
      default:
        throw errors.mustDeclare(name);
    }
  }

  private call(name: string, args: Expr[], env: Env): Typed {
    const arity = (n: number): void => {
      if (args.length !== n) throw sqlError(174, `The ${name.toLowerCase()} function requires ${n} argument(s).`, 15);
    };
    switch (name) {
      case "SERVERPROPERTY": {
        arity(1);
        const prop = toText(this.eval(args[0]!, env).value).toLowerCase();
        // "SERVERPROPERTY (Transact-SQL)": sql_variant whose base type is the property's (int for EngineEdition,
        // nvarchar(128) for the names); it travels as SSVARIANTTYPE (MS-TDS 2.2.5.5.4), so clients see that base type.
        const values: Record<string, SqlValue> = {
          engineedition: this.s.engine.state.engineEdition,
          edition: "SQL Azure",
          productversion: "12.0.2000.8",
          servername: this.s.engine.serverName,
          machinename: this.s.engine.serverName.split(".")[0] ?? "",
          collation: "SQL_Latin1_General_CP1_CI_AS",
          isintegratedsecurityonly: 0,
          ishadrenabled: 1,
        };
        return { type: T.variant, value: values[prop] ?? null };
      }
      case "SUSER_SNAME":
      case "SUSER_NAME":
        if (args.length > 0) throw sqlError(174, `The ${name.toLowerCase()} function requires 0 argument(s).`, 15);
        return { type: T.nvarchar(128), value: this.s.principal.name };
      case "QUOTENAME": {
        if (args.length < 1 || args.length > 2) throw sqlError(174, "The quotename function requires 1 to 2 argument(s).", 15);
        const value = this.eval(args[0]!, env).value;
        const quote = args[1] ? toText(this.eval(args[1], env).value) : "[";
        const [open, close] = quote === "[" || quote === "]" ? ["[", "]"] : quote === '"' ? ['"', '"'] : quote === "'" ? ["'", "'"] : quote === "`" ? ["`", "`"] : [undefined, undefined];
        const text = value === null ? null : toText(value);
        // NULL for input longer than 128 characters or an unsupported quote, as documented.
        if (text === null || text.length > 128 || !open) return { type: T.nvarchar(258), value: null };
        return { type: T.nvarchar(258), value: `${open}${text.replaceAll(close, close + close)}${close}` };
      }
      case "SUSER_ID": {
        if (args.length > 1) throw sqlError(174, "The suser_id function requires 0 to 1 argument(s).", 15);
        const name = args[0] ? this.eval(args[0], env).value : this.s.principal.name;
        const login = name === null ? undefined : this.s.engine.findLogin(toText(name));
        return { type: T.int, value: login ? this.s.engine.principalId(login.name) : null };
      }
      // "DB_NAME (Transact-SQL)": nvarchar(128); the current database without an argument, NULL for an unknown id.
      case "DB_NAME": {
        if (args.length > 1) throw sqlError(174, "The db_name function requires 0 to 1 argument(s).", 15);
        if (!args[0]) return { type: T.nvarchar(128), value: this.s.database };
        const id = convert(this.eval(args[0], env), T.int).value;
        return { type: T.nvarchar(128), value: id === null ? null : (this.s.engine.databaseName(Number(id)) ?? null) };
      }
      case "HAS_PERMS_BY_NAME": {
        if (args.length < 3) throw sqlError(174, "The has_perms_by_name function requires 3 to 5 arguments.", 15);
        const securable = this.eval(args[0]!, env).value;
        const cls = this.eval(args[1]!, env).value;
        const perm = toText(this.eval(args[2]!, env).value).toUpperCase();
        if (securable !== null || (cls !== null && toText(cls).toUpperCase() !== "SERVER")) return { type: T.int, value: null };
        const known = ["ALTER ANY SERVER AUDIT", "CONTROL SERVER", "VIEW ANY DEFINITION", "VIEW SERVER STATE", "VIEW SERVER SECURITY STATE"];
        return { type: T.int, value: known.includes(perm) && this.s.engine.hasPermission(this.s.principal, perm as ServerPermission) ? 1 : 0 };
      }
      case "ISNULL": {
        arity(2);
        // A bare NULL has no type of its own; ISNULL(NULL, x) is x.
        if (args[0]!.kind === "literal" && args[0].value === null) return this.eval(args[1]!, env);
        const a = this.eval(args[0]!, env);
        return a.value !== null ? a : convert(this.eval(args[1]!, env), a.type);
      }
      case "COALESCE": {
        if (args.length < 2) throw sqlError(189, "The coalesce function requires 2 to 1 arguments.", 15);
        const vals = args.map((a) => this.eval(a, env));
        const first = vals.find((v) => v.value !== null);
        return first ?? { type: vals.find((v) => v.type.kind !== "int")?.type ?? vals[0]!.type, value: null };
      }
      case "GETUTCDATE":
      case "GETDATE":
        arity(0);
        return { type: T.datetime, value: this.s.engine.clock() };
      case "SYSUTCDATETIME":
        arity(0);
        return { type: T.datetime2, value: this.s.engine.clock() };
      case "UPPER":
      case "LOWER": {
        arity(1);
        const v = this.eval(args[0]!, env);
        return { type: T.nvarchar(4000), value: v.value === null ? null : name === "UPPER" ? toText(v.value).toUpperCase() : toText(v.value).toLowerCase() };
      }
      case "COUNT":
      case "COUNT_BIG":
      case "SUM":
      case "MIN":
      case "MAX":
      case "AVG":
        return this.aggregate(name, args, env);
      // "IS_SRVROLEMEMBER (Transact-SQL)": 1 member, 0 not, NULL for a role or login that is not valid.
      case "IS_SRVROLEMEMBER": {
        if (args.length < 1 || args.length > 2) throw sqlError(174, "The is_srvrolemember function requires 1 to 2 argument(s).", 15);
        const role = this.eval(args[0]!, env).value;
        const who = args[1] ? this.eval(args[1], env).value : this.s.principal.name;
        const login = who === null ? undefined : this.s.engine.findLogin(toText(who));
        if (role === null || !FIXED_SERVER_ROLES.has(toText(role).toLowerCase()) || !login) return { type: T.int, value: null };
        const r = toText(role).toLowerCase();
        return { type: T.int, value: r === "public" || (r === "sysadmin" && login.permissions.includes("sysadmin")) ? 1 : 0 };
      }
      // "DB_ID (Transact-SQL)": int; the current database without an argument, NULL for an unknown name.
      case "DB_ID": {
        if (args.length > 1) throw sqlError(174, "The db_id function requires 0 to 1 argument(s).", 15);
        const n = args[0] ? this.eval(args[0], env).value : this.s.database;
        return { type: T.int, value: n === null ? null : (this.s.engine.databaseId(toText(n)) ?? null) };
      }
      case "LEN": {
        arity(1);
        const v = this.eval(args[0]!, env);
        return { type: T.int, value: v.value === null ? null : toText(v.value).replace(/ +$/, "").length };
      }
      default:
        throw errors.unknownFunction(name.toLowerCase());
    }
  }

}

const AGGREGATES = new Set(["COUNT", "COUNT_BIG", "SUM", "MIN", "MAX", "AVG"]);

function children(e: Expr): Expr[] {
  switch (e.kind) {
    case "call":
      return e.args;
    case "cast":
    case "unary":
    case "isnull":
      return [e.expr];
    case "binary":
      return [e.left, e.right];
    case "in":
      return [e.expr, ...e.list];
    case "case":
      return [...(e.operand ? [e.operand] : []), ...e.whens.flatMap((w) => [w.when, w.then]), ...(e.else ? [e.else] : [])];
    default:
      return [];
  }
}

function containsAggregate(e: Expr): boolean {
  return (e.kind === "call" && AGGREGATES.has(e.name)) || children(e).some(containsAggregate);
}

const sameExpr = (a: Expr, b: Expr): boolean => JSON.stringify(a).toLowerCase() === JSON.stringify(b).toLowerCase();

/** 8120: outside an aggregate, a grouped query may only use the GROUP BY expressions. */
function checkGrouped(e: Expr, groupBy: readonly Expr[]): void {
  if (groupBy.some((g) => sameExpr(g, e))) return;
  if (e.kind === "call" && AGGREGATES.has(e.name)) return;
  if (e.kind === "column") {
    throw sqlError(8120, `Column '${e.qualifier ? `${e.qualifier}.` : ""}${e.name}' is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause.`, 16);
  }
  for (const c of children(e)) checkGrouped(c, groupBy);
}

/** Grouping and DISTINCT compare under the default case-insensitive collation. */
function groupKey(v: SqlValue): unknown {
  if (typeof v === "string") return v.replace(/ +$/, "").toLowerCase();
  if (v instanceof Date) return v.getTime();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (typeof v === "bigint") return v.toString();
  return v;
}

/** The fixed server roles ("Server-level roles"); on MI a login's `sysadmin` grant stands for membership. */
const FIXED_SERVER_ROLES = new Set(["sysadmin", "serveradmin", "securityadmin", "processadmin", "setupadmin", "bulkadmin", "diskadmin", "dbcreator", "public"]);

/** Data type precedence ("Data type precedence (Transact-SQL)") for the types this engine has; text widens to the longest. */
function resultType(types: SqlType[]): SqlType {
  const order = ["sql_variant", "datetime2", "datetime", "float", "bigint", "int", "smallint", "tinyint", "bit", "uniqueidentifier"];
  const ranked = types.filter((t) => order.includes(t.kind)).sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  if (ranked.length) return ranked[0]!;
  const texts = types.filter((t) => t.kind === "nvarchar" || t.kind === "varchar" || t.kind === "char");
  if (!texts.length) return types[0] ?? T.int;
  const lengths = texts.map((t) => ("length" in t ? t.length : 1));
  const length = lengths.includes("max") ? "max" : Math.max(...(lengths as number[]));
  return texts.some((t) => t.kind === "nvarchar") || length === "max" ? T.nvarchar(length) : { kind: "varchar", length: length };
}
