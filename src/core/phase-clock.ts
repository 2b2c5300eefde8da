// Where a command's time goes, phase by phase (issue 32: up's own overhead, measured before it
// is cut): the moment each phase began, said in one line at the end. Pure: the caller gives the times.

export class PhaseClock {
  private readonly marks: { name: string; at: number }[] = [];

  /** Phase `name` begins at `at` (ms); the one before ends there. */
  begin(name: string, at: number): void {
    this.marks.push({ name, at });
  }

  /**
   * Phase `name` split at `at` (ms) into `parts` (up: the start wait, then gomel's run), when `at`
   * falls inside it; else named as both ("start wait + run"), as nothing tells them apart.
   */
  split(name: string, at: number | undefined, parts: [string, string]): void {
    const i = this.marks.findIndex((m) => m.name === name);
    if (i < 0) return;
    const end = this.marks[i + 1]?.at;
    if (at === undefined || !(at > this.marks[i]!.at && (end === undefined || at < end))) {
      this.marks[i]!.name = parts.join(' + ');
      return;
    }
    this.marks[i]!.name = parts[0];
    this.marks.splice(i + 1, 0, { name: parts[1], at });
  }

  /** "keys 0.2 s, image 3.1 s, …": each phase's seconds, the last one ending at `end` (ms). */
  line(end: number): string {
    return this.marks
      .map((m, i) => `${m.name} ${(((this.marks[i + 1]?.at ?? end) - m.at) / 1000).toFixed(1)} s`)
      .join(', ');
  }
}
