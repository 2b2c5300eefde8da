// A run's logs folder, read: its committee, config, fault record and each
// node's evidence (what `deploy logs` wrote, or <pid>.log files side by side),
// judged by the pure verdict. Shared by `verdict` and `report`.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { memberHost, parseCommittee, type Member } from '../core/keys/committee.js';
import { checkConfigText } from '../core/config/check.js';
import { InputError } from '../core/errors.js';
import { judge, type NodeEvidence, type Verdict } from '../core/logs/verdict.js';
import { faultsApplied } from '../core/faults/evidence.js';
import { parseFaultsLog, type FaultLogEvent } from '../core/faults/log.js';
import { FAULT_RECORD_FILE, type FaultRecordFile } from '../core/faults/plan.js';
import { FAULTS_FILE } from '../core/logs/logs-folder.js';
import { exists } from './atomic.js';
import { COMMITTEE_FILE } from './keys-dir.js';
import { discoverNodes, readHead, readLogStats, readOptional, STDERR_HEAD, type NodeFiles } from './node-logs.js';
import { eventBudget } from '../core/logs/log-stats.js';
import { readInput, readOptionalInput } from './input.js';
import { inputFail, parseJsonWith } from '../core/json-input.js';
import { z } from 'zod';

export interface VerdictOptions {
  logs: string;
  /** A config name (from --configs) or a path to a config file. */
  config?: string;
  configs: string;
  keys: string;
  json?: boolean;
  /** Also require every node to have shut down cleanly. */
  strict?: boolean;
}

/** The committee the run used: the logs folder's committee.ka, else the keys folder's. Never guessed from the logs. */
async function readRunCommittee(options: VerdictOptions): Promise<Member[]> {
  for (const file of [path.join(options.logs, COMMITTEE_FILE), path.join(options.keys, COMMITTEE_FILE)]) {
    if (await exists(file)) return parseCommittee(await readInput(file, 'committee file'), file);
  }
  throw new InputError(
    options.logs,
    undefined,
    `no ${COMMITTEE_FILE} here nor in ${options.keys}, so the committee size is unknown`,
    `pass --keys DIR with the committee the run used, or copy its ${COMMITTEE_FILE} into the logs folder`,
  );
}

/** LevelLimit: --config (a name in --configs, or a path), else the logs folder's conf.json, else configs/config.json. */
async function levelLimit(options: VerdictOptions): Promise<number> {
  const given = options.config;
  const candidates = given
    ? [given.includes('/') || given.endsWith('.json') ? given : path.join(options.configs, `${given}.json`)]
    : [path.join(options.logs, 'conf.json'), path.join(options.configs, 'config.json')];
  for (const file of candidates) {
    if (!given && !(await exists(file))) continue;
    const { config, problems } = checkConfigText(await readInput(file, 'config'), undefined);
    if (!config)
      throw new InputError(
        file,
        problems[0]?.path,
        `cannot read LevelLimit: ${problems[0]?.message}`,
        'fix the config or pass --config',
      );
    return config.LevelLimit;
  }
  throw new InputError(
    candidates[0]!,
    undefined,
    'no config to read LevelLimit from',
    'pass --config NAME (from --configs) or --config FILE',
  );
}

/** Gives each node found its pid: the pid in its log's name, else its folder named as a committee host. */
function assignPids(files: readonly NodeFiles[], members: readonly Member[], logsDir: string): Map<number, NodeFiles> {
  const hosts = members.map(memberHost);
  const byPid = new Map<number, NodeFiles>();
  for (const f of files) {
    const where = f.log ?? path.join(logsDir, f.label);
    const pid = f.logPid ?? hosts.indexOf(f.label);
    if (pid < 0)
      throw new InputError(
        where,
        undefined,
        `no committee line names host ${f.label}`,
        'pass --keys with the committee the run used, or move the folder away',
      );
    if (pid >= members.length)
      throw new InputError(
        where,
        undefined,
        `pid ${pid} is outside the ${members.length}-node committee`,
        'pass --keys with the committee the run used, or move the log away',
      );
    const seen = byPid.get(pid);
    if (seen)
      throw new InputError(
        where,
        undefined,
        `a second log for pid ${pid} (the other: ${seen.log ?? seen.label})`,
        'keep one log per node',
      );
    byPid.set(pid, f);
  }
  return byPid;
}

const RECOLLECT = 'collect the logs again with `gomelctl deploy logs`, or remove the file';

/** A run's faults as its folder holds them: the record (faults.json: what was asked) and each node's faults.log (what was done). */
export interface RunFaultFiles {
  /** undefined: the run had no fault plan and no live fault (no faults.json). */
  record: FaultRecordFile | undefined;
  /** Per committee pid: the node's faults.log, parsed (undefined: it left none). */
  logs: (FaultLogEvent[] | undefined)[];
  /** "node3 faults.log line 4: <reason>" for each line that did not parse. */
  malformed: string[];
}

async function readFaultFiles(logs: string, nodes: LoadedRun['nodes']): Promise<RunFaultFiles> {
  const file = path.join(logs, FAULTS_FILE);
  const text = await readOptionalInput(file, 'fault record');
  const record = text === undefined ? undefined : parseJsonWith(text, FAULT_RECORD_FILE, inputFail(file, RECOLLECT));
  const faultLogs: RunFaultFiles['logs'] = [];
  const malformed: string[] = [];
  for (const node of nodes) {
    const log = await readOptional(node.files?.faultsLog);
    const parsed = log === undefined ? undefined : parseFaultsLog(log);
    faultLogs.push(parsed?.events);
    for (const m of parsed?.malformed ?? []) malformed.push(`${node.label} faults.log line ${m.line}: ${m.reason}`);
  }
  return { record, logs: faultLogs, malformed };
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

async function readEvidence(
  pid: number,
  f: NodeFiles | undefined,
  label: string,
  maxEvents: number,
  alsoLine?: (line: string) => void,
): Promise<NodeEvidence> {
  if (!f) return { pid, label, stats: undefined, logProblem: 'no log', exitStatus: undefined, stderr: undefined };
  const read = f.log ? await readLogStats(f.log, alsoLine, undefined, maxEvents) : undefined;
  const status = (await readOptional(f.exitStatus))?.trim();
  const taskText = await readOptional(f.task);
  const task = taskText && f.task ? readTask(taskText, f.task) : undefined;
  const started = (await readOptional(f.startedAt))?.trim();
  return {
    pid,
    label: f.label,
    stats: read?.stats,
    logProblem: read ? read.problem : task?.uncollected ? `no files collected: ${task.uncollected}` : 'no gomel log',
    exitStatus: status && /^\d+$/.test(status) ? Number(status) : undefined,
    // Its head only: a goroutine dump of a large committee runs to megabytes, the panic comes first.
    stderr: await readHead(f.stderr, STDERR_HEAD),
    task,
    startedAt: started && Number.isFinite(Number(started)) ? Number(started) : undefined,
  };
}

interface LoadedRun {
  members: Member[];
  /** One entry per committee pid: its label and the files found for it. */
  nodes: { pid: number; label: string; files: NodeFiles | undefined }[];
  probe: boolean;
}

/** The run in a logs folder: its committee, and each pid's files (refusing duplicates and strangers). */
export async function loadRun(options: VerdictOptions): Promise<LoadedRun> {
  if (!(await exists(options.logs)))
    throw new InputError(
      options.logs,
      undefined,
      'no such logs folder',
      'collect logs with `gomelctl deploy logs` or pass --logs DIR',
    );
  if (!(await fs.stat(options.logs)).isDirectory())
    throw new InputError(
      options.logs,
      undefined,
      'is a file, not a logs folder',
      'pass the folder `gomelctl deploy logs --out` wrote',
    );
  const members = await readRunCommittee(options);
  const files = await discoverNodes(options.logs);
  if (files.length === 0)
    throw new InputError(
      options.logs,
      undefined,
      'holds no node logs (<pid>.log[.gz] files, or one folder per node)',
      'collect them with `gomelctl deploy logs`',
    );
  const byPid = assignPids(files, members, options.logs);
  const flat = files.every((f) => f.label.startsWith('pid '));
  const nodes = members.map((m, pid) => ({
    pid,
    label: byPid.get(pid)?.label ?? (flat ? `pid ${pid}` : memberHost(m)),
    files: byPid.get(pid),
  }));
  return { members, nodes, probe: files.some((f) => f.probe) };
}

/** The consensus verdict of a loaded run (gomel logs, not probe reports); `lineSink(pid)` sees each log's lines as they are read. */
export async function judgeRun(
  run: LoadedRun,
  options: VerdictOptions,
  lineSink?: (pid: number) => (line: string) => void,
): Promise<{ verdict: Verdict; evidence: NodeEvidence[]; levelLimit: number; faults: RunFaultFiles }> {
  const limit = await levelLimit(options);
  const faults = await readFaultFiles(options.logs, run.nodes);
  const evidence: NodeEvidence[] = [];
  const budget = eventBudget(run.members.length);
  for (const node of run.nodes)
    evidence.push(await readEvidence(node.pid, node.files, node.label, budget, lineSink?.(node.pid)));
  const findings = faultsApplied(
    faults.record?.plan,
    evidence.map((e, pid) => ({ label: e.label, events: faults.logs[pid], startedAt: e.startedAt })),
  );
  return { verdict: judge(evidence, run.members.length, limit, findings), evidence, levelLimit: limit, faults };
}
