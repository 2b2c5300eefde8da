// A run's logs folder, read: its committee, config, fault record and each
// node's evidence (what `deploy logs` wrote, or <pid>.log files side by side),
// judged by the pure verdict. Shared by `verdict` and `report`.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { memberHost, parseCommittee, type Member } from '../core/keys/committee.js';
import { checkConfigText } from '../core/config/check.js';
import { InputError, UsageError } from '../core/errors.js';
import { ENDED, judge, type NodeEvidence, type Verdict } from '../core/logs/verdict.js';
import { faultsApplied } from '../core/faults/evidence.js';
import { parseFaultsLog, type FaultLogEvent } from '../core/faults/log.js';
import { FAULT_RECORD_FILE, faultRecordOf, twinGroups, twinName, type FaultRecordFile } from '../core/faults/plan.js';
import type { TwinRun } from '../core/logs/byzantine.js';
import { FAULTS_FILE, RUN_FILE, someNames } from '../core/logs/logs-folder.js';
import { RUN_RECORD, type RunRecord } from '../core/deploy/run-plan.js';
import { parseExitStatus, parseWallClock } from '../core/deploy/node-contract.js';
import { stoppedBySwarm } from '../core/logs/shutdown.js';
import { exists } from './atomic.js';
import { readAgainstSeal, sealState, type SealState } from './seal.js';
import { ABSENT, ADDED, readByTheVerdict } from '../core/logs/seal.js';
import { COMMITTEE_FILE } from './keys-dir.js';
import {
  discoverNodes,
  readHead,
  readLogStats,
  readOptional,
  readOptionalHashed,
  refuseSharedEvidence,
  STDERR_HEAD,
  type NodeFiles,
} from './node-logs.js';
import { eventBudget, notItsLog, SAME_RUN_S, strayGenesis, type RunLog } from '../core/logs/log-stats.js';
import { readInput, readInputBytes, readOptionalInput } from './input.js';
import { firstJsonDifference, inputFail, parseJsonWith } from '../core/json-input.js';
import { committeeFingerprint } from '../core/image/context.js';
import type { Configuration } from '../core/config/model.js';
import { clip, quoted, QUOTED_MAX } from '../core/bounded.js';
import { z } from 'zod';
import { minOf } from '../core/bounded.js';

export interface VerdictOptions {
  logs: string;
  /** A config name (from --configs) or a path to a config file. */
  config?: string;
  configs: string;
  keys: string;
  json?: boolean;
  /** Also require every node to have shut down cleanly. */
  strict?: boolean;
  /** Use the folder's fault evidence although its seal does not vouch for it (core/logs/seal.ts). */
  trustLogs?: boolean;
}

/** The committee the run used: the logs folder's committee.ka, else the keys folder's. Never guessed from the logs. */
async function readRunCommittee(
  options: VerdictOptions,
): Promise<{ file: string; bytes: Uint8Array; members: Member[] }> {
  for (const file of [path.join(options.logs, COMMITTEE_FILE), path.join(options.keys, COMMITTEE_FILE)]) {
    if (!(await exists(file))) continue;
    const bytes = await readInputBytes(file, 'committee file');
    return { file, bytes: new Uint8Array(bytes), members: parseCommittee(bytes.toString('utf8'), file) };
  }
  throw new InputError(
    options.logs,
    undefined,
    `no ${COMMITTEE_FILE} here nor in ${options.keys}, so the committee size is unknown`,
    `pass --keys DIR with the committee the run used, or copy its ${COMMITTEE_FILE} into the logs folder`,
  );
}

/**
 * Refuses a committee that is not the one run.json records (its fingerprint, its hosts in pid order):
 * a run.json copied from another run, or --keys of another committee, would have the nodes judged
 * against the wrong N and the wrong names (issue 30).
 */
function refuseOtherCommittee(
  record: RunRecord | undefined,
  committee: { file: string; bytes: Uint8Array; members: Member[] },
  runFile: string,
): void {
  if (!record) return;
  const fix = `pass --keys with the committee the run used, or judge each run from its own folder (\`gomelctl deploy logs --out\` a new one)`;
  const fingerprint = committeeFingerprint(committee.bytes);
  const n = committee.members.length;
  if (record.committee !== undefined && record.committee !== fingerprint)
    throw new InputError(
      runFile,
      'committee',
      `the run's committee is ${record.committee} (${record.hosts.length} nodes), but ${committee.file} is committee ${fingerprint} (${n} nodes)`,
      fix,
    );
  const hosts = committee.members.map(memberHost);
  if (record.hosts.length !== n)
    throw new InputError(runFile, 'hosts', `names ${record.hosts.length} nodes, but ${committee.file} has ${n}`, fix);
  const i = record.hosts.findIndex((h, pid) => h !== hosts[pid]);
  if (i >= 0)
    throw new InputError(
      runFile,
      `hosts[${i}]`,
      `is ${JSON.stringify(record.hosts[i])}, but line ${i + 1} of ${committee.file} is host ${JSON.stringify(hosts[i])}`,
      fix,
    );
}

/** The config a run is judged by, and the file it was read from. */
export interface RunConfig {
  file: string;
  config: Configuration;
}

/**
 * The config the run ran: the logs folder's conf.json (deploy logs copies it there), or --config (a name
 * in --configs, or a path), which must then be the same config, every field. Nothing else is taken for it:
 * the working folder's configs/config.json, read when the folder had none, judged runs by a LevelLimit
 * they never ran to (issue 30). `recorded`: the config's name in run.json, named in the fix.
 */
async function readRunConfig(
  options: VerdictOptions,
  recorded: string | undefined,
  recordedSha256: string | undefined,
  texts: ReadTexts,
): Promise<RunConfig> {
  const own = path.join(options.logs, 'conf.json');
  const read = async (file: string): Promise<Configuration> => {
    // The folder's own: its LevelLimit decides who finished, held to the seal as read (hostile pass 18).
    const text = await readInput(file, 'config');
    const { config, problems } = checkConfigText(file === own ? noted(texts, file, text) : text, undefined);
    if (!config)
      throw new InputError(
        file,
        problems[0]?.path,
        `cannot read LevelLimit: ${problems[0]?.message}`,
        'fix the config or pass --config',
      );
    // No level is reached below 1: a LevelLimit of 0 would make any log "finished".
    if (!(config.LevelLimit >= 1))
      throw new InputError(
        file,
        'LevelLimit',
        `is ${config.LevelLimit}: consensus is judged at a level of 1 or more`,
        'give the LevelLimit gomel ran to',
      );
    return config;
  };
  const ran = (await exists(own)) ? await read(own) : undefined;
  const given = options.config;
  if (given) {
    const file = given.includes('/') || given.endsWith('.json') ? given : path.join(options.configs, `${given}.json`);
    const config = await read(file);
    // The run's record names the config it was deployed with by its hash: another one would judge it by
    // a LevelLimit it never ran to (hostile pass 13: LevelLimit 18 for a run that stalled at 17 of 50, exit 0).
    const sha256 = createHash('sha256')
      .update(await readInputBytes(file, 'config'))
      .digest('hex');
    if (recordedSha256 !== undefined && sha256 !== recordedSha256)
      throw new UsageError(
        `--config ${given}: not the config the run was deployed with (its ${RUN_FILE} records sha256 ${recordedSha256.slice(0, 12)}…, this file's is ${sha256.slice(0, 12)}…); a run is judged by the config it ran — pass that file${recorded ? ` (${JSON.stringify(recorded)} when deployed)` : ''}`,
      );
    // The run is judged by the config it ran: a lower LevelLimit would call logs cut short finished.
    const differs = ran && firstJsonDifference(config, ran);
    if (differs)
      throw new UsageError(
        `--config ${given}: ${differs.path} ${shown(differs.a)}, but the run's own ${own} says ${shown(differs.b)}; a run is judged by the config it ran — leave --config out`,
      );
    return { file, config };
  }
  if (ran) return { file: own, config: ran };
  throw new InputError(
    options.logs,
    undefined,
    'holds no conf.json, so the config the run ran (its LevelLimit) is unknown; gomelctl does not guess it',
    `pass --config NAME (from --configs) or --config FILE with the config the run used${recorded ? ` (its ${RUN_FILE} names ${JSON.stringify(recorded)})` : ''}`,
  );
}

/** A config's value in a message: JSON, clipped; "absent" for a field one of them lacks. */
const shown = (value: unknown) =>
  value === undefined ? 'absent' : typeof value === 'string' ? quoted(value) : clip(JSON.stringify(value), QUOTED_MAX);

/** The fix for a twin's folder (node3-twin/) of a run whose record (run.json, named before it) names no twin. */
const TWIN_UNRECORDED_FIX = 'collect the logs with `gomelctl deploy logs`, which writes it';

/**
 * Gives each node found its pid: the pid in its log's name, else its folder named as a committee host.
 * deploy logs names each node's folder after its host, and the verdict names the node by its folder:
 * one named as a host but holding another pid's log is refused (hostile pass h8: node1/ and node2/
 * swapped printed pid 1's panic as node1's, the committee's pid 0, and exit 0). When the hosts tell the
 * nodes apart, a folder named as no host is refused too, as one without a log always was: its name
 * would be printed for a node no committee line calls so. When they do not (a local run, every line
 * 127.0.0.1), no folder's name can say which node it is: the log's pid decides, the folder's name labels it.
 */
function assignPids(
  files: readonly NodeFiles[],
  members: readonly Member[],
  committeeFile: string,
  sealed: boolean,
): Map<number, NodeFiles> {
  const hosts = members.map(memberHost);
  const distinct = new Set(hosts).size === hosts.length;
  const byPid = new Map<number, NodeFiles>();
  for (const f of files) {
    const where = f.folder ?? f.log!;
    const pid = f.logPid ?? folderPid(f.label, hosts, where);
    if (pid >= members.length)
      throw new InputError(
        f.log ?? where,
        undefined,
        `pid ${pid} is outside the ${members.length}-node committee`,
        'pass --keys with the committee the run used, or move the log away',
      );
    const host = hosts[pid]!;
    // A twin's folder (node3-twin/) the run's record names no twin for: said below, after a second log.
    const twin = f.folder !== undefined && !hosts.includes(f.label) && f.label === twinName(host);
    const misnamed = f.folder !== undefined && f.log !== undefined && !twin && f.label !== host;
    if (misnamed && sealed && hosts.includes(f.label)) {
      // The node named by its folder wrote another pid's log: its evidence is void, the folder stays its.
      const own = hosts.indexOf(f.label);
      byPid.set(own, {
        ...f,
        log: undefined,
        logPid: undefined,
        contradiction: `its folder holds the log of pid ${pid} (${path.basename(f.log!)}), not its own (pid ${own})`,
      });
      continue;
    }
    if (misnamed && hosts.includes(f.label))
      throw new InputError(
        f.folder!,
        undefined,
        `holds the log of pid ${pid} (${path.basename(f.log!)}), but line ${pid + 1} of ${committeeFile} gives pid ${pid} the host ${host}, not ${f.label}`,
        `put each node's files in the folder named after its host (pid ${pid}'s in ${host}/), as \`gomelctl deploy logs\` writes them, or pass --keys with the committee the run used`,
      );
    const seen = byPid.get(pid);
    if (seen)
      throw new InputError(
        f.log ?? where,
        undefined,
        `a second log for pid ${pid} (the other: ${seen.log ?? seen.label})`,
        f.label.endsWith('-twin')
          ? `the run's record (${RUN_FILE}) names no twin of pid ${pid}; ${TWIN_UNRECORDED_FIX}`
          : 'keep one log per node',
      );
    if (misnamed && distinct)
      throw new InputError(
        f.folder!,
        undefined,
        `no committee line names host ${f.label}; its log (${path.basename(f.log!)}) is pid ${pid}'s, whose host is ${host}`,
        `name the folder ${host}, or pass --keys with the committee the run used`,
      );
    if (twin)
      throw new InputError(
        where,
        undefined,
        `is the folder of a twin of ${host} (pid ${pid}), but the run's record (${RUN_FILE}) names no twin of pid ${pid}`,
        TWIN_UNRECORDED_FIX,
      );
    byPid.set(pid, f);
  }
  return byPid;
}

/** The pid of a node's folder that holds no gomel log: the committee line naming its host, if one line does. */
function folderPid(label: string, hosts: readonly string[], where: string): number {
  const pids = hosts.flatMap((h, pid) => (h === label ? [pid] : []));
  if (pids.length === 0)
    throw new InputError(
      where,
      undefined,
      `no committee line names host ${label}`,
      'pass --keys with the committee the run used, or move the folder away',
    );
  if (pids.length > 1)
    throw new InputError(
      where,
      undefined,
      `holds no gomel log, and ${pids.length} committee lines name host ${label} (pids ${someNames(pids.map(String))}): which node it is is unknown`,
      "put the node's <pid>.log in it, or move the folder away",
    );
  return pids[0]!;
}

/**
 * The fault evidence as the verdict read it (file → its text), held to the seal after the reading:
 * the seal vouches for those very bytes, not for what the folder holds by the time it is hashed
 * (hostile pass 13: a forged faults.log swapped in for the reading and back before the hashing).
 */
type ReadTexts = Map<string, string>;

/** Notes `file`'s SHA-256, as its reader took it from the raw bytes it read. */
const hashedAs =
  (read: ReadTexts, file: string | undefined) =>
  (sha256: string): void => {
    if (file !== undefined) read.set(path.resolve(file), sha256);
  };

/** `text`, noted (its SHA-256) as what was read of `file`: for a file read whole as text (run.json, conf.json). */
function noted<T extends string | undefined>(read: ReadTexts | undefined, file: string | undefined, text: T): T {
  if (read && file !== undefined && text !== undefined)
    read.set(path.resolve(file), createHash('sha256').update(text).digest('hex'));
  return text;
}

/** What of a node's faults.log is read: 64 KiB, a thousand lines. */
const FAULTS_LOG_HEAD = 64 * 1024;

const RECOLLECT = 'collect the logs again with `gomelctl deploy logs`, or remove the file';

/** A run's faults as its folder holds them: the record (run.json's plan: what was asked) and each node's faults.log (what was done). */
export interface RunFaultFiles {
  /** undefined: the run had no fault plan and no live fault (none in run.json, or no faults.json in an older folder). */
  record: FaultRecordFile | undefined;
  /** Per committee pid: the node's faults.log, parsed (undefined: it left none). */
  logs: (FaultLogEvent[] | undefined)[];
  /** "node3 faults.log line 4: <reason>" for each line that did not parse. */
  malformed: string[];
  /** The same, by node: "line 4: <reason>". */
  unreadable: { label: string; why: string }[];
}

/**
 * The one reader of a run's record in its logs folder (verdict, report): run.json as deploy logs
 * wrote it, with its fault plan as the fault record; in a folder an older gomelctl wrote, its
 * faults.json. `record` undefined: no run.json; `faults` undefined: the run had no fault plan and
 * no live fault. A file that does not read is one line naming it and the field.
 */
export async function readRunRecord(
  logs: string,
  read?: ReadTexts,
): Promise<{ record?: RunRecord; faults?: FaultRecordFile }> {
  const runFile = path.join(logs, RUN_FILE);
  const runText = noted(read, runFile, await readOptionalInput(runFile, 'run record'));
  if (runText !== undefined) {
    const record = parseJsonWith(runText, RUN_RECORD, inputFail(runFile, RECOLLECT));
    return { record, ...(record.faults ? { faults: faultRecordOf(record.faults) } : {}) };
  }
  const file = path.join(logs, FAULTS_FILE);
  const text = noted(read, file, await readOptionalInput(file, 'fault record'));
  return text === undefined ? {} : { faults: parseJsonWith(text, FAULT_RECORD_FILE, inputFail(file, RECOLLECT)) };
}

async function readFaultFiles(
  nodes: LoadedRun['nodes'],
  record: FaultRecordFile | undefined,
  read: ReadTexts,
  sealed: boolean,
): Promise<RunFaultFiles> {
  const faultLogs: RunFaultFiles['logs'] = [];
  const malformed: string[] = [];
  const unreadable: RunFaultFiles['unreadable'] = [];
  for (const node of nodes) {
    // Its head: faults.sh writes a line per action (tens in a run); a forged one of megabytes a node
    // would cost the whole run's verdict its memory (64 nodes of 15 MB ran out of it).
    let log: string | undefined;
    try {
      log = await readHead(node.files?.faultsLog, FAULTS_LOG_HEAD, hashedAs(read, node.files?.faultsLog));
    } catch (e) {
      // Sealed, a faults.log that does not read (a folder of that name) is its node's: none of it counts.
      if (!sealed || !(e instanceof InputError)) throw e;
      faultLogs.push(undefined);
      unreadable.push({ label: node.label, why: `its faults.log does not read: ${e.message}` });
      continue;
    }
    const parsed = log === undefined ? undefined : parseFaultsLog(log);
    faultLogs.push(parsed?.events);
    for (const m of parsed?.malformed ?? []) {
      malformed.push(`${node.label} faults.log line ${m.line}: ${m.reason}`);
      unreadable.push({ label: node.label, why: `line ${m.line} does not read: ${m.reason}` });
    }
  }
  return { record, logs: faultLogs, malformed, unreadable };
}

/** What deploy logs records of a node's task (task.json); fields of a later gomelctl are let through. */
const TASK_JSON = z.looseObject(
  {
    state: z.string(),
    exitCode: z.number().optional(),
    swarmNode: z.string().optional(),
    hostDown: z.boolean().optional(),
    error: z.string().optional(),
    uncollected: z.string().optional(),
    incomplete: z.array(z.string()).optional(),
    image: z.string().optional(),
    desiredState: z.string().optional(),
    since: z.string().optional(),
    hostDeclaredDownAt: z.number().optional(),
  },
  { error: (issue) => (issue.code === 'invalid_type' ? 'expected a JSON object with the task\'s "state"' : undefined) },
);

/** deploy logs' task.json: an object, or one line naming the file and the field (N73). */
function readTask(text: string, file: string): NodeEvidence['task'] {
  return parseJsonWith(text, TASK_JSON, inputFail(file, RECOLLECT));
}

/**
 * Why a node's exit_status is no exit status: the file, and what it holds when that is a few digits
 * and spaces (no secret can be in it; anything else, a stray key file, is only measured).
 */
function unreadableExitStatus(file: string, text: string): string {
  const n = text.length;
  const holds = /^[\d\s+-]*$/.test(text)
    ? quoted(text, 24)
    : `something other than digits (${n} character${n === 1 ? '' : 's'})`;
  return `${file} holds ${holds}, not an exit status: run.sh writes one number 0-255 and a newline`;
}

async function readEvidence(
  pid: number,
  f: NodeFiles | undefined,
  label: string,
  maxEvents: number,
  committeeSize: number,
  texts: ReadTexts,
  alsoLine?: (line: string) => void,
): Promise<NodeEvidence> {
  if (!f) return { pid, label, stats: undefined, logProblem: 'no log', exitStatus: undefined, stderr: undefined };
  // The log's bytes as read (its SHA-256), held to the seal like the fault evidence: the twin's instance's
  // and each node's order decide who lied and who forked (hostile pass 18).
  const log = f.log;
  const read = log
    ? await readLogStats(log, alsoLine, undefined, maxEvents, committeeSize, (sha) => texts.set(path.resolve(log), sha))
    : undefined;
  const statusText = await readOptionalHashed(f.exitStatus, hashedAs(texts, f.exitStatus));
  const exitStatus = statusText === undefined ? undefined : parseExitStatus(statusText);
  const taskText = await readOptionalHashed(f.task, hashedAs(texts, f.task));
  const task = taskText && f.task ? readTask(taskText, f.task) : undefined;
  const started = (await readOptionalHashed(f.startedAt, hashedAs(texts, f.startedAt)))?.trim();
  const damaged = read?.stats?.malformedInOrder
    ? `${read.stats.malformedInOrder} damaged or cut line(s) among its ordered units`
    : read?.problem?.startsWith('log corrupt')
      ? read.problem
      : undefined;
  return {
    pid,
    label: f.label,
    stats: read?.stats,
    ...(damaged ? { orderDamaged: damaged } : {}),
    // Before its first damaged line a node's order is intact; a failed checksum vouches for no byte of its member.
    ...(damaged && read?.stats?.malformedInOrder ? { intactOrder: read.stats.orderBeforeDamage ?? 0 } : {}),
    logProblem: read
      ? read.problem
      : f.contradiction
        ? `its own files are no evidence: ${f.contradiction}`
        : task?.uncollected
          ? `no files collected: ${task.uncollected}`
          : 'no gomel log',
    exitStatus,
    ...(statusText !== undefined && exitStatus === undefined
      ? { exitStatusProblem: unreadableExitStatus(f.exitStatus!, statusText) }
      : {}),
    // Its head only: a goroutine dump of a large committee runs to megabytes, the panic comes first.
    stderr: await readHead(f.stderr, STDERR_HEAD, hashedAs(texts, f.stderr)),
    task,
    startedAt: parseWallClock(started),
  };
}

/** A node's evidence without what its task.json says of its host (lost, declared down, its tasks shut down by the swarm). */
const withoutHostLoss = (e: NodeEvidence): NodeEvidence =>
  e.task
    ? { ...e, task: { ...e.task, hostDown: undefined, hostDeclaredDownAt: undefined, desiredState: undefined } }
    : e;

/** When a node's task ended (epoch s, the engine's clock), if task.json says it did and when. */
function taskEndedAt(task: NodeEvidence['task']): number | undefined {
  const since = task?.since ? Date.parse(task.since) / 1000 : NaN;
  return task && ENDED.has(task.state) && Number.isFinite(since) ? since : undefined;
}

interface LoadedRun {
  members: Member[];
  /** One entry per committee pid: its label and the files found for it. */
  nodes: { pid: number; label: string; files: NodeFiles | undefined }[];
  /**
   * The second instance of each node the fault record twins (twin:K): its folder (twinName, as deploy
   * logs names it after its service), the nodes that reached each instance, and the files found.
   */
  twins: {
    pid: number;
    label: string;
    twinLabel: string;
    groups: number[][] | undefined;
    files: NodeFiles | undefined;
  }[];
  record: FaultRecordFile | undefined;
  /** run.json, when the folder has one. */
  runRecord: RunRecord | undefined;
  probe: boolean;
  /** The fault evidence read so far, as read: held to the folder's seal. */
  read: ReadTexts;
  /** Its seal, checked once when it was loaded (what is read after is held to it). */
  seal: SealState;
  /** That seal held: a node's contradicting files void that node's evidence only. */
  sealed: boolean;
}

/** A logs folder that is not there, or not a folder, refused naming it. */
export async function checkLogsFolderExists(logs: string): Promise<void> {
  if (!(await exists(logs)))
    throw new InputError(
      logs,
      undefined,
      'no such logs folder',
      'collect logs with `gomelctl deploy logs` or pass --logs DIR',
    );
  if (!(await fs.stat(logs)).isDirectory())
    throw new InputError(
      logs,
      undefined,
      'is a file, not a logs folder',
      'pass the folder `gomelctl deploy logs --out` wrote',
    );
}

/** The run in a logs folder: its committee, and each pid's files (refusing duplicates and strangers). */
export async function loadRun(options: VerdictOptions): Promise<LoadedRun> {
  await checkLogsFolderExists(options.logs);
  const committee = await readRunCommittee(options);
  const members = committee.members;
  const read: ReadTexts = new Map();
  const { record: runRecord, faults: record } = await readRunRecord(options.logs, read);
  refuseOtherCommittee(runRecord, committee, path.join(options.logs, RUN_FILE));
  // As collected (its seal holds), each node folder is what that node wrote: one contradicting itself
  // voids its own evidence, never the committee's verdict (hostile pass 13: a second log in one node's
  // /extract turned a fork, exit 4, into a refusal, exit 1).
  const seal = await sealState(options.logs);
  const sealed = 'seal' in seal;
  const listed = new Set<string>();
  const files = await discoverNodes(options.logs, sealed, listed);
  // The listing held to the seal both ways: a sealed file the verdict reads that the listing did not find
  // was moved away after the seal was checked (hostile pass 26), and one the listing found that the seal
  // does not hold was added since (hostile pass 27: a second log, never read, voided a node). Noted as
  // read so, each makes the folder not as sealed.
  if ('seal' in seal) {
    const root = path.resolve(options.logs);
    for (const rel of Object.keys(seal.seal.files)) {
      const file = path.resolve(root, ...rel.split('/'));
      if (readByTheVerdict(rel) && !listed.has(file)) read.set(file, ABSENT);
    }
    for (const file of listed) {
      const rel = path.relative(root, file).split(path.sep).join('/');
      if (readByTheVerdict(rel) && !Object.hasOwn(seal.seal.files, rel)) read.set(file, ADDED);
    }
  }
  if (files.length === 0)
    throw new InputError(
      options.logs,
      undefined,
      'holds no node logs (<pid>.log[.gz] files, or one folder per node)',
      'collect them with `gomelctl deploy logs`',
    );
  // One run is one payload: probe reports beside gomel logs are not a probe run (nor a gomel one).
  let probes = files.filter((f) => f.probe).map((f) => f.label);
  const logs = files.filter((f) => f.log).map((f) => f.label);
  if (probes.length && logs.length && sealed) {
    // As collected, a probe report among gomel logs (or the other way round) is its node's own doing: the
    // run is what most nodes ran, and the odd node's evidence is void (hostile pass 14).
    const gomel = logs.length >= probes.length;
    for (const f of files)
      if (gomel ? f.probe : f.log) {
        f.contradiction = gomel
          ? `a probe report (${path.basename(f.probe!)}) among the gomel logs of a gomel run`
          : `a gomel log (${path.basename(f.log!)}) among the probe reports of a probe run`;
        f.probe = f.log = undefined;
        f.logPid = undefined;
      }
    probes = files.filter((f) => f.probe).map((f) => f.label);
  } else if (probes.length && logs.length)
    throw new InputError(
      options.logs,
      undefined,
      `holds both gomel logs (${someNames(logs)}) and probe reports (${someNames(probes)}): one run is one payload`,
      'judge each run from its own folder (`deploy logs --out` a new one)',
    );
  // Two nodes' evidence read from one file (a link) would be one node judged twice.
  await refuseSharedEvidence(files);
  const hosts = members.map(memberHost);
  const twinEvents = (record?.plan.events ?? []).filter((e) => e.kind === 'twin' && hosts[e.nodes[0]! - 1]);
  const twins = twinEvents.map((e) => {
    const pid = e.nodes[0]! - 1;
    // The halves as deploy wrote them: two, of every other node once, neither holding the node itself. Any
    // other split passed (hostile pass 10: "groups": [] let a copy of node5's own folder as node5-twin/
    // make a crashed node5 a liar, and the run exit 0).
    const recorded = e.groups ?? [];
    const recordFile = path.join(options.logs, runRecord ? RUN_FILE : FAULTS_FILE);
    const at = `${runRecord ? 'faults.' : 'plan.'}events[${record!.plan.events.indexOf(e)}].groups`;
    const halves = twinGroups(
      e.nodes[0]!,
      members.length,
      recorded,
      (problem) => new InputError(recordFile, at, problem, RECOLLECT),
    );
    if (JSON.stringify(halves) !== JSON.stringify(recorded))
      throw new InputError(recordFile, at, `a twin's half names node ${e.nodes[0]} itself`, RECOLLECT);
    const twinLabel = twinName(hosts[pid]!);
    const found = files.find((f) => f.label === twinLabel);
    if (found?.logPid !== undefined && found.logPid !== pid && sealed) {
      found.contradiction = `the twin of ${hosts[pid]} (pid ${pid}) holds the log of pid ${found.logPid}`;
      found.log = found.logPid = undefined;
    } else if (found?.logPid !== undefined && found.logPid !== pid)
      throw new InputError(
        found.log!,
        undefined,
        `the twin of ${hosts[pid]} (pid ${pid}) holds the log of pid ${found.logPid}`,
        'collect the logs again with `gomelctl deploy logs`',
      );
    return { pid, label: hosts[pid]!, twinLabel, groups: e.groups, files: found };
  });
  const twinLabels = new Set(twins.map((t) => t.twinLabel));
  const byPid = assignPids(
    files.filter((f) => !twinLabels.has(f.label)),
    members,
    committee.file,
    sealed,
  );
  // A node without files is named by its host, unless the hosts do not tell nodes apart (all 127.0.0.1: h8).
  const byHost = files.some((f) => f.folder) && new Set(hosts).size === hosts.length;
  const nodes = members.map((m, pid) => ({
    pid,
    label: byPid.get(pid)?.label ?? (byHost ? memberHost(m) : `pid ${pid}`),
    files: byPid.get(pid),
  }));
  return { members, nodes, twins, record, runRecord, probe: files.some((f) => f.probe), read, seal, sealed };
}

/**
 * A log that is not its node's (core/logs/log-stats.ts notItsLog), a twin's instance's too: the first found,
 * refused by the caller, naming it (issue 30 B10; hostile re-pass N1: node2's log, or node3's own, in node3-twin/ made node3 a liar, exit
 * 0; N5: node4's log in node5's folder, the lines naming pid 4 cut out, passed as node5's).
 */
function othersLog(
  run: LoadedRun,
  evidence: readonly NodeEvidence[],
  twinEvidence: readonly NodeEvidence[],
  levelLimit: number,
): { index: number; label: string; problem: string; fix?: string | undefined } | undefined {
  const hosts = run.members.map(memberHost);
  const halfOf = (groups: number[][] | undefined, i: number) => {
    const nodes = groups?.[i];
    return nodes && { pids: new Set(nodes.map((k) => k - 1)), names: someNames(nodes.map((k) => hosts[k - 1]!)) };
  };
  const twinOf = new Map(run.twins.map((t) => [t.pid, t]));
  const logs: RunLog[] = [
    ...evidence.map((e) => {
      const half = halfOf(twinOf.get(e.pid)?.groups, 0);
      return { pid: e.pid, label: e.label, stats: e.stats, twinned: twinOf.has(e.pid), ...(half ? { half } : {}) };
    }),
    ...twinEvidence.map((e, i) => {
      const half = halfOf(run.twins[i]!.groups, 1);
      return { pid: e.pid, label: e.label, stats: e.stats, twinned: true, ...(half ? { half } : {}) };
    }),
  ];
  const found = notItsLog(logs, run.members.length, levelLimit, !run.sealed);
  return found && { index: found.index, label: logs[found.index]!.label, problem: found.problem, fix: found.fix };
}

/** The consensus verdict of a loaded run (gomel logs, not probe reports); `lineSink(pid)` sees each log's lines as they are read. */
export async function judgeRun(
  run: LoadedRun,
  options: VerdictOptions,
  lineSink?: (pid: number) => (line: string) => void,
): Promise<{ verdict: Verdict; evidence: NodeEvidence[]; config: RunConfig; faults: RunFaultFiles }> {
  const config = await readRunConfig(options, run.runRecord?.config, run.runRecord?.configSha256, run.read);
  const limit = config.config.LevelLimit;
  const faults = await readFaultFiles(run.nodes, run.record, run.read, run.sealed);
  const evidence: NodeEvidence[] = [];
  const budget = eventBudget(run.members.length);
  // In a sealed folder a node's file that does not read (a folder named exit_status, 17 MiB of started_at)
  // is its own doing: its evidence is void, the others are judged (hostile pass 14).
  const evidenceOf = async (
    pid: number,
    files: NodeFiles | undefined,
    label: string,
    sink?: (line: string) => void,
  ) => {
    try {
      return await readEvidence(pid, files, label, budget, run.members.length, run.read, sink);
    } catch (e) {
      if (!run.sealed || !(e instanceof InputError)) throw e;
      return {
        pid,
        label,
        stats: undefined,
        logProblem: `its own files are no evidence: ${e.message}`,
        exitStatus: undefined,
        stderr: undefined,
      };
    }
  };
  for (const node of run.nodes) evidence.push(await evidenceOf(node.pid, node.files, node.label, lineSink?.(node.pid)));
  const twinEvidence: NodeEvidence[] = [];
  for (const t of run.twins) twinEvidence.push(await evidenceOf(t.pid, t.files, t.twinLabel));
  // A node log of another run beside this run's would be judged as this run's order: refused; and so
  // would a twin's (nodeK-twin/), which would make its node a liar (issue 30 B9). In a sealed folder the
  // log is its node's own doing: that node's evidence is void, the others are judged (each check names
  // the first it finds: asked again until none).
  const voidAt = (index: number, why: string) => {
    const [list, i] = index < evidence.length ? [evidence, index] : [twinEvidence, index - evidence.length];
    list[i] = { ...list[i]!, stats: undefined, logProblem: `its own files are no evidence: ${why}` };
  };
  for (let tries = 0; tries <= evidence.length + twinEvidence.length; tries++) {
    const all = [...evidence, ...twinEvidence];
    const stray = strayGenesis(all.map((e) => e.stats?.genesis));
    if (!stray) break;
    const e = all[stray.index]!;
    const problem = `its gomel started at ${e.stats!.genesis} (its genesis line), ${stray.seconds} s from the other nodes' gomel (more than ${SAME_RUN_S} s): a log of another run`;
    if (run.sealed) voidAt(stray.index, problem);
    else
      throw new InputError(
        [...run.nodes, ...run.twins][stray.index]?.files?.log ?? e.label,
        undefined,
        problem,
        "keep one run's logs per folder (`gomelctl deploy logs --out` a new one)",
      );
  }
  for (let tries = 0; tries <= evidence.length + twinEvidence.length; tries++) {
    const found = othersLog(run, evidence, twinEvidence, limit);
    if (!found) break;
    if (run.sealed) voidAt(found.index, found.problem);
    else
      throw new InputError(
        [...run.nodes, ...run.twins][found.index]?.files?.log ?? found.label,
        undefined,
        found.problem,
        found.fix ?? `put ${found.label}'s own log in its place (\`gomelctl deploy logs\` collects them)`,
      );
  }
  // Evidence of faults only from a folder as gomelctl collected it: else every node is held to consensus.
  // A folder that holds none (no faults.log line, no host loss, no twin) is judged alike either way.
  const holdsEvidence =
    run.twins.length > 0 ||
    faults.logs.some((events) => events?.length) ||
    faults.malformed.length > 0 ||
    evidence.some((e) => e.task?.hostDown || stoppedBySwarm(e.task, e.task?.hostDeclaredDownAt !== undefined));
  // Read before the reading is held to the seal: each twin instance's faults.log.
  const twinFaults: (string | undefined)[] = [];
  for (const t of run.twins)
    twinFaults.push(
      await readHead(t.files?.faultsLog, FAULTS_LOG_HEAD, hashedAs(run.read, t.files?.faultsLog)).catch(
        // Sealed, a twin's faults.log that does not read is its own: no drop rules, no twin.
        (e: unknown) => (run.sealed && e instanceof InputError ? undefined : Promise.reject(e)),
      ),
    );
  // What was read, held to the seal: a sealed folder's file swapped for the reading and back is not as
  // collected. That decides more than fault evidence: as collected, a gap is a fork unless the node's own
  // stderr says gomel dropped lines (hostile pass 25: a stderr.txt swapped in for the reading made a fork
  // exit 1, the folder the same afterwards).
  const notAsSealed = options.trustLogs ? undefined : readAgainstSeal(run.seal, options.logs, run.read);
  const asCollected = run.sealed && (options.trustLogs || notAsSealed === undefined);
  const untrusted = holdsEvidence || asCollected !== run.sealed ? notAsSealed : undefined;
  if (untrusted) evidence.splice(0, evidence.length, ...evidence.map(withoutHostLoss));
  const findings = faultsApplied(
    faults.record?.plan,
    evidence.map((e, pid) => ({
      label: e.label,
      events: untrusted ? undefined : faults.logs[pid],
      startedAt: e.startedAt,
      logEndMs: e.stats?.lastMs,
      taskEndedAt: taskEndedAt(e.task),
      exitStatus: e.exitStatus,
    })),
  );
  // A line that does not read counts for nothing, and says so where the others are judged.
  findings.inconsistent.push(
    ...(untrusted ? [] : faults.malformed).map((m) => ({ label: m.split(' ')[0]!, why: m.slice(m.indexOf(' ') + 1) })),
  );
  const twins: TwinRun[] = [];
  const hosts = run.members.map(memberHost);
  for (const [i, t] of run.twins.entries()) {
    const e = twinEvidence[i]!;
    const unapplied = untrusted
      ? "the folder's evidence is not used (its evidence: line says why)"
      : twinNotApplied(
          t,
          faults.logs[t.pid],
          twinFaults[i] === undefined ? undefined : parseFaultsLog(twinFaults[i]!).events,
          hosts,
        );
    twins.push({
      pid: t.pid,
      label: evidence[t.pid]?.label ?? t.label,
      twinLabel: t.twinLabel,
      own: evidence[t.pid]?.stats,
      twin: e.stats,
      ...(t.groups ? { groups: t.groups } : {}),
      ...(unapplied ? { unapplied } : {}),
    });
  }
  const verdict = judge(evidence, run.members.length, limit, findings, twins, asCollected);
  return {
    verdict: untrusted ? { ...verdict, evidenceNotUsed: untrusted } : verdict,
    evidence,
    config,
    faults,
  };
}

/**
 * A twin ran only if each instance cut itself off from the other's half before gomel started
 * (faults.sh apply_twin: node K's faults.log "twin drop <hosts of the second half> ok", node K-twin's
 * "twin drop <hosts of the first half> ok"); else why not. A copy of node K's own folder as its twin's
 * holds K's drop line, not the twin's (hostile pass 11: a copy of a crashed node1's folder as
 * node1-twin/ made it a liar, exit 0).
 */
function twinNotApplied(
  t: LoadedRun['twins'][number],
  own: readonly FaultLogEvent[] | undefined,
  twin: readonly FaultLogEvent[] | undefined,
  hosts: readonly string[],
): string | undefined {
  const names = (group: readonly number[] | undefined) => (group ?? []).map((k) => hosts[k - 1]!).sort();
  const dropped = (events: readonly FaultLogEvent[] | undefined, group: readonly number[] | undefined) =>
    (events ?? []).some(
      (e) =>
        e.ok &&
        e.action === 'twin' &&
        e.args[0] === 'drop' &&
        e.args.slice(1).sort().join(' ') === names(group).join(' '),
    );
  const missing = [
    dropped(own, t.groups?.[1])
      ? undefined
      : `${t.label}'s faults.log has no "twin drop ${names(t.groups?.[1]).join(' ')}"`,
    dropped(twin, t.groups?.[0]) ? undefined : `${t.twinLabel}'s has no "twin drop ${names(t.groups?.[0]).join(' ')}"`,
  ].filter(Boolean);
  return missing.length ? missing.join(' and ') : undefined;
}

/**
 * The run's common start: the first node's started_at (run.sh's record, seconds since the epoch),
 * in ms; undefined when no node recorded one. What `up` times gomel's run from.
 */
export async function readRunStart(logs: string): Promise<number | undefined> {
  const starts: number[] = [];
  for (const f of await discoverNodes(logs)) {
    const t = parseWallClock(await readOptional(f.startedAt));
    if (t !== undefined && t > 0) starts.push(t * 1000);
  }
  return minOf(starts);
}
