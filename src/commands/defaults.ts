// Defaults that the CLI declares as flag defaults: kept apart from the command
// modules so that declaring the flags loads none of them (see cli.ts).
export const DEFAULT_NETWORK = 'aleph_net';
export const DEFAULT_REGISTRY = '127.0.0.1:5000';

export { defaultTag } from '../core/image/payload.js';

/** The busybox base image docker/setup.sh builds: the runtime of every node image, and of `gomelctl fault`'s messenger. */
export const DEFAULT_BASE = 'gomelctl/base:busybox';
