import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalPredicate, filterAllowed, InvalidPredicateError, samePredicate } from "../../src/core/sql-text/predicate.js";

// The WHERE grammar of "CREATE SERVER AUDIT (Transact-SQL)": [NOT] factor { AND | OR } [NOT] factor, a factor being
// event_field_name { = | <> | != | > | >= | < | <= | LIKE } { number | 'string' }; and the extended auditing
// reference's own example, "statement not like '[select ]%'".
test("filters that say the same compare equal, whatever brackets, parentheses and prefixes the engine adds", () => {
  assert.ok(samePredicate("server_principal_name <> 'mallory'", "([server_principal_name]<>N'mallory')"));
  assert.ok(samePredicate("database_name = 'sales' AND succeeded = 1", "(([database_name]=N'sales') AND ([succeeded]=(1)))"));
  assert.ok(samePredicate("SERVER_PRINCIPAL_NAME != 'x'", "server_principal_name <> 'x'"));
  assert.ok(samePredicate("statement not like '[select ]%'", "[statement] NOT LIKE N'[select ]%'"));
  assert.ok(!samePredicate("server_principal_name <> 'mallory'", "server_principal_name <> 'Mallory'"), "string contents keep their case");
  assert.ok(!samePredicate("a = 1 OR b = 2 AND c = 3", "(a = 1 OR b = 2) AND c = 3"), "grouping is meaning");
});

test("anything outside the grammar is refused, so it can never be spliced into T-SQL", () => {
  for (const bad of ["server_principal_name <> 'x'; DROP SERVER AUDIT [a]", "x = 1 -- comment", "x = 1 /* c */", "x = f(1)", "x = ", "= 1", "", "x LIKE 5", "x = 'a' OR", "(x = 1"]) {
    assert.throws(() => canonicalPredicate(bad), InvalidPredicateError, bad);
  }
});

test("no filter passes only when none is allowed; a filter passes only when it is the allowed one", () => {
  assert.equal(filterAllowed(null, undefined), true);
  assert.equal(filterAllowed("", undefined), true);
  assert.equal(filterAllowed("x = 1", undefined), false);
  assert.equal(filterAllowed(null, "x = 1"), false);
  assert.equal(filterAllowed("([x]=(1))", "x = 1"), true);
  assert.equal(filterAllowed("some text the parser refuses", "x = 1"), false, "a filter that cannot be read is never the allowed one");
});
