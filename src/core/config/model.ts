// gomel's 2019-09 `Configuration` and `SyncConfiguration` as zod schemas, as
// strict as gomel's loader (docs/gomel-formats.md, "config.json"):
// exactly 16 fields, unknown fields rejected at every level. Numbers are only
// typed here: their Go ranges (int64, uint16, float32) are checked on the literal
// as written (config/check.ts), since a JS number cannot hold 2^63 − 1 exactly.
import { z } from 'zod';

// gomel's sync.NewService knows these four; rmc is a multicast of its own.
const SYNC_TYPES = ['gossip', 'fetch', 'multicast', 'rmc'] as const;
// "retrying" wraps another service (shipped m-rf.json uses it); "" means none.
const FALLBACK_TYPES = ['', ...SYNC_TYPES, 'retrying'] as const;
const SETUP_TYPES = ['coin', 'beacon'] as const;

const uint16 = z.number();
const goInt = z.number();

export const SyncConfigurationSchema = z.strictObject({
  Type: z.enum(SYNC_TYPES),
  Params: z.record(z.string(), z.string()),
  Fallback: z.enum(FALLBACK_TYPES).optional(),
  Retry: z.string().optional(),
});

export const ConfigurationSchema = z.strictObject({
  NParents: uint16,
  PrimeOnly: z.boolean(),
  CanSkipLevel: z.boolean(),
  CreateDelay: z.number(),
  StepSize: z.number(),
  SyncSetup: z.array(SyncConfigurationSchema),
  Setup: z.enum(SETUP_TYPES),
  Sync: z.array(SyncConfigurationSchema),
  Txpu: goInt,
  LevelLimit: goInt,
  LogLevel: goInt,
  LogBuffer: goInt,
  LogMemInterval: goInt,
  LogHuman: z.boolean(),
  OrderStartLevel: goInt,
  CRPFixedPrefix: uint16,
});

export type SyncConfiguration = z.infer<typeof SyncConfigurationSchema>;
export type Configuration = z.infer<typeof ConfigurationSchema>;
