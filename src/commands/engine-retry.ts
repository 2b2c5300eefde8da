// Engine calls that failed and will be retried are said as warnings: the nodes keep running meanwhile.
import { DEFAULT_RETRY, type RetryPolicy } from '../docker/engine.js';
import type { Output } from './output.js';

/** Tells the user that the engine failed a call that will be retried. */
export const retryReporter = (out: Output, what: string): RetryPolicy => ({
  ...DEFAULT_RETRY,
  onRetry: (error, attempt) =>
    out.warn(`${what}: ${error.message} (attempt ${attempt}); retrying, the nodes keep running`),
});
