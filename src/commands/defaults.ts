// Defaults that the CLI declares as flag defaults: kept apart from the command
// modules so that declaring the flags loads none of them (see cli.ts).
export const DEFAULT_NETWORK = 'aleph_net';
export const DEFAULT_REGISTRY = '127.0.0.1:5000';

/** The image `image rebuild` tags and `deploy spawn` runs when none is named (gomel's docker test's name). */
export const defaultTag = (registry: string) => `${registry}/aleph:test`;

/** The busybox base image docker/setup.sh builds: the runtime of every node image, and of `gomelctl fault`'s messenger. */
export const DEFAULT_BASE = 'gomelctl/base:busybox';
