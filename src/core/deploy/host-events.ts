// When the swarm declared a host down (issue 36). The manager's engine records each
// change of a swarm node's state as an event (GET /events, type "node", action
// "update", Actor.Attributes "state.old" / "state.new" and the host's name):
//   {"Type":"node","Action":"update","Actor":{"ID":"…","Attributes":{"name":"gl-h3",
//    "state.new":"down","state.old":"ready"}},"time":1796623888,"timeNano":…}
// A host whose heartbeats the dispatcher missed goes down and, alive, ready again
// within seconds; its tasks the orchestrator has meanwhile shut down. Pure.

export interface HostStateChange {
  host: string;
  from: string;
  to: string;
  /** Epoch seconds, with the fraction timeNano gives. */
  atSeconds: number;
}

/** The node state changes in an events stream's JSON lines; other lines and events are skipped. */
export function parseHostStateChanges(text: string): HostStateChange[] {
  const changes: HostStateChange[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let event: {
      Type?: unknown;
      Actor?: { Attributes?: Record<string, unknown> };
      time?: unknown;
      timeNano?: unknown;
    };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      continue;
    }
    const a = event.Actor?.Attributes ?? {};
    const [host, from, to] = [a.name, a['state.old'], a['state.new']];
    if (event.Type !== 'node' || typeof host !== 'string' || typeof to !== 'string') continue;
    const at = typeof event.timeNano === 'number' ? event.timeNano / 1e9 : Number(event.time);
    if (!Number.isFinite(at)) continue;
    changes.push({ host, from: typeof from === 'string' ? from : '', to, atSeconds: at });
  }
  return changes.sort((x, y) => x.atSeconds - y.atSeconds);
}

/** The last time `host` was declared down at or before `beforeSeconds` (a task it ran was shut down then), if recorded. */
export function declaredDownAt(
  changes: readonly HostStateChange[],
  host: string | undefined,
  beforeSeconds: number,
): number | undefined {
  const downs = changes.filter((c) => c.host === host && c.to === 'down' && c.atSeconds <= beforeSeconds);
  return downs[downs.length - 1]?.atSeconds;
}
