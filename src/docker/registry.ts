// The registry's HTTP API v2 (docs.docker.com/registry/spec/api): reachability and tag digests.
import { EnvironmentError } from '../core/errors.js';

// Pure, in the core since issue 32 (chooseImage checks --tag and --image with it); named here too.
export { parseImageRef } from '../core/image/payload.js';

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

async function request(url: string, init: RequestInit, doing: string): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new EnvironmentError(
      `registry not reachable at ${url} while trying to ${doing} (${cause}): start it with \`bash docker/setup.sh\`, or pass --registry HOST:PORT`,
    );
  }
}

export async function checkRegistry(registry: string): Promise<void> {
  const response = await request(`http://${registry}/v2/`, {}, 'check it answers');
  if (response.status !== 200)
    throw new EnvironmentError(
      `registry at http://${registry}/v2/ answered HTTP ${response.status}; gomelctl needs one without auth (see docker/setup.sh)`,
    );
}

/** The digest the registry serves for repo:tag, or undefined if it has no such tag. */
export async function tagDigest(registry: string, repository: string, tag: string): Promise<string | undefined> {
  const response = await request(
    `http://${registry}/v2/${repository}/manifests/${tag}`,
    { method: 'HEAD', headers: { Accept: MANIFEST_TYPES } },
    `look up ${repository}:${tag}`,
  );
  if (response.status === 404) return undefined;
  if (response.status !== 200)
    throw new EnvironmentError(`registry ${registry} answered HTTP ${response.status} for ${repository}:${tag}`);
  return response.headers.get('docker-content-digest') ?? undefined;
}

/** Deletes the manifest a tag points at (the registry must allow deletes, as docker/setup.sh's does). */
export async function deleteTag(registry: string, repository: string, tag: string): Promise<boolean> {
  const digest = await tagDigest(registry, repository, tag);
  if (!digest) return false;
  const response = await request(
    `http://${registry}/v2/${repository}/manifests/${digest}`,
    { method: 'DELETE' },
    `delete ${repository}:${tag}`,
  );
  return response.status === 202;
}
