import { errors } from "./errors.js";

export type TokenKind = "word" | "qident" | "string" | "number" | "var" | "sysvar" | "punct" | "eof";

export interface Token {
  kind: TokenKind;
  /** Words upper-cased in `upper`; quoted identifiers and strings carry their unescaped value in `value`. */
  value: string;
  upper: string;
  /** The source text of the token, as error messages quote it. */
  text: string;
  national?: boolean;
  start: number;
  end: number;
  line: number;
}

/** T-SQL reserved keywords: a syntax error at one of these is 156, elsewhere 102. */
export const reservedKeywords = new Set(
  (
    "ADD ALL ALTER AND ANY AS ASC AUTHORIZATION BACKUP BEGIN BETWEEN BREAK BROWSE BULK BY CASCADE CASE CHECK CHECKPOINT " +
    "CLOSE CLUSTERED COALESCE COLLATE COLUMN COMMIT COMPUTE CONSTRAINT CONTAINS CONTAINSTABLE CONTINUE CONVERT CREATE " +
    "CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURSOR DATABASE DBCC DEALLOCATE DECLARE " +
    "DEFAULT DELETE DENY DESC DISK DISTINCT DISTRIBUTED DOUBLE DROP DUMP ELSE END ERRLVL ESCAPE EXCEPT EXEC EXECUTE " +
    "EXISTS EXIT EXTERNAL FETCH FILE FILLFACTOR FOR FOREIGN FREETEXT FREETEXTTABLE FROM FULL FUNCTION GOTO GRANT GROUP " +
    "HAVING HOLDLOCK IDENTITY IDENTITY_INSERT IDENTITYCOL IF IN INDEX INNER INSERT INTERSECT INTO IS JOIN KEY KILL LEFT " +
    "LIKE LINENO LOAD MERGE NATIONAL NOCHECK NONCLUSTERED NOT NULL NULLIF OF OFF OFFSETS ON OPEN OPENDATASOURCE OPENQUERY " +
    "OPENROWSET OPENXML OPTION OR ORDER OUTER OVER PERCENT PIVOT PLAN PRECISION PRIMARY PRINT PROC PROCEDURE PUBLIC " +
    "RAISERROR READ READTEXT RECONFIGURE REFERENCES REPLICATION RESTORE RESTRICT RETURN REVERT REVOKE RIGHT ROLLBACK " +
    "ROWCOUNT ROWGUIDCOL RULE SAVE SCHEMA SECURITYAUDIT SELECT SEMANTICKEYPHRASETABLE SESSION_USER SET SETUSER SHUTDOWN " +
    "SOME STATISTICS SYSTEM_USER TABLE TABLESAMPLE TEXTSIZE THEN TO TOP TRAN TRANSACTION TRIGGER TRUNCATE TRY_CONVERT " +
    "TSEQUAL UNION UNIQUE UNPIVOT UPDATE UPDATETEXT USE USER VALUES VARYING VIEW WAITFOR WHEN WHERE WHILE WITH " +
    "WITHIN WRITETEXT"
  ).split(" "),
);

const punctuation = ["<>", "!=", "<=", ">=", "(", ")", ",", ".", ";", "=", "<", ">", "*", "+", "-", "/", "%"];

function isWordStart(c: string): boolean {
  return /[A-Za-z_#\u00C0-\uFFFF]/.test(c);
}
function isWordPart(c: string): boolean {
  return /[A-Za-z0-9_#$@\u00C0-\uFFFF]/.test(c);
}

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const push = (kind: TokenKind, value: string, start: number, extra: Partial<Token> = {}): void => {
    tokens.push({ kind, value, upper: value.toUpperCase(), text: sql.slice(start, i), start, end: i, line, ...extra });
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "\n") {
      line++;
      i++;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && sql[i + 1] === "*") {
      // T-SQL block comments nest.
      let depth = 0;
      const startLine = line;
      while (i < sql.length) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
          if (depth === 0) break;
        } else {
          if (sql[i] === "\n") line++;
          i++;
        }
      }
      if (depth > 0) throw errors.syntax("*", startLine);
      continue;
    }
    const start = i;
    if (c === "'" || ((c === "N" || c === "n") && sql[i + 1] === "'")) {
      const national = c !== "'";
      i += national ? 2 : 1;
      let value = "";
      for (;;) {
        if (i >= sql.length) throw errors.unclosedQuote(value, line);
        const ch = sql[i]!;
        if (ch === "'") {
          if (sql[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (ch === "\n") line++;
        value += ch;
        i++;
      }
      push("string", value, start, { national });
      continue;
    }
    if (c === "[" || c === '"') {
      const close = c === "[" ? "]" : '"';
      i++;
      let value = "";
      for (;;) {
        if (i >= sql.length) throw errors.unclosedIdentifier(value, line);
        const ch = sql[i]!;
        if (ch === close) {
          if (sql[i + 1] === close) {
            value += close;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (ch === "\n") line++;
        value += ch;
        i++;
      }
      push("qident", value, start);
      continue;
    }
    if (c === "@") {
      const sys = sql[i + 1] === "@";
      i += sys ? 2 : 1;
      while (i < sql.length && isWordPart(sql[i]!)) i++;
      const text = sql.slice(start, i);
      if (text.length === (sys ? 2 : 1)) throw errors.syntax("@", line);
      push(sys ? "sysvar" : "var", text, start);
      continue;
    }
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(sql[i + 1] ?? ""))) {
      while (i < sql.length && /[0-9.]/.test(sql[i]!)) i++;
      if (/[eE]/.test(sql[i] ?? "") && /[-+0-9]/.test(sql[i + 1] ?? "")) {
        i += 2;
        while (i < sql.length && /[0-9]/.test(sql[i]!)) i++;
      }
      push("number", sql.slice(start, i), start);
      continue;
    }
    if (isWordStart(c)) {
      while (i < sql.length && isWordPart(sql[i]!)) i++;
      push("word", sql.slice(start, i), start);
      continue;
    }
    const p = punctuation.find((op) => sql.startsWith(op, i));
    if (!p) {
      i++;
      throw errors.syntax(c, line);
    }
    i += p.length;
    push("punct", p, start);
  }
  tokens.push({ kind: "eof", value: "", upper: "", text: "", start: sql.length, end: sql.length, line });
  return tokens;
}
