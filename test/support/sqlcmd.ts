// What sqlcmd does to a script before the server sees it, so a test can run our .sql files as an operator would:
// $(Var) substitution from -v (an undefined variable stops the run, as sqlcmd's "scripting variable not defined"),
// :setvar and :on error lines consumed by the client, and GO splitting batches.
export function sqlcmdBatches(script: string, variables: Record<string, string>): string[] {
  const vars = new Map(Object.entries(variables).map(([k, v]) => [k.toLowerCase(), v]));
  const batches: string[] = [];
  let current: string[] = [];
  for (const line of script.split(/\r?\n/)) {
    const command = /^\s*:(\w+)\s*(.*)$/.exec(line);
    if (command) {
      const [, name, rest] = command;
      if (name!.toLowerCase() === "setvar") {
        const m = /^(\w+)\s+"(.*)"\s*$/.exec(rest!);
        if (!m) throw new Error(`sqlcmd: bad :setvar ${rest}`);
        vars.set(m[1]!.toLowerCase(), m[2]!);
      } else if (!(name!.toLowerCase() === "on" && /^error\s+(exit|ignore)$/i.test(rest!))) throw new Error(`sqlcmd: unsupported command :${name}`);
      continue;
    }
    if (/^\s*GO\s*$/i.test(line)) {
      batches.push(current.join("\n"));
      current = [];
      continue;
    }
    current.push(
      line.replace(/\$\((\w+)\)/g, (_, name: string) => {
        const value = vars.get(name.toLowerCase());
        if (value === undefined) throw new Error(`sqlcmd: '${name}' scripting variable not defined.`);
        return value;
      }),
    );
  }
  if (current.some((l) => l.trim() !== "")) batches.push(current.join("\n"));
  return batches;
}
