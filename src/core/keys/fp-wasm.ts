// GF(p) and GF(p²) arithmetic for BN256 in WebAssembly (issue 14): Montgomery
// multiplication on eight 32-bit limbs is several times faster than bigint's
// `%`, which allocates and divides. The module is generated here, from the
// prime, by a small emitter; nothing is compiled at build time and no binary
// is in the repository.
//
// Elements live in the module's memory, at byte offsets the caller chooses:
// an element of GF(p) is 8 little-endian u32 limbs (32 bytes), in Montgomery
// form x·2²⁵⁶ mod p, always fully reduced (< p); an element of GF(p²) = GF(p)[i]/(i²+1)
// is its real part then its imaginary part (64 bytes). Every operation reads
// its inputs before it writes its output, so the output may alias an input.
// Offsets below SCRATCH_END are the operations' own scratch.
import { P } from './bn256.js';
import { EnvironmentError } from '../errors.js';

const LIMBS = 8;
const MASK = 0xffffffffn;
const R = 1n << 256n;
/** Bytes of one GF(p) element, and of one GF(p²) element. */
export const FP_BYTES = 32;
export const FP2_BYTES = 64;
/** The operations' scratch space: the caller's elements start here. */
export const SCRATCH_END = 256;

const limbsOf = (x: bigint): bigint[] => Array.from({ length: LIMBS }, (_, j) => (x >> BigInt(32 * j)) & MASK);
const P_LIMBS = limbsOf(P);
/** −p⁻¹ mod 2³²: the Montgomery reduction's multiplier. */
const P_INV = (() => {
  let inv = 1n; // Newton: each step doubles the correct low bits of p⁻¹ mod 2³²
  for (let i = 0; i < 5; i++) inv = (inv * (2n - P * inv)) & MASK;
  return -inv & MASK;
})();

// ---- A minimal WebAssembly emitter: just what the field needs.
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
};
const sleb = (v: bigint): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const I32 = 0x7f;
const I64 = 0x7e;
/** Opcodes used, from the WebAssembly Core Specification 1.0, §5.4 "Instructions". */
const OP = {
  end: 0x0b,
  call: 0x10,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i64Load32U: 0x35,
  i64Store32: 0x3e,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Add: 0x6a,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64And: 0x83,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
} as const;
/** memarg of a 32-bit access: alignment 2² (then the offset). */
const ALIGN_4 = 2;

/** Function-body instructions, with i64 locals addressed by name. */
class Body {
  readonly code: number[] = [];
  private readonly locals = new Map<string, number>();
  constructor(private readonly params: number) {}
  private local(name: string): number {
    let index = this.locals.get(name);
    if (index === undefined) this.locals.set(name, (index = this.params + this.locals.size));
    return index;
  }
  get(name: string | number): this {
    this.code.push(OP.localGet, ...uleb(typeof name === 'number' ? name : this.local(name)));
    return this;
  }
  set(name: string): this {
    this.code.push(OP.localSet, ...uleb(this.local(name)));
    return this;
  }
  tee(name: string): this {
    this.code.push(OP.localTee, ...uleb(this.local(name)));
    return this;
  }
  i64(v: bigint): this {
    this.code.push(OP.i64Const, ...sleb(BigInt.asIntN(64, v)));
    return this;
  }
  i32(v: number): this {
    this.code.push(OP.i32Const, ...sleb(BigInt(v)));
    return this;
  }
  /** i64.load32_u of limb j of the element at the address in param `param`. */
  loadLimb(param: number, j: number): this {
    this.get(param).code.push(OP.i64Load32U, ALIGN_4, ...uleb(4 * j));
    return this;
  }
  /** i64.store32 of the i64 on the stack into limb j at the address in param `param` (the value is pushed by `value`). */
  storeLimb(param: number, j: number, value: () => void): this {
    this.get(param);
    value();
    this.code.push(OP.i64Store32, ALIGN_4, ...uleb(4 * j));
    return this;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  add = () => this.op(OP.i64Add);
  sub = () => this.op(OP.i64Sub);
  mul = () => this.op(OP.i64Mul);
  and = () => this.op(OP.i64And);
  shr = () => this.op(OP.i64ShrU);
  call(index: number, ...args: (() => void)[]): this {
    for (const arg of args) arg();
    this.code.push(OP.call, ...uleb(index));
    return this;
  }
  /** The function: its i64 locals declared, then the code. */
  encode(): number[] {
    const body = [...vec(this.locals.size ? [[...uleb(this.locals.size), I64]] : []), ...this.code, OP.end];
    return [...uleb(body.length), ...body];
  }
}

/** value & 0xffffffff, value >> 32 into `carry`: splits the i64 on the stack. */
function split(b: Body, low: string, carry: string): void {
  b.tee('tmp').i64(32n).shr().set(carry).get('tmp').i64(MASK).and().set(low);
}

/**
 * r = t − p if t ≥ p, else t; t is limbs t0..t7 with a carry word t8 ≤ 1 (t < 2p).
 * Computes u = t − p with its borrow and stores the right one of the two, limb by limb.
 */
function reduceOnceAndStore(b: Body, r: number): void {
  b.i64(0n).set('borrow');
  for (let j = 0; j < LIMBS; j++) {
    b.get(`t${j}`).i64(P_LIMBS[j]!).sub().get('borrow').sub().tee('d').i64(63n).shr().set('borrow');
    b.get('d').i64(MASK).and().set(`u${j}`);
  }
  // keep t when t8 − borrow < 0 (that is, t < p)
  b.get('t8').get('borrow').sub().i64(63n).shr().set('keep');
  for (let j = 0; j < LIMBS; j++) {
    b.storeLimb(r, j, () => b.get(`t${j}`).get(`u${j}`).get('keep').op(OP.i32WrapI64, OP.select)); // keep ? t : u
  }
}

/** r = a·b·2⁻²⁵⁶ mod p (CIOS Montgomery multiplication, Koç et al. 1996), unrolled. */
function fpMul(): Body {
  const b = new Body(3); // r, a, b
  for (let j = 0; j < LIMBS; j++) b.loadLimb(1, j).set(`a${j}`);
  for (let j = 0; j <= LIMBS + 1; j++) b.i64(0n).set(`t${j}`);
  for (let i = 0; i < LIMBS; i++) {
    b.loadLimb(2, i).set('bi');
    b.i64(0n).set('c');
    for (let j = 0; j < LIMBS; j++) {
      // (c, t_j) = t_j + a_j·b_i + c  (at most 2⁶⁴ − 1)
      b.get(`t${j}`).get(`a${j}`).get('bi').mul().add().get('c').add();
      split(b, `t${j}`, 'c');
    }
    b.get('t8').get('c').add();
    split(b, 't8', 't9');
    // m = t0·(−p⁻¹) mod 2³²; t = (t + m·p) / 2³²
    b.get('t0').i64(P_INV).mul().i64(MASK).and().set('m');
    b.get('t0').get('m').i64(P_LIMBS[0]!).mul().add().i64(32n).shr().set('c');
    for (let j = 1; j < LIMBS; j++) {
      b.get(`t${j}`).get('m').i64(P_LIMBS[j]!).mul().add().get('c').add();
      split(b, `t${j - 1}`, 'c');
    }
    b.get('t8').get('c').add();
    split(b, 't7', 'c');
    b.get('t9').get('c').add().set('t8');
  }
  reduceOnceAndStore(b, 0);
  return b;
}

/** r = a + b mod p. */
function fpAdd(): Body {
  const b = new Body(3);
  b.i64(0n).set('c');
  for (let j = 0; j < LIMBS; j++) {
    b.loadLimb(1, j).loadLimb(2, j).add().get('c').add();
    split(b, `t${j}`, 'c');
  }
  b.get('c').set('t8');
  reduceOnceAndStore(b, 0);
  return b;
}

/** r = a − b mod p: a − b, plus p when that borrowed. */
function fpSub(): Body {
  const b = new Body(3);
  b.i64(0n).set('borrow');
  for (let j = 0; j < LIMBS; j++) {
    b.loadLimb(1, j).loadLimb(2, j).sub().get('borrow').sub().tee('d').i64(63n).shr().set('borrow');
    b.get('d').i64(MASK).and().set(`t${j}`);
  }
  b.i64(0n).set('c');
  for (let j = 0; j < LIMBS; j++) {
    // t_j + p_j·borrow + c, stored mod 2³²
    b.get(`t${j}`).i64(P_LIMBS[j]!).get('borrow').mul().add().get('c').add();
    split(b, `t${j}`, 'c');
    b.storeLimb(0, j, () => b.get(`t${j}`));
  }
  return b;
}

// Function indices, in the order of FUNCTIONS below.
const MUL = 0;
const ADD = 1;
const SUB = 2;

/** Calls fp op(r, a, b) with addresses computed from the params (r, a, b) of a GF(p²) op. */
function fp2Body(build: (call: (op: number, r: Addr, x: Addr, y: Addr) => void) => void): Body {
  const b = new Body(3);
  const address = (a: Addr) => () => {
    if (a.scratch !== undefined) b.i32(a.scratch * FP_BYTES);
    else if (a.imag) b.get(a.param!).i32(FP_BYTES).op(OP.i32Add);
    else b.get(a.param!);
  };
  build((op, r, x, y) => b.call(op, address(r), address(x), address(y)));
  return b;
}
/** An operand of GF(p): half of a GF(p²) param of the op, or scratch element k (below SCRATCH_END). */
interface Addr {
  param?: number;
  imag?: boolean;
  scratch?: number;
}
const re = (param: number): Addr => ({ param });
const im = (param: number): Addr => ({ param, imag: true });
const s = (k: number): Addr => ({ scratch: k });

/** r = a·b: (a0b0 − a1b1) + ((a0 + a1)(b0 + b1) − a0b0 − a1b1)·i. */
const fp2Mul = () =>
  fp2Body((call) => {
    call(ADD, s(0), re(1), im(1));
    call(ADD, s(1), re(2), im(2));
    call(MUL, s(2), re(1), re(2));
    call(MUL, s(3), im(1), im(2));
    call(MUL, s(4), s(0), s(1));
    call(SUB, re(0), s(2), s(3));
    call(SUB, s(4), s(4), s(2));
    call(SUB, im(0), s(4), s(3));
  });

/** r = a²: (a0 + a1)(a0 − a1) + 2a0a1·i. */
const fp2Sqr = () =>
  fp2Body((call) => {
    call(ADD, s(0), re(1), im(1));
    call(SUB, s(1), re(1), im(1));
    call(MUL, s(2), re(1), im(1));
    call(MUL, re(0), s(0), s(1));
    call(ADD, im(0), s(2), s(2));
  });

const fp2Add = () =>
  fp2Body((call) => {
    call(ADD, re(0), re(1), re(2));
    call(ADD, im(0), im(1), im(2));
  });

const fp2Sub = () =>
  fp2Body((call) => {
    call(SUB, re(0), re(1), re(2));
    call(SUB, im(0), im(1), im(2));
  });

const FUNCTIONS: [string, () => Body][] = [
  ['mul', fpMul],
  ['add', fpAdd],
  ['sub', fpSub],
  ['mul2', fp2Mul],
  ['sqr2', fp2Sqr],
  ['add2', fp2Add],
  ['sub2', fp2Sub],
];

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const type = section(1, vec([[0x60, ...vec([[I32], [I32], [I32]]), 0]])); // (i32, i32, i32) → ()
  const functions = section(3, vec(FUNCTIONS.map(() => [0])));
  const memory = section(5, vec([[0x00, 1]])); // one 64 KiB page to start; the caller grows it
  const name = (text: string) => vec([...new TextEncoder().encode(text)].map((c) => [c]));
  const exports = section(
    7,
    vec([[...name('memory'), 0x02, 0], ...FUNCTIONS.map(([n], i) => [...name(n), 0x00, ...uleb(i)])]),
  );
  const code = section(10, vec(FUNCTIONS.map(([, build]) => build().encode())));
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...type,
    ...functions,
    ...memory,
    ...exports,
    ...code,
  ]);
}

type Op = (r: number, a: number, b: number) => void;
export interface FieldOps {
  memory: WebAssembly.Memory;
  mul: Op;
  add: Op;
  sub: Op;
  mul2: Op;
  /** r = a² (its third parameter is unused). */
  sqr2: (r: number, a: number) => void;
  add2: Op;
  sub2: Op;
}

let instance: FieldOps | undefined;
/** The module, compiled once per thread (~1 ms). */
export function fieldOps(): FieldOps {
  if (typeof WebAssembly === 'undefined')
    throw new EnvironmentError(
      'this Node has no WebAssembly (run without --jitless): gomelctl computes BN256 keys with it',
    );
  if (!instance)
    instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes())).exports as unknown as FieldOps;
  return instance;
}

/** Writes x (0 ≤ x < p) in Montgomery form at `offset`. */
export function writeFp(memory: WebAssembly.Memory, offset: number, x: bigint): void {
  const words = new Uint32Array(memory.buffer, offset, LIMBS);
  limbsOf((x * R) % P).forEach((limb, j) => (words[j] = Number(limb)));
}

/** x⁻¹ mod p by the extended Euclidean algorithm; x ≢ 0. Plain bigint: used once per batch, not per operation. */
export function invertFp(x: bigint): bigint {
  let [r0, r1] = [P, ((x % P) + P) % P];
  let [s0, s1] = [0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % P) + P) % P;
}

const R_INV = invertFp(R);

/** Reads the element at `offset` out of Montgomery form. */
export function readFp(memory: WebAssembly.Memory, offset: number): bigint {
  const words = new Uint32Array(memory.buffer, offset, LIMBS);
  let x = 0n;
  for (let j = LIMBS - 1; j >= 0; j--) x = (x << 32n) | BigInt(words[j]!);
  return (x * R_INV) % P;
}
