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
