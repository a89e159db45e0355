/** Fuzz and fault tests draw from the emulator's seeded PRNG, so a failure names its seed. */
export { mulberry32 } from "../../emulator/faults/prng.js";

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

const ALPHABET = ["a", "Z", "0", " ", "]", "[", "'", '"', ";", "-", "\n", "\u0000", "\u202e", "é", "漢", "%", "&", "=", ",", "\\", "/", ":", "{", "}", "$", "`", "\t", "#", "?"];

export function randomString(random: () => number, max = 40): string {
  const length = Math.floor(random() * max);
  let out = "";
  for (let i = 0; i < length; i++) out += pick(random, ALPHABET);
  return out;
}

/** Flips, deletes, duplicates or inserts characters of a valid text. */
export function mutate(random: () => number, text: string, edits = 3): string {
  let out = text;
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (out.length + 1));
    const kind = Math.floor(random() * 4);
    if (kind === 0) out = out.slice(0, at) + pick(random, ALPHABET) + out.slice(at + 1);
    else if (kind === 1) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 5));
    else if (kind === 2) out = out.slice(0, at) + out.slice(at, at + 8) + out.slice(at);
    else out = out.slice(0, at) + randomString(random, 6) + out.slice(at);
  }
  return out;
}
