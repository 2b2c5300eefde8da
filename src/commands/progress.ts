// Live progress for build and push: one redrawn line on a terminal, plain
// lines otherwise, JSON lines with --json.
import type { ProgressEvent } from '../core/image/build-progress.js';
import { errorOf, isLayerPresent, stepOf } from '../core/image/build-progress.js';
import { printLines, type Output } from './output.js';

type ProgressMode = 'tty' | 'plain' | 'json';

export function progressMode(out: Output, json: boolean | undefined): ProgressMode {
  return json ? 'json' : out.tty ? 'tty' : 'plain';
}

export function progressPrinter(
  out: Output,
  mode: ProgressMode,
  phase: string,
): { event: (e: ProgressEvent) => void; end: () => void } {
  let drawn = false;
  const layers = new Map<string, string>();
  const draw = (text: string) => {
    process.stderr.write(`\r\x1b[K${phase}: ${text.slice(0, (process.stderr.columns ?? 100) - phase.length - 3)}`);
    drawn = true;
  };
  return {
    event(e) {
      if (mode === 'json') return out.line(JSON.stringify({ phase, ...e }));
      const error = errorOf(e);
      const step = stepOf(e);
      if (error) return printLines(out.warn, `${phase}: ${error}`); // a compiler's message spans lines
      if (mode === 'plain') {
        if (step) out.warn(`${phase}: ${step}`);
        else if (e.status && e.id && (e.status === 'Pushed' || isLayerPresent(e.status)))
          out.warn(`${phase}: ${e.id} ${e.status.toLowerCase()}`);
        return;
      }
      if (step) draw(step);
      else if (e.id && e.status) {
        layers.set(e.id, e.progress ? `${e.status} ${e.progress}` : e.status);
        const done = [...layers.values()].filter((s) => s === 'Pushed' || isLayerPresent(s)).length;
        draw(`${done}/${layers.size} layers — ${e.id} ${layers.get(e.id)}`);
      }
    },
    end() {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}
