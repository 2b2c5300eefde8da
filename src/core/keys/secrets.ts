// What a committee's secrets look like, so that no reader but theirs ever parses one
// (issue 25, mechanism 9): a parser's error may quote what it read, and a key file or
// the seed passed to another option (--faults keys/3.pk) must not reach such a message.

/** File names that hold a committee's secrets inside a keys folder: `seed` and `<pid>.pk` (also `07.pk`). */
export function isSecretName(name: string): boolean {
  return name === 'seed' || /^\d+\.pk$/.test(name);
}

const WORDS = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
const BASE64 = /^[A-Za-z0-9+/]{16,}={0,2}$/;

/**
 * Which secret `text` looks like, if any: a committee seed (64 hex digits) or a gomel
 * member file (a signing key and an RMC secret in base64, then a pid). Only the shape
 * is judged; nothing of the text is returned.
 */
export function secretShape(text: string): 'seed' | 'member file' | undefined {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return 'seed';
  const words = trimmed.split(WORDS).filter((w) => w !== '');
  if (words.length >= 2 && words.length <= 3 && BASE64.test(words[0]!) && BASE64.test(words[1]!)) return 'member file';
  return undefined;
}

/** Base64 (gomel's keys) or hex (a seed) text, with its padding. */
const KEYISH_RUN = /[A-Za-z0-9+/]+={0,2}/g;
/** How many characters in a row of a secret make a leak (test/safety-keys.test.ts judges so too). */
const LEAK_WINDOW = 8;

/**
 * The runs of `value` (a flag's value, an argument) shaped like key material: gomel's
 * keys are padded base64 (64 and 32 bytes: 88 and 44 characters ending in "==" and
 * "="), a seed is 64 hex digits, and 40 or more base64 characters mixing upper and lower
 * case and digits may be part of one. A path (starting with "/") or an image digest
 * (after "sha256:") is none.
 */
export function keyMaterialRuns(value: string): string[] {
  const found: string[] = [];
  for (const m of value.matchAll(KEYISH_RUN)) {
    const run = m[0];
    if (value.slice(0, m.index).endsWith('sha256:')) continue;
    const padded = run.length >= 24 && run.endsWith('=');
    const hex = /^[0-9a-fA-F]{64,}$/.test(run);
    const mixed =
      run.length >= 40 && !run.startsWith('/') && /[a-z]/.test(run) && /[A-Z]/.test(run) && /[0-9]/.test(run);
    if (padded || hex || mixed) found.push(run);
  }
  return found;
}

/** The characters of a key-shaped run (KEYISH_RUN), each a digit of a window's code. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=';
const DIGITS = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGITS[ALPHABET.charCodeAt(i)] = i;
/** The weight of a window's first character: a code is LEAK_WINDOW digits in base 65, exact below 2^53 (65^8 ≈ 3.2e14). */
const FIRST = ALPHABET.length ** (LEAK_WINDOW - 1);

/**
 * Calls `each` with the code of every LEAK_WINDOW characters in a row of `text` that are all of
 * ALPHABET, in one pass (a rolling code), until `each` says true; true if it did.
 */
function someWindow(text: string, each: (code: number) => boolean): boolean {
  let code = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const digit = c < 128 ? DIGITS[c]! : -1;
    if (digit < 0) {
      run = 0;
      code = 0;
      continue;
    }
    code = (code % FIRST) * ALPHABET.length + digit;
    if (++run >= LEAK_WINDOW && each(code)) return true;
  }
  return false;
}

/**
 * Every window of `secrets` as its code, sorted, 8 bytes each: 65535 members' keys hold 7.7 M
 * windows, which a Set of strings took 6.9 s and 458 MB to hold (a Set of numbers 10 s and
 * 301 MB), and this 1.2-1.8 s (mostly the sort) and 71 MB, on this shared 2-core machine.
 */
function windowTable(secrets: readonly string[]): Float64Array {
  const table = new Float64Array(secrets.reduce((n, s) => n + Math.max(0, s.length - LEAK_WINDOW + 1), 0));
  let filled = 0;
  for (const secret of secrets) someWindow(secret, (code) => ((table[filled++] = code), false));
  return table.subarray(0, filled).sort();
}

function holds(table: Float64Array, code: number): boolean {
  let low = 0;
  let high = table.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const at = table[middle]!;
    if (at === code) return true;
    if (at < code) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

/**
 * Redacts, in text about to be printed, every run of base64 or hex that shares
 * LEAK_WINDOW characters in a row with one of `secrets`: whatever quotes a value
 * handed to gomelctl (its own errors, commander's, a JSON echo) or a key of the keys
 * folder (secretWords), whole or in part, shows only `3yZ…(redacted, 120 chars)`.
 * Each text is read once, each window of it looked up in the table of the secrets' windows.
 */
export function keyRedactor(secrets: readonly string[]): (text: string) => string {
  const table = windowTable(secrets);
  if (table.length === 0) return (text) => text;
  const leaks = (run: string) => someWindow(run, (code) => holds(table, code));
  return (text) =>
    text.replace(KEYISH_RUN, (run) => (leaks(run) ? `${run.slice(0, 3)}…(redacted, ${run.length} chars)` : run));
}

/**
 * What of a secret file's text (a member file: its signing key and RMC secret; a seed) a
 * printed line must never hold: its words, as gomel reads them, long enough to leak (the pid is not).
 */
export function secretWords(text: string): string[] {
  return text
    .replace(/^\uFEFF/, '')
    .split(WORDS)
    .filter((word) => word.length >= LEAK_WINDOW);
}

/**
 * Text from outside (a node's stderr, a task's error) with every key-shaped run redacted
 * (keyMaterialRuns): a payload that prints its key must not have the verdict print it again.
 */
export const redactKeyMaterial = (text: string): string => keyRedactor(keyMaterialRuns(text))(text);
