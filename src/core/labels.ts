// Every label gomelctl puts on what it creates in the engine, in one place:
// `deploy clean` and `down` remove only what carries `managed` and the
// deployment's name (gomelctl deletes only what it wrote).
export const LABELS = {
  /** On every image, network, service and secret gomelctl made. */
  managed: 'org.gomelctl.managed',
  /** Image: the fingerprint of the committee.ka built in. */
  committee: 'org.gomelctl.committee',
  /** Image: the hash of its build context (an unchanged context is not rebuilt). */
  context: 'org.gomelctl.context',
  version: 'org.gomelctl.version',
  /** Image: probe, binary or code. */
  payload: 'org.gomelctl.payload',
  bakedKeys: 'org.gomelctl.baked-keys',
  /** Service, secret: the overlay network that names the deployment. */
  deployment: 'org.gomelctl.deployment',
  /** Service, secret: the node's host name (node<k>). */
  node: 'org.gomelctl.node',
  /**
   * Service: the committee's hosts in pid order, space-separated (node k is the k-th): what
   * `gomelctl fault` reads a node list against, whichever services still exist.
   */
  hosts: 'org.gomelctl.hosts',
  /** Service: the hash of the node's spec (an unchanged node keeps its task). */
  spec: 'org.gomelctl.spec',
  /**
   * Service: the run's record (core/deploy/run-plan.ts RunRecord, JSON): what it runs, under what
   * network conditions and fault plan (planned, and live from `gomelctl fault`). deploy logs writes
   * it beside the logs as run.json.
   */
  run: 'org.gomelctl.run',
  /** Service, by a gomelctl before run records: the run's fault plan (read, never written). */
  legacyFaults: 'org.gomelctl.faults',
  /** Base images made by docker/setup.sh: their recipe's version (written there in shell). */
  base: 'org.gomelctl.base',
  golang: 'org.gomelctl.golang',
} as const;
