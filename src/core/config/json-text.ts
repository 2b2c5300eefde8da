// A small JSON parser that remembers where things are. JSON.parse cannot say
// the line and column of an error on Node 20, nor where a value sits in the
// text, and `config sync` must edit a value without reformatting the file
// (the shipped configs write `0.0`, which JSON.stringify would turn into `0`).

import { setOwnField } from '../json-input.js';

export class JsonSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Span {
  start: number;
  end: number;
}

export interface ParsedJson {
  value: unknown;
  /** Text span of each member value of the top-level object. */
  topLevel: Map<string, Span>;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

export function parseJson(text: string): ParsedJson {
  let pos = 0;
  const topLevel = new Map<string, Span>();

  const fail = (message: string): never => {
    const { line, column } = lineColumn(text, pos);
    throw new JsonSyntaxError(line, column, message);
  };
  const skipSpace = () => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos]!)) pos++;
  };
  const describe = () => (pos >= text.length ? 'end of file' : `"${text[pos]}"`);
  const expect = (ch: string) => {
    skipSpace();
    if (text[pos] !== ch) fail(`expected "${ch}" but found ${describe()}`);
    pos++;
  };

  const parseString = (): string => {
    const start = pos;
    pos++; // opening quote
    while (pos < text.length && text[pos] !== '"') {
      if (text[pos] === '\\') pos++;
      else if (text.charCodeAt(pos) < 0x20) fail('control character in string');
      pos++;
    }
    if (pos >= text.length) fail('unterminated string');
    pos++;
    try {
      return JSON.parse(text.slice(start, pos)) as string;
    } catch {
      pos = start;
      return fail('invalid escape in string');
    }
  };

  const parseValue = (depth: number): unknown => {
    // gomel's config is three levels deep; a deeply nested file is not one (and would exhaust the stack).
    if (depth > 64) fail('nested more than 64 levels deep');
    skipSpace();
    const ch = text[pos];
    if (ch === '{') {
      pos++;
      const obj: Record<string, unknown> = {};
      skipSpace();
      if (text[pos] === '}') {
        pos++;
        return obj;
      }
      for (;;) {
        skipSpace();
        if (text[pos] !== '"') fail(`expected a field name in quotes but found ${describe()}`);
        const key = parseString();
        expect(':');
        skipSpace();
        const start = pos;
        const value = parseValue(depth + 1);
        if (depth === 0) topLevel.set(key, { start, end: pos });
        setOwnField(obj, key, value);
        skipSpace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return obj;
        }
        fail(`expected "," or "}" but found ${describe()}`);
      }
    }
    if (ch === '[') {
      pos++;
      const arr: unknown[] = [];
      skipSpace();
      if (text[pos] === ']') {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue(depth + 1));
        skipSpace();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return arr;
        }
        fail(`expected "," or "]" but found ${describe()}`);
      }
    }
    if (ch === '"') return parseString();
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(pos, pos + 400));
    if (!literal) return fail(`unexpected ${describe()}`);
    pos += literal[0].length;
    return JSON.parse(literal[0]) as unknown;
  };

  const value = parseValue(0);
  skipSpace();
  if (pos < text.length) fail(`unexpected ${describe()} after the end of the JSON value`);
  return { value, topLevel };
}

/** Replaces the text of top-level member values, leaving every other byte as it was. */
export function replaceTopLevel(text: string, spans: Map<string, Span>, replacements: Record<string, string>): string {
  const edits = Object.entries(replacements)
    .map(([key, raw]) => ({ span: spans.get(key), raw }))
    .filter((e): e is { span: Span; raw: string } => e.span !== undefined)
    .sort((a, b) => b.span.start - a.span.start);
  let out = text;
  for (const { span, raw } of edits) out = out.slice(0, span.start) + raw + out.slice(span.end);
  return out;
}
