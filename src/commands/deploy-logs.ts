// `gomelctl deploy logs`: every node's output and /extract, collected beside what the verdict needs.
import type { CollectEngine } from '../docker/engine-api.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CheckFailed, EnvironmentError } from '../core/errors.js';
import { committeeFingerprint } from '../core/image/context.js';
import { mapLimit } from '../core/limit.js';
import {
  checkLogsFolder,
  LogsManifestFile,
  removeIfEmpty,
  removeWritten,
  withLogsFolderLock,
  writeNodeLines,
  type NodeFolderCheck,
} from '../fs/logs-folder.js';
import { isFsError, readInputBytes } from '../fs/input.js';
import { deployedRun } from '../core/deploy/run-plan.js';
import { createHash } from 'node:crypto';
import { readTar } from '../docker/build-context.js';
import { separateShipped, type SeparatedOutput } from '../core/logs/shipped.js';
import {
  DEPLOY_LOGS_FILE,
  FAULTS_FILE,
  insideFolder,
  RUN_FILE,
  keptInTheWay,
  someNames,
  TASK_FILE,
} from '../core/logs/logs-folder.js';
import { clip, countsLine, groupLines, groupNames, PER_NODE_LINES_UP_TO } from '../core/summary.js';
import { Engine, retryTransient, type RetryPolicy } from '../docker/engine.js';
import { createFileStream, exists, lstatIfAny, writeNewFile } from '../fs/atomic.js';
import { COMMITTEE_FILE, readCommitteeFile } from '../fs/keys-dir.js';
import type { DeployLogsFlags } from './deploy.flags.js';
import { writtenText, type Output } from './output.js';
import { sealFolder, sealKey } from '../fs/seal.js';
import { readByTheVerdict, SEAL_FILE } from '../core/logs/seal.js';
import { retryReporter } from './engine-retry.js';
import { readStatus, type NodeStatus } from '../docker/deployment.js';
import { stoppedBySwarm } from '../core/logs/shutdown.js';
import { declaredDownAt } from '../core/deploy/host-events.js';
import { appendAll, minOf } from '../core/bounded.js';

/** What `deploy logs` was given; without --keys/--configs (a test, the bench) nothing is copied beside the logs. */
type DeployLogsOptions = Omit<DeployLogsFlags, 'keys' | 'configs'> &
  Partial<Pick<DeployLogsFlags, 'keys' | 'configs'>> & {
    /** Empty the folder first (only of what deploy logs wrote there): `up` judges fresh logs only. */
    fresh?: boolean;
  };

interface PreparedFolder {
  /** The top-level entries of gomelctl's the folder still holds. */
  entries: string[];
  /** What gomelctl's manifest records writing inside each of them. */
  files: Record<string, string[]>;
  /** The node folders this run writes again or emptied, planned: what of them is gomelctl's, what is kept. */
  folders: Map<string, NodeFolderCheck>;
}

/**
 * The folder, refused (before anything is written or deleted) when it holds what gomelctl did
 * not write, at the top or as a node's evidence; else emptied, for a fresh run, of what it wrote.
 */
async function prepareLogsFolder(
  options: DeployLogsOptions,
  nodes: readonly string[],
  out: Output,
): Promise<PreparedFolder> {
  const check = await checkLogsFolder(options.out, Boolean(options.fresh), '--out', nodes);
  for (const [name, folder] of check.folders) {
    if (!folder.keep.length) continue;
    out.line(
      `${path.join(options.out, name)}: kept ${someNames(folder.keep)}, which gomelctl did not write${
        folder.recorded ? '' : ' (as far as it can tell: it wrote this folder before it recorded each file)'
      }`,
    );
  }
  // Stale node folders would skew the verdict: `up` removes what an earlier run left, and only that.
  // The manifest on disk still lists all of it until the new one is written: a run killed here loses nothing.
  const files = { ...check.files };
  const gone = new Set<string>();
  for (const name of check.remove) {
    const target = path.join(options.out, name);
    const folder = check.folders.get(name);
    if (!folder) await fs.rm(target, { force: true });
    else {
      // A node's folder: only gomelctl's files go, and the folder with them unless the user's stay.
      await removeWritten(target, folder.remove);
      files[name] = [];
      if (!(await removeIfEmpty(target))) continue;
    }
    gone.add(name);
  }
  // What stays is ours (the plan refused anything else): the new manifest lists it again.
  const entries = check.present.filter((n) => !gone.has(n));
  return {
    entries,
    files: Object.fromEntries(Object.entries(files).filter(([name]) => entries.includes(name))),
    folders: check.folders,
  };
}

/**
 * Collects every node's output and /extract — also from nodes still running
 * (gomel writes its logs straight into /extract) — and leaves beside them what
 * the verdict needs: each task's state (task.json), the committee and the config.
 */
export async function deployLogs(
  options: DeployLogsOptions,
  out: Output,
  engine: CollectEngine = new Engine(),
): Promise<void> {
  const retry = retryReporter(out, 'deploy logs');
  // The key the collection will be sealed with, before anything is written (a key file that is none refused first).
  await sealKey();
  const status = await readStatus(engine, options.network, retry);
  if (status.length === 0) throw new CheckFailed(`deploy logs: no gomelctl services on ${options.network}`);
  // From the folder's plan to its last manifest: a second run into it waits for this one.
  await withLogsFolderLock(options.out, () => collectInto(options, status, out, engine, retry));
}

async function collectInto(
  options: DeployLogsOptions,
  status: NodeStatus[],
  out: Output,
  engine: CollectEngine,
  retry: RetryPolicy,
): Promise<void> {
  const prepared = await prepareLogsFolder(
    options,
    status.map((s) => s.node),
    out,
  );
  await fs.mkdir(options.out, { recursive: true });
  const written = new Set([
    ...prepared.entries,
    ...status.flatMap((s) => [`${s.node}.log`, s.node]),
    COMMITTEE_FILE,
    'conf.json',
    RUN_FILE,
    FAULTS_FILE,
    DEPLOY_LOGS_FILE,
    SEAL_FILE,
  ]);
  // The manifest is written before the files it names: a run killed half-way leaves nothing unlisted.
  const manifest = new LogsManifestFile(options.out, {
    network: options.network,
    entries: [...written],
    files: prepared.files,
  });
  await manifest.save();
  await copyRunInputs(status, options, out);
  await recordRun(status, options);
  const downAt = await hostsDeclaredDown(status, engine);
  const redact = writtenText(out);
  const results = await mapLimit(status, 8, (s) =>
    collectNode(
      s,
      options,
      engine,
      retry,
      { manifest, folder: prepared.folders.get(s.node), redact },
      downAt.get(s.node),
    ),
  );
  // Each node folder's record narrowed to what it holds of gomelctl's.
  await manifest.save();
  const file = await writeNodeLines(
    options.out,
    DEPLOY_LOGS_FILE,
    results.flatMap((r) =>
      [r.line, ...r.incomplete.map((why) => `  ${r.node}: evidence incomplete: ${why}`)].map(redact),
    ),
  );
  // Last: what this collection wrote, as it is now, is what the verdict may take as the run's evidence
  // (core/logs/seal.ts). Only that: a node folder of an earlier collection left beside it (its service
  // gone since) is no evidence of this run (hostile pass 13: a forged one was sealed on re-collection).
  const collected = [
    ...[COMMITTEE_FILE, 'conf.json', RUN_FILE, DEPLOY_LOGS_FILE],
    ...results.flatMap((r) => [`${r.node}.log`, ...r.written.map((rel) => `${r.node}/${rel}`)]),
  ];
  await sealFolder(options.out, options.network, collected);
  if (results.length <= PER_NODE_LINES_UP_TO) {
    for (const r of results) {
      out.line(r.line);
      if (r.incomplete.length)
        out.warn(
          `deploy logs: ${r.node}: evidence incomplete: ${r.incomplete.join('; ')} — the verdict marks it so; ${INCOMPLETE_FIX}`,
        );
    }
    return;
  }
  for (const line of summarizeCollected(results, options.out)) out.line(line);
  out.line(`logs: one line per node: ${file}`);
  const incomplete = results.filter((r) => r.incomplete.length);
  if (incomplete.length) {
    const first = incomplete[0]!;
    out.warn(
      `deploy logs: evidence incomplete on ${incomplete.length} node(s): ${someNames(incomplete.map((r) => r.node))} (${first.node}: ${clip(first.incomplete[0]!, 100)}); the verdict marks them so; every node's in ${file}`,
    );
    out.warn(`deploy logs: ${INCOMPLETE_FIX}`);
  }
}

/** What came of each node, counted; the nodes without files by why, and those still running: as many lines whatever N. */
function summarizeCollected(results: readonly CollectedNode[], folder: string): string[] {
  const how = groupNames(
    results,
    (r) => r.how,
    (r) => r.node,
  );
  const none = groupNames(
    results.filter((r) => r.uncollected !== undefined),
    (r) => `without files: ${r.uncollected}`,
    (r) => r.node,
  );
  const running = results.filter((r) => r.running).map((r) => r.node);
  return [
    `logs: ${results.length} nodes → ${folder}: ${countsLine(how)}`,
    ...groupLines(none).map((line) => `logs: ${line}`),
    ...(running.length ? [`logs: ${running.length} still running: ${someNames(running)}`] : []),
  ];
}

const INCOMPLETE_FIX =
  "if the engine limits its logs (log-opts max-size/max-file), raise them and run again; a node's own engine still holds its /extract until the service is removed";

interface CollectedNode {
  node: string;
  line: string;
  /** Where its files came from. */
  how: 'with files from /extract' | 'with files shipped at exit' | 'without files';
  /** Why it has no files, when it has none. */
  uncollected: string | undefined;
  running: boolean;
  /** What of its evidence did not arrive whole. */
  incomplete: string[];
  /** The files this collection wrote in its folder ('/'-separated), task.json among them. */
  written: string[];
}

/** Where a node's files go: the folder's manifest, and what of the node's folder is gomelctl's (undefined: a new folder). */
interface NodeTarget {
  manifest: LogsManifestFile;
  folder: NodeFolderCheck | undefined;
  /** What gomelctl writes of a node's or the engine's words goes through it (Output.redact). */
  redact: (text: string) => string;
}

/** Entries of a node's /extract archive that hold no file of its own: a folder is made by its files. */
const NOT_EVIDENCE = new Set(['directory', 'pax-global-header']);

/** One node: its service output to <out>/<node>.log, its /extract to <out>/<node>/, and task.json saying what arrived. */
/**
 * A name from a node's /extract, as its evidence-incomplete list quotes it: clipped, and the list says how
 * many, never each whole (hostile pass 29: 4 names of 3.8 MB each made task.json 107 MB and held 1.5 GB).
 */
const quoted = (name: string): string => clip(JSON.stringify(name), 120);

/** At most this many problems of one node's evidence are said, each clipped. */
const INCOMPLETE_SAID = 20;

/** At most this many files of one node's /extract are written, and this much of their names (JSON, as the seal holds them). */
const NODE_FILES = 256;
const NODE_NAME_BYTES = 64 * 1024;

async function collectNode(
  s: NodeStatus,
  options: DeployLogsOptions,
  engine: CollectEngine,
  retry: RetryPolicy,
  target: NodeTarget,
  hostDeclaredDownAt: number | undefined,
): Promise<CollectedNode> {
  const file = path.join(options.out, `${s.node}.log`);
  let shipped: SeparatedOutput | undefined;
  let lostOutput: string | undefined;
  if (s.hostDown) {
    // Its host no longer answers: the manager would wait for its output without end.
    lostOutput = `its host ${s.swarmNode ?? '?'} is down`;
    await writeNewFile(file, `gomelctl: no output: ${target.redact(lostOutput)}\n`);
  } else if (options.follow) {
    const sink = await createFileStream(file);
    await retryTransient(() => engine.serviceLogs(s.serviceId, true, sink), retry);
    await new Promise<void>((resolve) => sink.end(resolve));
  } else {
    try {
      shipped = separateShipped(await retryTransient(() => engine.serviceOutput(s.serviceId), retry));
      await writeNewFile(file, shipped.output);
    } catch (error) {
      if (!(error instanceof EnvironmentError)) throw error;
      lostOutput = error.message;
      await writeNewFile(file, `gomelctl: no output: ${target.redact(lostOutput)}\n`);
    }
  }
  const dir = path.join(options.out, s.node);
  // Through the engine that runs the container (also while it runs), else what the node shipped at exit.
  const incomplete: string[] = [];
  const local =
    s.containerId && !s.hostDown
      ? await retryTransient(() => engine.containerArchive(s.containerId!, '/extract'), retry)
      : undefined;
  let files: { name: string; content: Uint8Array }[] = [];
  if (local) {
    try {
      // The archive comes from inside a container: only its regular files are taken, each only
      // inside the node's folder (insideFolder); a folder entry is made by its files, a link never.
      const entries = (await readTar(local)).map((e) => ({ ...e, name: e.name.replace(/^(extract\/|\.\/)/, '') }));
      files = entries.filter((e) => e.type === 'file' || e.type === 'contiguous-file');
      // A link (or a device, a FIFO) is left out as a name outside the folder is: named, not dropped unseen.
      const skipped = entries.filter((e) => !NOT_EVIDENCE.has(e.type) && !files.includes(e));
      if (skipped.length)
        incomplete.push(
          `${skipped.length} link(s) or special file(s) in its /extract were not written, as gomelctl follows no link out of a container (${someNames(skipped.map((e) => `${quoted(e.name)} (${e.type}${e.linkname !== undefined ? ` to ${clip(JSON.stringify(e.linkname), 60)}` : ''})`))})`,
        );
    } catch (error) {
      incomplete.push(`the archive of its /extract from its engine does not read (${(error as Error).message})`);
    }
  } else if (shipped?.shipment) {
    files = shipped.shipment.files.map((f) => ({ name: f.path, content: f.content }));
    appendAll(incomplete, shipped.shipment.problems);
  }
  const outside: string[] = [];
  const ownTask: string[] = [];
  const toWrite: { name: string; rel: string; content: Uint8Array }[] = [];
  const kept = target.folder?.keep ?? [];
  for (const entry of files) {
    const rel = insideFolder(entry.name);
    if (!rel) outside.push(entry.name);
    else if (rel === TASK_FILE || rel.startsWith(`${TASK_FILE}/`))
      // gomelctl's record of the node's task: a node's own file of that name would be read as the engine's
      // word, and a folder of that name aborted the whole collection (hostile pass 13, EISDIR).
      ownTask.push(entry.name);
    else {
      // A file the user keeps in the node's folder is never overwritten, nor written through (a link).
      const user = keptInTheWay(rel, kept);
      if (user === undefined) toWrite.push({ ...entry, rel });
      else
        incomplete.push(
          `${quoted(entry.name)} from its /extract was not written: ${path.join(dir, user)} is kept there, which gomelctl did not write (move it away and collect again)`,
        );
    }
  }
  if (ownTask.length)
    incomplete.push(
      `${someNames(ownTask.map(quoted))} from its /extract ${ownTask.length === 1 ? 'was' : 'were'} not written: ${TASK_FILE} is gomelctl's record of its task`,
    );
  // What a node's folder may hold: the seal (and the folder's manifest) name each file, and a reader holds
  // them to 64 MiB; one node's /extract of 3,000 empty files with 3.7 KB names made the seal unreadable
  // and every node's fault evidence unused (hostile pass 28). A node's own evidence files come first.
  const bounded = [...toWrite].sort(
    (a, b) => Number(!readByTheVerdict(`x/${a.rel}`)) - Number(!readByTheVerdict(`x/${b.rel}`)),
  );
  let nameBytes = 0;
  const fits = bounded.filter(
    (f, i) => (nameBytes += JSON.stringify(f.rel).length) <= NODE_NAME_BYTES && i < NODE_FILES,
  );
  if (fits.length < toWrite.length)
    incomplete.push(
      `${toWrite.length - fits.length} more file(s) in its /extract were not written: a node's folder holds at most ${NODE_FILES} files and ${NODE_NAME_BYTES / 1024} KiB of names`,
    );
  toWrite.splice(0, toWrite.length, ...fits);
  // Recorded before anything of the node's folder changes: killed at any point after, the
  // manifest names all of gomelctl's in it (the last run's, this run's), and nothing of the user's.
  const old = target.folder?.remove ?? [];
  await target.manifest.record(s.node, [
    ...old.filter((leaf) => !leaf.endsWith('/')),
    ...toWrite.map((f) => f.rel),
    TASK_FILE,
  ]);
  // Only the last run's files go; what the user put there stays (planNodeFolder).
  await removeWritten(dir, old);
  if (!target.folder && (await lstatIfAny(dir))?.isDirectory() === false) await fs.rm(dir, { force: true });
  await fs.mkdir(dir, { recursive: true });
  const wrote: string[] = [];
  for (const entry of toWrite) {
    try {
      await fs.mkdir(path.dirname(path.join(dir, entry.rel)), { recursive: true });
      await writeNewFile(path.join(dir, entry.rel), entry.content);
      wrote.push(entry.rel);
    } catch (error) {
      // Two entries that cannot both be (a file "a" and a file "a/b"): the first stays, the node's other files too.
      if (!isFsError(error)) throw error;
      incomplete.push(`${quoted(entry.name)} from its /extract was not written (${error.code})`);
    }
  }
  if (outside.length)
    incomplete.push(
      `${outside.length} name(s) in its /extract pointed outside its folder and were not written (${someNames(outside.map(quoted))})`,
    );
  const extracted = wrote.length;
  // Clipped as the incomplete list: it may quote a shipped file's path whole (hostile pass 31: a 60 MB one).
  const uncollected = extracted ? undefined : clip(lostOutput ?? whyNoFiles(s, shipped), 600);
  // What is said of it is said in a few clipped lines, whatever the node sent: a node's shipment can
  // name thousands of problems with long paths (hostile pass 30: 240k malformed records, 61 MB of
  // deploy-logs.txt and 1.2 GB held), and the names from its /extract were clipped already (pass 29).
  const said = incomplete.slice(0, INCOMPLETE_SAID).map((why) => clip(why, 600));
  if (incomplete.length > INCOMPLETE_SAID) said.push(`and ${incomplete.length - INCOMPLETE_SAID} more problem(s)`);
  incomplete.splice(0, incomplete.length, ...said);
  const task = {
    state: s.state,
    desiredState: s.desiredState,
    exitCode: s.exitCode,
    swarmNode: s.swarmNode,
    hostDown: s.hostDown || undefined,
    hostDeclaredDownAt,
    error: s.error,
    since: s.since,
    uncollected,
    incomplete: incomplete.length ? incomplete : undefined,
    // What was run, for the report: the digest names the build (binary or code) exactly.
    image: s.image,
  };
  // Every string of it may quote the node or the engine (a task error, a shipped file's name): each redacted, not
  // the JSON text, where a redaction could cut an escape (\u001b) in two.
  const text = JSON.stringify(task, (_, value: unknown) => (typeof value === 'string' ? target.redact(value) : value));
  await writeNewFile(path.join(dir, TASK_FILE), `${text}\n`);
  // The last run's files are gone: the record is this run's. A write that failed may have left part of a
  // file or its folder, so each file attempted stays recorded (recorded and absent costs nothing).
  target.manifest.settle(s.node, [...toWrite.map((f) => f.rel), TASK_FILE]);
  const where = extracted
    ? `, ${extracted} file(s) ${local ? 'from /extract' : 'shipped at exit'} in ${dir}/`
    : `; no files: ${uncollected}`;
  const running = s.phase === 'running' && !s.hostDown;
  return {
    node: s.node,
    line: `logs: ${s.node} → ${file}${where}${running ? ' (still running)' : ''}`,
    how: extracted ? (local ? 'with files from /extract' : 'with files shipped at exit') : 'without files',
    uncollected,
    running,
    incomplete,
    written: [...wrote, TASK_FILE],
  };
}

/**
 * For each node the swarm stopped (stoppedBySwarm), when its host was declared down: the manager's
 * record of the host's state changes, the last "down" in the two minutes before its task shut down.
 * A lookup that fails, or an engine that has no such record, leaves the time out, nothing else.
 */
async function hostsDeclaredDown(status: readonly NodeStatus[], engine: CollectEngine): Promise<Map<string, number>> {
  // A "failed" task is the swarm's only if its host's down is found (stoppedBySwarm): looked up as well.
  const stopped = status.filter((s) => stoppedBySwarm(s, true) && s.since);
  const found = new Map<string, number>();
  if (!stopped.length || !engine.hostStateChanges) return found;
  const shutAt = (s: NodeStatus) => Date.parse(s.since!) / 1000;
  const changes = await engine.hostStateChanges(minOf(stopped.map(shutAt))! - 120).catch(() => []);
  for (const s of stopped) {
    const at = declaredDownAt(changes, s.swarmNode, shutAt(s));
    if (at !== undefined && at >= shutAt(s) - 120) found.set(s.node, at);
  }
  return found;
}

/** Why a node's /extract could not be collected, in words a user can act on. */
function whyNoFiles(s: NodeStatus, shipped: SeparatedOutput | undefined): string {
  if (shipped?.shipment?.overCap) return shipped.shipment.problems[0]!;
  if (shipped?.shipment) return `its shipment held no file whole: ${shipped.shipment.problems[0] ?? 'empty'}`;
  if (s.phase === 'running' || s.phase === 'pending')
    return `still ${s.phase} on ${s.swarmNode ?? 'another host'}, whose engine this one cannot copy from; it ships its files when it exits`;
  return s.containerId ? 'its container is on another engine and shipped nothing' : 'it never started a container';
}

/**
 * The run's record beside its logs (run.json), as its services carry it: the folder can be judged
 * on its own later, and the verdict judges each node's faults.log by its fault plan.
 */
async function recordRun(status: readonly NodeStatus[], options: DeployLogsOptions): Promise<void> {
  // An older gomelctl's record of the faults: left here, an earlier run's would be read as this one's.
  await fs.rm(path.join(options.out, FAULTS_FILE), { force: true });
  const file = path.join(options.out, RUN_FILE);
  const record = deployedRun(status, options.network);
  if (record === undefined) return fs.rm(file, { force: true });
  if ('unreadable' in record)
    throw new EnvironmentError(
      `deploy logs: the services' ${record.unreadable} label is not a fault plan gomelctl wrote; the verdict cannot tell planned faults — redeploy with \`gomelctl deploy spawn --faults …\``,
    );
  await writeNewFile(file, `${JSON.stringify(record, null, 2)}\n`);
}

/** committee.ka and the config the nodes ran, beside the logs, when the local files are the deployed ones. */
async function copyRunInputs(status: readonly NodeStatus[], options: DeployLogsOptions, out: Output): Promise<void> {
  const first = status[0]!;
  const committee = options.keys ? await readCommitteeFile(options.keys).catch(() => undefined) : undefined;
  if (committee && committeeFingerprint(committee.bytes) === first.committee)
    await writeNewFile(path.join(options.out, COMMITTEE_FILE), committee.bytes);
  else {
    // An earlier run's committee left here would be judged as this run's.
    await fs.rm(path.join(options.out, COMMITTEE_FILE), { force: true });
    out.warn(
      `deploy logs: ${options.keys ?? 'the keys folder'} does not hold the deployed committee (${first.committee ?? 'unknown'}); pass --keys to the verdict`,
    );
  }
  // The config only when it is the one deployed (the run's record holds its hash): the working folder's
  // configs/config.json was copied for a run deployed from another configs folder, and judged by.
  const config = options.configs && first.config ? path.join(options.configs, `${first.config}.json`) : undefined;
  const bytes = config && (await exists(config)) ? await readInputBytes(config, 'config') : undefined;
  const record = deployedRun(status, options.network);
  const deployed = record && !('unreadable' in record) ? record.configSha256 : undefined;
  if (bytes && deployed !== undefined && createHash('sha256').update(bytes).digest('hex') === deployed)
    await writeNewFile(path.join(options.out, 'conf.json'), bytes);
  else {
    await fs.rm(path.join(options.out, 'conf.json'), { force: true });
    if (first.config)
      out.warn(
        `deploy logs: ${config ?? `the configs folder's ${first.config}.json`} is not the config the nodes were deployed with; pass --config to the verdict`,
      );
  }
}
