// An Engine in memory, behind the narrow interfaces of src/docker/engine-api.ts:
// services, their tasks, secrets and one swarm host, with no Docker at all. A
// created service gets one task whose fate the test decides (`fate`): running,
// complete, or failed with an exit code and output. Tests of deploy spawn, logs
// and clean read what was created and removed from it.
import type Docker from 'dockerode';
import type { CleanEngine, CollectEngine, SpawnEngine } from '../../src/docker/engine-api.js';

export interface Fate {
  state: 'running' | 'complete' | 'failed' | 'pending';
  exitCode?: number;
  output?: string;
}

interface StoredService {
  ID: string;
  Spec: Docker.CreateServiceOptions & { Name: string; Labels: Record<string, string> };
  removed: boolean;
}

export class MemoryEngine implements SpawnEngine, CollectEngine, CleanEngine {
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
    Status: { State: string; Timestamp: string; ContainerStatus?: { ExitCode?: number; ContainerID?: string } };
  }[] = [];
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
  async info(): Promise<never> {
    throw new Error('info: not in this memory engine');
  }
  async swarmInit(): Promise<void> {}
  async swarmInspect(): Promise<never> {
    throw new Error('swarmInspect: not in this memory engine');
  }
  async inspectImage(): Promise<undefined> {
    return undefined;
  }
  async findNetwork(name: string): Promise<Docker.NetworkInspectInfo | undefined> {
    return this.networks.includes(name) ? ({ Name: name } as Docker.NetworkInspectInfo) : undefined;
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
  async setServiceLabels(id: string, labels: Record<string, string>): Promise<void> {
    const s = this.services.find((x) => x.ID === id)!;
    s.Spec.Labels = { ...s.Spec.Labels, ...labels };
  }
  async listTasks(serviceIds: string[]): Promise<Docker.Task[]> {
    return this.tasks.filter((t) => serviceIds.includes(t.ServiceID)) as unknown as Docker.Task[];
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
  async containerArchive(): Promise<undefined> {
    return undefined; // as for a container on another host: its files come shipped in its output
  }
  async runOnNetwork(): Promise<never> {
    throw new Error('runOnNetwork: not in this memory engine');
  }
}
