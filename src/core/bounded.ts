// Array helpers for arrays whose length follows the input. Spreading an array into a call
// (push(...a), Math.max(...a)) puts every element on the stack: V8 throws "RangeError: Maximum call
// stack size exceeded" from about 120,000 elements (measured: a config with 130,000 Params keys).

/** Appends every item of `items` to `target`, without spreading them into one call. */
export function appendAll<T>(target: T[], items: readonly T[]): T[] {
  for (const item of items) target.push(item);
  return target;
}

/** Math.min over the values (NaN if any is NaN, as Math.min), or undefined when there are none. */
export function minOf(values: readonly number[]): number | undefined {
  return values.length ? values.reduce((a, b) => Math.min(a, b)) : undefined;
}

/** Math.max over the values (NaN if any is NaN, as Math.max), or undefined when there are none. */
export function maxOf(values: readonly number[]): number | undefined {
  return values.length ? values.reduce((a, b) => Math.max(a, b)) : undefined;
}

/** "a, b, c and 7 more": at most `shown` items of a list that can be as long as the input. */
export function someOf(items: readonly string[], shown = 3, separator = ', '): string {
  return items.length <= shown
    ? items.join(separator)
    : `${items.slice(0, shown).join(separator)} and ${items.length - shown} more`;
}

/** A text from elsewhere (an engine's error, a node's answer) cut to `max` characters: a summary line stays short. */
export function clip(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** How much of a value read from a file a message quotes: a host:port, a duration, a field name fit whole. */
export const QUOTED_MAX = 80;

/**
 * A value read from a file, as a message quotes it: clipped first, then JSON-quoted (a quote,
 * a control character or a lone surrogate escaped). Every value the committee and config
 * checks quote goes through here: a 20 MB address was echoed whole, one 20 MB line, and at
 * 250 MB keys verify took 2.8 GB and 22 s (hostile pass B2).
 */
export const quoted = (text: string, max = QUOTED_MAX): string => JSON.stringify(clip(text, max));
