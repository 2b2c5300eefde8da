// Issue 25 item 6: files read as gomel reads them. Every file of
// test/vectors/differential/ carries real gomel's verdict (consensus-go e8d0088, its own
// loaders run by the harness in that folder's README); gomelctl's core must agree, except
// where the manifest says gomelctl refuses on purpose, and why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './helpers.js';
import { checkConfigText, hasErrors } from '../src/core/config/check.js';
import { parseCommittee, parsePrivateKey } from '../src/core/keys/committee.js';

const DIR = path.join(REPO, 'test/vectors/differential');

interface Entry {
  file: string;
  kind: 'config' | 'committee' | 'member';
  class: string;
  gomel: 'accept' | 'refuse';
  error?: string;
  gomelctl?: 'refuse';
  reason?: string;
}

const manifest = JSON.parse(readFileSync(path.join(DIR, 'manifest.json'), 'utf8')) as {
  gomel: string;
  entries: Entry[];
};

/** gomelctl's verdict and its messages, from the core functions the commands call. */
function gomelctl(entry: Entry): { verdict: 'accept' | 'refuse'; messages: string[] } {
  const file = path.join(DIR, entry.file);
  // As src/fs reads a file: UTF-8, a BOM kept as U+FEFF.
  const text = readFileSync(file, 'utf8');
  if (entry.kind === 'config') {
    const errors = checkConfigText(text, undefined, 'config').problems.filter((p) => p.severity === 'error');
    return {
      verdict: hasErrors(errors) ? 'refuse' : 'accept',
      messages: errors.map((p) => `${entry.file}: ${p.path}: ${p.message} — ${p.fix}`),
    };
  }
  try {
    if (entry.kind === 'committee') parseCommittee(text, file);
    else parsePrivateKey(text, file);
    return { verdict: 'accept', messages: [] };
  } catch (e) {
    return { verdict: 'refuse', messages: [(e as Error).message] };
  }
}

test('the differential corpus covers every class the issue names', () => {
  const classes = new Set(manifest.entries.map((e) => e.class));
  for (const c of [
    'int (Go int64)',
    'uint16',
    'float32',
    'float64',
    'duration (timeout)',
    'Atoi (nIn/nOut)',
    'field-name case',
    'BOM',
    'host bytes',
    'IPv6',
  ])
    assert.ok(classes.has(c), c);
  assert.ok(manifest.entries.length >= 200);
  for (const e of manifest.entries)
    if (e.gomelctl) assert.match(e.reason ?? '', /^gomel accepts, gomelctl refuses on purpose: ./, e.file);
});

for (const entry of manifest.entries) {
  const expected = entry.gomelctl ?? entry.gomel;
  test(`${entry.file}: gomel ${entry.gomel}s${entry.gomelctl ? ', gomelctl refuses on purpose' : ''}`, () => {
    const { verdict, messages } = gomelctl(entry);
    assert.equal(
      verdict,
      expected,
      `${entry.file} (${entry.class}): gomel ${entry.gomel}s${entry.error ? ` (${entry.error})` : ''}, gomelctl ${verdict}s: ${messages.join(' | ')}`,
    );
    for (const m of messages) assert.ok(!m.includes('\n'), `one line: ${m}`);
  });
}

test('refusals of member files never quote their key material', () => {
  const key = readFileSync(path.join(REPO, 'keys/0.pk'), 'utf8').trim().split(' ');
  const pieces = key.slice(0, 2).flatMap((w) => Array.from({ length: w.length - 11 }, (_, i) => w.slice(i, i + 12)));
  for (const entry of manifest.entries.filter((e) => e.kind === 'member')) {
    for (const m of gomelctl(entry).messages) {
      assert.ok(m.includes(entry.file.split('/')[1]!), `names the file: ${m}`);
      for (const p of pieces) assert.ok(!m.includes(p), `${entry.file}: the error quotes key material`);
    }
  }
});

const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
};

test('A9/N29: a BOM before committee.ka or a .pk is refused in one line naming the file, the line and the fix', () => {
  const committee = readFileSync(path.join(DIR, 'committee/bom-line-2.ka'), 'utf8');
  assert.match(
    refusal(() => parseCommittee(committee, 'keys/committee.ka')),
    /^keys\/committee\.ka:2: starts with a UTF-8 byte-order mark .* — remove the BOM/,
  );
  const member = readFileSync(path.join(DIR, 'member/bom.pk'), 'utf8');
  const message = refusal(() => parsePrivateKey(member, 'keys/0.pk'));
  assert.match(message, /^keys\/0\.pk:1: starts with a UTF-8 byte-order mark .* — remove the BOM/);
  assert.ok(!message.includes(member.slice(1, 13)));
});

test('N44: bracketed IPv6 host:port is accepted; unbracketed is refused with the bracket fix', () => {
  const members = parseCommittee(readFileSync(path.join(DIR, 'committee/ipv6-bracketed.ka'), 'utf8'), 'committee.ka');
  assert.equal(members[0]!.addresses[0], '[::1]:9001');
  assert.match(
    refusal(() =>
      parseCommittee(readFileSync(path.join(DIR, 'committee/ipv6-unbracketed.ka'), 'utf8'), 'committee.ka'),
    ),
    /^committee\.ka:1: address "::1:9000" is not host:port \(too many colons \(an IPv6 address goes in brackets/,
  );
});

test('N43: a NUL or non-ASCII byte in a host is refused, as gomel fails to resolve it; the message stays one printable line', () => {
  for (const name of ['host-nul', 'host-non-ascii']) {
    const message = refusal(() =>
      parseCommittee(readFileSync(path.join(DIR, `committee/${name}.ka`), 'utf8'), 'committee.ka'),
    );
    assert.match(
      message,
      /^committee\.ka:1: address ".*": host ".*" is neither an IP address nor a name Go's resolver looks up/,
      name,
    );
    assert.ok(!/[\u0000-\u001f]/.test(message), name);
  }
});
