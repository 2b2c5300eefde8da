// The Engine seen through narrow interfaces, one per kind of object: the deploy
// logic (spawn, wait, replace, collect, clean) asks for only what it uses, so unit
// tests drive it with an in-memory engine (test/support/memory-engine.ts) in
// seconds, and the real one (docker/engine.ts, the only dockerode user) is one
// implementation of all of them. Type-only: importing this loads no dockerode.
import type { Engine } from './engine.js';

/** Swarm services: the nodes. */
export type ServiceApi = Pick<
  Engine,
  | 'listServices'
  | 'createService'
  | 'removeService'
  | 'serviceOutput'
  | 'serviceLogs'
  | 'setServiceLabels'
  | 'restartService'
>;
/** Tasks and the swarm's hosts: what runs where, and which hosts are down. */
export type TaskApi = Pick<Engine, 'listTasks' | 'listAllTasks' | 'listNodes'>;
/** Swarm secrets: each node's key. */
export type SecretApi = Pick<Engine, 'listSecrets' | 'createSecret' | 'removeSecret'>;
/** Images: built, pushed, inspected. */
type ImageApi = Pick<Engine, 'build' | 'push' | 'inspectImage' | 'saveImage' | 'removeImage'>;
/** Overlay networks. */
type NetworkApi = Pick<Engine, 'findNetwork' | 'listNetworks' | 'createNetwork' | 'removeNetwork'>;
/** Containers, reached through the engine that runs them. */
type ContainerApi = Pick<Engine, 'containerArchive' | 'runOnNetwork'>;
/** The engine itself and its swarm. */
type SwarmApi = Pick<Engine, 'ping' | 'info' | 'swarmInit' | 'swarmInspect'>;

/** What `deploy spawn` uses. */
export type SpawnEngine = ServiceApi &
  TaskApi &
  SecretApi &
  Pick<ImageApi, 'inspectImage'> &
  Pick<NetworkApi, 'findNetwork'> &
  SwarmApi;
/** What `deploy logs` uses; the host state changes only where the engine has them (an in-memory engine need not). */
export type CollectEngine = ServiceApi & TaskApi & ContainerApi & Partial<Pick<Engine, 'hostStateChanges'>>;
/** What `deploy clean` uses. */
export type CleanEngine = Pick<ServiceApi, 'listServices' | 'removeService'> & SecretApi;
/** What `cluster init` uses. */
export type ClusterEngine = Pick<SwarmApi, 'info' | 'swarmInit'> & NetworkApi & Pick<TaskApi, 'listNodes'>;
/** What `image rebuild` uses. */
export type BuildEngine = Pick<ImageApi, 'build' | 'push' | 'inspectImage'> &
  Pick<SwarmApi, 'ping'> &
  Pick<TaskApi, 'listNodes'>;
/** What `gomelctl fault` uses: the deployment, the base image its messenger runs, the messenger. */
export type FaultEngine = Pick<ServiceApi, 'listServices' | 'setServiceLabels'> &
  TaskApi &
  Pick<ImageApi, 'inspectImage'> &
  Pick<ContainerApi, 'runOnNetwork'>;
/** What `up` uses: the whole flow, from cluster init to deploy clean. */
export type UpEngine = SpawnEngine & CollectEngine & CleanEngine & ClusterEngine & BuildEngine;
