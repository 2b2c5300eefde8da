// Reads the Engine's JSON progress streams (build and push). The classic
// builder reports steps as text in `stream` ("Step 3/8 : COPY …", " ---> Using
// cache"); failures arrive as `error`/`errorDetail` objects, not HTTP errors.
/** One object of the Engine's JSON progress stream (build and push). */
export interface ProgressEvent {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: { ID?: string; Digest?: string; Tag?: string; Size?: number };
}

interface BuildSummary {
  steps: number;
  cachedSteps: number;
  lastStep: string | undefined;
  imageId: string | undefined;
  error: string | undefined;
  /** The last line a build step printed starting "gomelctl:": our own one-line diagnosis (templates/Dockerfile.code). */
  diagnosis: string | undefined;
}

const STEP = /^Step (\d+)\/(\d+) : (.*)$/;

export function stepOf(event: ProgressEvent): string | undefined {
  const m = STEP.exec(event.stream?.trim() ?? '');
  return m ? `Step ${m[1]}/${m[2]}: ${m[3]}` : undefined;
}

export function errorOf(event: ProgressEvent): string | undefined {
  const message = event.errorDetail?.message ?? event.error;
  return message?.trim();
}

export function summarizeBuild(events: readonly ProgressEvent[]): BuildSummary {
  const summary: BuildSummary = {
    steps: 0,
    cachedSteps: 0,
    lastStep: undefined,
    imageId: undefined,
    error: undefined,
    diagnosis: undefined,
  };
  for (const e of events) {
    const step = stepOf(e);
    if (step) {
      summary.steps++;
      summary.lastStep = step;
    }
    if (e.stream?.includes('Using cache')) summary.cachedSteps++;
    if (e.aux?.ID) summary.imageId = e.aux.ID;
    summary.error ??= errorOf(e);
    const said = e.stream?.split('\n').find((l) => l.startsWith('gomelctl: '));
    if (said) summary.diagnosis = said.slice('gomelctl: '.length).trim();
  }
  return summary;
}

/** A pushed layer the registry already held: in this repository, or mounted from another. */
export const isLayerPresent = (status: string | undefined) =>
  status === 'Layer already exists' || Boolean(status?.startsWith('Mounted from'));

interface PushSummary {
  digest: string | undefined;
  pushedLayers: string[];
  existingLayers: string[];
  error: string | undefined;
}

export function summarizePush(events: readonly ProgressEvent[]): PushSummary {
  const summary: PushSummary = { digest: undefined, pushedLayers: [], existingLayers: [], error: undefined };
  for (const e of events) {
    if (e.status === 'Pushed' && e.id) summary.pushedLayers.push(e.id);
    if (isLayerPresent(e.status) && e.id) summary.existingLayers.push(e.id);
    if (e.aux?.Digest) summary.digest = e.aux.Digest;
    summary.error ??= errorOf(e);
  }
  return summary;
}
