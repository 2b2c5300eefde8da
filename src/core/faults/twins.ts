// twin:K on the swarm (issue 34): node K runs as two services with its one key from the start —
// node<K> and node<K>-twin (twinName) — and each is reachable by one half of the other nodes. Pure:
// what every instance sets up before gomel starts (templates/faults.sh apply_twin, run from
// start_together's hook, once the common start is known: the twin learns it from the coordinator like
// any node, and the committee's start counts the committee's hosts only).
//
// How each half reaches its twin. gomel dials a peer by the committee's name (node<K>:9000), which
// Swarm's DNS resolves to node<K>'s own service: the second instance, a service of another name,
// answers to none of it. So a node of the twin's half makes the name its twin's in /etc/hosts (gomel
// is a static Go binary, and Go reads /etc/hosts before DNS when there is no nsswitch.conf, as in the
// busybox image: net/conf.go hostLookupOrder, go1.19), and every side drops the other half, both
// ways, as a partition does: a node that set its name late, or failed to, still reaches no wrong twin.
// The twin itself takes node<K>'s name for its own address (alias node<K> node<K>-twin), so gomel binds
// the committee's address of K there. Not by running with node<K>'s hostname: Docker makes a container's
// hostname a DNS alias on the network, and over a 3-host lab "node3" then resolved to the twin, so the
// twin's half dropped the twin itself and it never learned the start (its files read "planned, not applied").
//   node K's half:      drop node<K>-twin
//   the twin's half:    drop node<K>        then    alias node<K> node<K>-twin
//   node<K>:            drop <the twin's half>
//   node<K>-twin:       alias node<K> node<K>-twin    then    drop <node K's half>
import { twinName, type FaultPlan } from './plan.js';

export interface TwinSetups {
  /** Per node (index k−1): the lines its own instance runs before gomel starts ('' for none). */
  nodes: string[];
  /** Each twinned node's second instance: its pid, its service name, and its lines. */
  twins: { pid: number; name: string; setup: string; startFrom: string | undefined }[];
}

/** What every instance sets up for the plan's twins (see above); `hosts` default the plan's. */
export function twinSetups(plan: FaultPlan, hosts: readonly string[] = plan.hosts): TwinSetups {
  const events = plan.events.filter((e) => e.kind === 'twin');
  const names = (nodes: readonly number[]) => nodes.map((k) => hosts[k - 1]!).join(' ');
  // The lines node k runs for the other nodes' twins, whichever of its instances runs them.
  const asPeer = (k: number) =>
    events.flatMap((e) => {
      const host = hosts[e.nodes[0]! - 1]!;
      const [own = [], twin = []] = e.groups ?? [];
      if (own.includes(k)) return [`drop ${twinName(host)}`];
      if (twin.includes(k)) return [`drop ${host}`, `alias ${host} ${twinName(host)}`];
      return [];
    });
  const text = (lines: readonly string[]) => lines.map((l) => `${l}\n`).join('');
  const mine = (k: number, half: 0 | 1) =>
    events.filter((e) => e.nodes[0] === k).map((e) => `drop ${names(e.groups?.[1 - half] ?? [])}`);
  return {
    nodes: hosts.map((_, i) => text([...mine(i + 1, 0), ...asPeer(i + 1)])),
    twins: events.map((e) => {
      const k = e.nodes[0]!;
      // It learns the start from a node of its own half: the other half drops it once they know it. Not a
      // twinned node: its own instances drop one half of its split (a lab run with twin:3;twin:10 had
      // node3's twin ask node10 for 120 s).
      const twinned = new Set(events.map((x) => x.nodes[0]!));
      const from = (e.groups?.[1] ?? []).find((j) => !twinned.has(j));
      return {
        pid: k - 1,
        name: twinName(hosts[k - 1]!),
        setup: text([`alias ${hosts[k - 1]!} ${twinName(hosts[k - 1]!)}`, ...mine(k, 1), ...asPeer(k)]),
        startFrom: from === undefined ? undefined : hosts[from - 1],
      };
    }),
  };
}
