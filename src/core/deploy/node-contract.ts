// The contract between gomelctl and the scripts each node runs (templates/node-lib.sh,
// templates/faults.sh, templates/*/run.sh): what gomelctl passes in, what a node
// leaves in /extract, the lines it prints and its exit codes. The shell side holds
// the same values; test/node-contract.test.ts reads the templates and fails when a
// copy drifts, so change both together.

/** Environment variables a node's service carries (core/deploy/plan.ts) or run.sh reads with a default. */
export const NODE_ENV = {
  /** The node's number, 1..N (gomel's spawn.sh: pid = SLOT − 1). */
  slot: 'SLOT',
  /** base64 of the network-conditions script (core/deploy/network-conditions.ts). */
  netScript: 'GOMEL_NET_SCRIPT',
  /** base64 of the node's fault schedule (core/faults/plan.ts). */
  faults: 'GOMEL_FAULTS',
  /** base64 of what the instance sets up for the plan's twins before gomel starts (core/faults/twins.ts). */
  twinSetup: 'GOMEL_TWIN_SETUP',
  /** "1" on a twin's second instance (twin:K): it never coordinates the start, even in slot 1. */
  twin: 'GOMEL_TWIN',
  /** The node a twin's second instance learns the common start from: one of its own half (node-lib.sh). */
  startFrom: 'GOMEL_START_FROM',
  /** The file holding what a live fault request must carry (default /run/secrets/CONTROL_SECRET_FILE). */
  controlTokenFile: 'GOMEL_CONTROL_TOKEN_FILE',
  /** Seconds a control connection may take to send its request line (default 5). */
  controlReadSeconds: 'GOMEL_CONTROL_READ_S',
  /** Seconds between the start and the latest "ready" (default: startMarginSeconds(N)). */
  startMargin: 'GOMEL_START_MARGIN',
  /** Seconds a node waits for its peers before starting anyway (default 120 + N: swarm creates the containers one after another). */
  startWait: 'GOMEL_START_WAIT',
  /** Port of the "ready" answers (default NODE_PORTS.ready). */
  readyPort: 'GOMEL_READY_PORT',
  /** Port of the live-fault listener (default NODE_PORTS.control). */
  controlPort: 'GOMEL_CONTROL_PORT',
  /** Seconds between progress lines (default 3). */
  progressSeconds: 'GOMEL_PROGRESS_S',
} as const;

/** Ports every node listens on beside gomel's own. */
export const NODE_PORTS = {
  /** "ready <when> [done <start> by <node>]": the common start and who fixed it (node-lib.sh start_together). */
  ready: 65432,
  /** Live fault requests (faults.sh control_request). */
  control: 65433,
} as const;

/** Files a node leaves in /extract (its working folder), read by deploy logs, verdict and report. */
export const NODE_FILES = {
  startedAt: 'started_at',
  startPlan: 'start_plan',
  startUnanswered: 'start_unanswered',
  exitStatus: 'exit_status',
  stderr: 'stderr.txt',
  network: 'network.txt',
  networkError: 'network_error',
  faultsLog: 'faults.log',
  probe: 'probe.txt',
  /** The container's CPU time and CPUs when gomel started and ended (node-lib.sh record_cpu; core/logs/host-load.ts). */
  cpuUsage: 'cpu_usage',
} as const;

/**
 * A wall-clock time as node-lib.sh's wall_clock writes it (started_at): seconds since the epoch,
 * "<s>.<µs>", or undefined. Digits only, at most 11 before the point: a time JavaScript's Date can
 * show (one liar's started_at of "-1e300" made the run's start a date the report could not print,
 * a stack trace: hostile pass 20).
 */
export function parseWallClock(text: string | undefined): number | undefined {
  const m = /^\s*(\d{1,11}(?:\.\d{1,9})?)\s*$/.exec(text ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * gomel's exit status from run.sh's exit_status, which holds `echo "$status"`: a shell status, 0-255
 * in decimal, and a newline. Anything else (a NUL, two lines, 20 digits) is no exit status, undefined:
 * it once read as "none" (a clean stop by the log) or as "exit 100000000000000000000" (hostile pass 9).
 */
export function parseExitStatus(text: string): number | undefined {
  const m = /^(0|[1-9]\d{0,2})\n$/.exec(text);
  return m && Number(m[1]) <= 255 ? Number(m[1]) : undefined;
}

/** Prefixes of the lines a node prints for gomelctl among gomel's output. */
export const NODE_LINES = {
  /** /extract shipped in the service output (core/logs/shipped.ts). */
  ship: 'gomelctl-ship',
  /** "<wall clock> <level> <ordered> <fault actions>" every few seconds (core/logs/live-progress.ts). */
  progress: 'gomelctl-progress',
  /** The probe's instead: "<phase> <addresses reached> <asked> <all>" (templates/probe/run.sh, probe/main.go). */
  probeProgress: 'gomelctl-probe-progress',
} as const;

/** run.sh's exit status when the node's network conditions could not be applied. */
export const EXIT_NETWORK_NOT_APPLIED = 3;

/**
 * The longest environment string execve takes, NAME=value and its NUL: Linux's MAX_ARG_STRLEN, 32
 * pages of 4 KiB. A longer one fails the container's start with E2BIG ("argument list too long").
 * The node's few strings together stay far below ARG_MAX (a quarter of the 8 MiB stack Docker gives).
 */
export const MAX_ENV_STRING_BYTES = 131_072;

/** The bytes one NAME=value environment string takes in execve, its NUL counted. */
export const envStringBytes = (text: string): number => Buffer.byteLength(text) + 1;

/** Where run.sh reads the node's key: the Swarm secret's file name under /run/secrets. */
export const KEY_SECRET_FILE = 'gomel.pk';

/** Where faults.sh reads the deployment's control token: the Swarm secret's file name under /run/secrets. */
export const CONTROL_SECRET_FILE = 'gomel-control';

/**
 * Seconds from the coordinator's last answer to the common start: every node asks the
 * coordinator once a second and must learn the start before it comes (node-lib.sh: 3 + N/32,
 * shell integer division). Measured from each node's start_plan (when it learned the start):
 * real gomel over 3 lab hosts on 2 cores learned it at most 2.3 s (32 nodes) and 1.5 s (64
 * nodes) after the coordinator fixed it; the N² margin before (34 s at 64, 98 s at 128) was
 * set when the start counted from the last ready moment, up to 20 s before that.
 */
export const startMarginSeconds = (n: number): number => 3 + Math.floor(n / 32);

/**
 * Questions in a row a candidate to fix the start (node1, the coordinator, then node2, node3...) may
 * leave unanswered before a node takes it for dead and asks the next one (node-lib.sh: margin + 3,
 * asked once a second). The margin is the seconds in which a live coordinator's start reaches every
 * node (above); three questions more are its slack. A node at its own turn fixes the start.
 */
export const silentCandidateQuestions = (marginS: number): number => Math.floor(marginS) + 3;

/** Seconds deploy spawn keeps watching once every task runs: past the common start, where gomel refusing its input exits. */
export const settleSeconds = (n: number): number => startMarginSeconds(n) + 6;
