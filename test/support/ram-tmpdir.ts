// Loaded into every unit test process (package.json tier:unit: node --test --import this): its
// temporary folders go to a folder of its own on a RAM file system, where the machine has one with
// room. gomelctl makes what it writes durable — an fsync per atomic write and `sync -f`, a syncfs(2)
// of the whole file system (src/fs/atomic.ts) — and on a disk shared with an engine and other
// checkouts those syncs waited on everyone's writes: test/logs-folder-kept took 24–28 s with /tmp
// on ext4 and 6.5 s on /dev/shm. The same calls run and succeed; tmpfs answers them at once.
// Elsewhere (no tmpfs, or too little room) nothing changes: TMPDIR stays as it was.
import { chmodSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import path from 'node:path';

const RAM = '/dev/shm';
/** statfs(2)'s f_type of tmpfs (linux/magic.h TMPFS_MAGIC). */
const TMPFS_MAGIC = 0x01021994;
/** The most one test file holds at once is ~30 MB (a 20 MiB stderr.txt, copies of test/vectors); two run at a time. */
const ROOM_BYTES = 1024 ** 3;

function ramFolder(): string | undefined {
  try {
    const fsInfo = statfsSync(RAM);
    if (fsInfo.type !== TMPFS_MAGIC || fsInfo.bavail * fsInfo.bsize < ROOM_BYTES) return undefined;
    const folder = mkdtempSync(path.join(RAM, 'gomelctl-unit-'));
    // Others may pass through, as through /tmp: the permission tests run gomelctl as nobody inside it.
    chmodSync(folder, 0o711);
    return folder;
  } catch {
    return undefined; // no /dev/shm, or not ours to write: the default temporary folder
  }
}

const folder = ramFolder();
if (folder) {
  process.env.TMPDIR = folder; // os.tmpdir() reads it at each call; spawned processes inherit it
  // Whatever a test left there goes with the process: RAM is not kept for leftovers.
  process.on('exit', () => {
    try {
      rmSync(folder, { recursive: true, force: true });
    } catch {
      // e.g. a test's own mount still inside: the folder stays, the test's result stands
    }
  });
}
