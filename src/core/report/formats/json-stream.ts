/**
 * Streams a JSON document laid out exactly as JSON.stringify(value, null, 2) would: the document is a skeleton
 * whose streamed arrays are placeholders, and each array's items are written one at a time at the placeholder's
 * depth. The result is byte-for-byte the same as stringifying the whole value, without holding the whole value.
 */
const HOLE = "\u0000auditguard-stream\u0000";

/** The placeholder to put where a streamed array goes in the skeleton. */
export const STREAMED = HOLE;

export interface JsonFrame {
  /** The text around the placeholders: pieces.length is one more than the number of placeholders. */
  pieces: string[];
  /** The indentation of each placeholder's line. */
  indents: string[];
}

export function jsonFrame(skeleton: unknown): JsonFrame {
  const pieces = JSON.stringify(skeleton, null, 2).split(JSON.stringify(HOLE));
  const indents = pieces.slice(0, -1).map((piece) => /(?:^|\n)( *)[^\n]*$/.exec(piece)![1]!);
  return { pieces, indents };
}

/** One streamed array: `[`, then each item, then `]`, as JSON.stringify lays it out at that depth. */
export class JsonArrayWriter {
  private count = 0;
  constructor(private readonly indent: string) {}

  item(value: unknown): string {
    const inner = `${this.indent}  `;
    const text = JSON.stringify(value, null, 2).replace(/\n/g, `\n${inner}`);
    return `${this.count++ === 0 ? "[" : ","}\n${inner}${text}`;
  }

  close(): string {
    return this.count === 0 ? "[]" : `\n${this.indent}]`;
  }
}
