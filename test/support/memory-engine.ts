// An Engine in memory, behind the narrow interfaces of src/docker/engine-api.ts:
// services, their tasks, secrets, overlay networks, images built and pushed, and
// one swarm host (a manager), with no Docker at all. A created service gets one task
// whose fate the test decides (`fate`): running, complete, or failed with an exit
// code, its output and the files of its /extract. Tests of deploy spawn, logs and
// clean, and of up's whole flow, read what was created and removed from it.
import type Docker from 'dockerode';
import type {
  BuildEngine,
  CleanEngine,
  ClusterEngine,
  CollectEngine,
  SpawnEngine,
} from '../../src/docker/engine-api.js';
import { extractArchive } from './collect-engine.js';

export interface Fate {
  state: 'running' | 'complete' | 'failed' | 'pending';
  exitCode?: number;
  /** The engine's error for the task (Status.Err). */
  err?: string;
  output?: string;
  /** What its container's /extract holds when it is asked for (deploy logs); none: as a container on another host. */
  extract?: () => Record<string, string>;
}

interface StoredService {
  ID: string;
  Spec: Docker.CreateServiceOptions & { Name: string; Labels: Record<string, string> };
  removed: boolean;
}

export class MemoryEngine implements SpawnEngine, CollectEngine, CleanEngine, ClusterEngine, BuildEngine {
  services: StoredService[] = [];
  secrets: {
    ID: string;
    Spec: { Name: string; Labels: Record<string, string> };
    data: Uint8Array;
    removed: boolean;
  }[] = [];
  tasks: {
    ID: string;
    ServiceID: string;
    NodeID: string;
    CreatedAt: string;
    DesiredState?: string;
    Status: { State: string; Timestamp: string; ContainerStatus?: { ExitCode?: number; ContainerID?: string } };
  }[] = [];
  /** Tasks a forced update asked for, which the next task listing shows (the orchestrator makes them a moment later). */
  private createdLater: MemoryEngine['tasks'] = [];
  /** Every call, in order: what the code under test asked of the engine. */
  calls: string[] = [];
  private next = 1;

  constructor(
    readonly networks: string[] = ['net'],
    /** What becomes of a service's task, by service name (node<k>). */
    readonly fate: (name: string) => Fate = () => ({ state: 'running' }),
  ) {}

  private id(prefix: string): string {
    return `${prefix}${String(this.next++).padStart(4, '0')}`;
  }

  private matches(labels: Record<string, string>, wanted: Record<string, string>): boolean {
    return Object.entries(wanted).every(([k, v]) => labels[k] === v);
  }

  live(): StoredService[] {
    return this.services.filter((s) => !s.removed);
  }

  async ping(): Promise<void> {
    this.calls.push('ping');
  }
  async info(): Promise<Awaited<ReturnType<ClusterEngine['info']>>> {
    return {
      Name: 'memory',
      Swarm: { LocalNodeState: 'active', NodeID: 'host1', ControlAvailable: true, NodeAddr: '10.0.0.1' },
    } as Awaited<ReturnType<ClusterEngine['info']>>;
  }
  async swarmInit(): Promise<void> {}
  async swarmInspect(): Promise<never> {
    throw new Error('swarmInspect: not in this memory engine');
  }
  async inspectImage(): Promise<undefined> {
    return undefined;
  }
  async findNetwork(name: string): Promise<Docker.NetworkInspectInfo | undefined> {
    return this.networks.includes(name)
      ? ({ Name: name, Driver: 'overlay', Attachable: true } as Docker.NetworkInspectInfo)
      : undefined;
  }
  async listNetworks(): Promise<Docker.NetworkInspectInfo[]> {
    return this.networks.map((Name) => ({ Name, IPAM: { Config: [] } }) as unknown as Docker.NetworkInspectInfo);
  }
  async createNetwork(spec: Docker.NetworkCreateOptions): Promise<void> {
    this.networks.push(spec.Name);
    this.calls.push(`createNetwork ${spec.Name}`);
  }
  async removeNetwork(name: string): Promise<void> {
    this.networks.splice(this.networks.indexOf(name), 1);
  }
  /** Every image built, by tag: a build always runs (inspectImage knows none), and its push gives a new digest. */
  built: string[] = [];
  async build(_context: Buffer, options: { tag: string }): Promise<{ stream?: string; aux?: { ID?: string } }[]> {
    this.built.push(options.tag);
    this.calls.push(`build ${options.tag}`);
    return [{ stream: 'Step 1/1 : FROM gomelctl/base:busybox\n' }, { aux: { ID: `sha256:${'1'.repeat(64)}` } }];
  }
  async push(tag: string): Promise<{ status?: string; id?: string; aux?: { Digest?: string } }[]> {
    this.calls.push(`push ${tag}`);
    const digest = `sha256:${String(this.built.length).padStart(64, '0')}`;
    return [{ status: 'Pushed', id: 'layer1' }, { aux: { Digest: digest } }];
  }
  async listServices(labels: Record<string, string>): Promise<Docker.Service[]> {
    return this.live().filter((s) => this.matches(s.Spec.Labels, labels)) as unknown as Docker.Service[];
  }
  async createService(spec: Docker.CreateServiceOptions): Promise<string> {
    const id = this.id('svc');
    const stored = { ID: id, Spec: spec as StoredService['Spec'], removed: false };
    this.services.push(stored);
    this.calls.push(`createService ${stored.Spec.Name}`);
    const fate = this.fate(stored.Spec.Name);
    const now = new Date(Date.now() + this.next).toISOString();
    const status =
      fate.state === 'pending'
        ? { State: 'pending', Timestamp: now }
        : {
            State: fate.state,
            Timestamp: now,
            ContainerStatus: { ExitCode: fate.exitCode ?? 0, ContainerID: `ctr-${id}` },
            ...(fate.err !== undefined ? { Err: fate.err } : {}),
          };
    this.tasks.push({ ID: this.id('task'), ServiceID: id, NodeID: 'host1', CreatedAt: now, Status: status });
    return id;
  }
  async removeService(id: string): Promise<void> {
    const s = this.services.find((x) => x.ID === id && !x.removed);
    if (!s) throw new Error(`no service ${id}`);
    s.removed = true;
    this.calls.push(`removeService ${s.Spec.Name}`);
    // Its container stops: the task is shut down, as Swarm does once the grace period is over.
    for (const t of this.tasks) if (t.ServiceID === id && t.Status.State === 'running') t.Status.State = 'shutdown';
  }
  async serviceOutput(id: string): Promise<string> {
    const s = this.services.find((x) => x.ID === id);
    return (s && this.fate(s.Spec.Name).output) ?? '';
  }
  async serviceLogs(): Promise<void> {
    throw new Error('serviceLogs: not in this memory engine');
  }
  /**
   * A new task for the service, with the fate it has now, as a forced update: the old one keeps its state
   * (a failed task stays failed, its desired state shutdown), and the new one is listed from the listing
   * after the next, as Swarm's orchestrator creates it after the update returns.
   */
  async restartService(id: string): Promise<void> {
    const s = this.services.find((x) => x.ID === id && !x.removed)!;
    this.calls.push(`restartService ${s.Spec.Name}`);
    for (const t of this.tasks) if (t.ServiceID === id) t.DesiredState = 'shutdown';
    const fate = this.fate(s.Spec.Name);
    const now = new Date(Date.now() + ++this.next).toISOString();
    this.createdLater.push({
      ID: this.id('task'),
      ServiceID: id,
      NodeID: 'host1',
      CreatedAt: now,
      Status: {
        State: fate.state,
        Timestamp: now,
        ContainerStatus: { ExitCode: fate.exitCode ?? 0, ContainerID: `ctr-${id}-again` },
        ...(fate.err !== undefined ? { Err: fate.err } : {}),
      },
    });
  }
  async setServiceLabels(id: string, labels: Record<string, string>): Promise<void> {
    const s = this.services.find((x) => x.ID === id)!;
    s.Spec.Labels = { ...s.Spec.Labels, ...labels };
  }
  async listTasks(serviceIds: string[]): Promise<Docker.Task[]> {
    const listed = this.tasks.filter((t) => serviceIds.includes(t.ServiceID));
    this.tasks.push(...this.createdLater.splice(0));
    return listed as unknown as Docker.Task[];
  }
  async listAllTasks(): Promise<Docker.Task[]> {
    return this.tasks as unknown as Docker.Task[];
  }
  async listNodes(): Promise<
    { ID: string; Description?: { Hostname?: string }; Status?: { State?: string; Addr?: string } }[]
  > {
    return [{ ID: 'host1', Description: { Hostname: 'host1' }, Status: { State: 'ready', Addr: '10.0.0.1' } }];
  }
  async listSecrets(labels: Record<string, string>): Promise<Docker.Secret[]> {
    return this.secrets.filter((s) => !s.removed && this.matches(s.Spec.Labels, labels)) as unknown as Docker.Secret[];
  }
  async createSecret(name: string, data: Uint8Array, labels: Record<string, string>): Promise<string> {
    const id = this.id('sec');
    this.secrets.push({ ID: id, Spec: { Name: name, Labels: labels }, data, removed: false });
    this.calls.push(`createSecret ${name}`);
    return id;
  }
  async removeSecret(id: string): Promise<void> {
    const s = this.secrets.find((x) => x.ID === id && !x.removed);
    if (!s) throw new Error(`no secret ${id}`);
    s.removed = true;
    this.calls.push(`removeSecret ${s.Spec.Name}`);
  }
  async containerArchive(containerId: string): Promise<Buffer | undefined> {
    const s = this.services.find((x) => `ctr-${x.ID}` === containerId);
    const files = s && this.fate(s.Spec.Name).extract?.();
    // None: as for a container on another host, whose files come shipped in its output.
    return files ? extractArchive(files) : undefined;
  }
  /**
   * The nodes' control listeners (templates/faults.sh control_request), when a test gives them: each request
   * of the messenger (gomelctl fault's, up's), by host, answered as the node would. None: the messenger fails.
   */
  control?: (host: string, request: string) => string;
  async runOnNetwork(
    _image: string,
    _network: string,
    _cmd: string[],
    env: string[],
  ): Promise<{ output: string; exitCode: number }> {
    if (!this.control) throw new Error('runOnNetwork: not in this memory engine');
    const vars = new Map(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    const lines: string[] = [];
    for (let i = 1; i <= Number(vars.get('COUNT')); i++) {
      const host = vars.get(`HOST_${i}`)!;
      lines.push(`gomelctl-fault ${host} ${this.control(host, vars.get(`REQUEST_${i}`)!)}`);
    }
    return { output: `${lines.join('\n')}\n`, exitCode: 0 };
  }
  /** A node's running task ends as `state` (its gomel exited, its run.sh shipped its files). */
  finish(name: string, state: 'complete' | 'failed' = 'complete'): void {
    const s = this.live().find((x) => x.Spec.Name === name)!;
    for (const t of this.tasks) if (t.ServiceID === s.ID && t.Status.State === 'running') t.Status.State = state;
  }
}
