// gomel's 2019-09 `Configuration` and `SyncConfiguration` as zod schemas, as
// strict as gomel's loader (docs/gomel-formats.md, "config.json"):
// exactly 16 fields, unknown fields rejected at every level, Go integer types.
import { z } from 'zod';

export const SYNC_TYPES = ['gossip', 'fetch', 'multicast'] as const;
// "retrying" wraps another service (shipped m-rf.json uses it); "" means none.
export const FALLBACK_TYPES = ['', ...SYNC_TYPES, 'retrying'] as const;
export const SETUP_TYPES = ['coin', 'beacon'] as const;

const uint16 = z.int().min(0).max(65535);
const goInt = z.int();

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
  LogLevel: z.int().min(0).max(5),
  LogBuffer: goInt,
  LogMemInterval: goInt,
  LogHuman: z.boolean(),
  OrderStartLevel: goInt,
  CRPFixedPrefix: uint16,
});

export type SyncConfiguration = z.infer<typeof SyncConfigurationSchema>;
export type Configuration = z.infer<typeof ConfigurationSchema>;
