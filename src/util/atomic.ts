import fs from 'node:fs';
import path from 'node:path';

let counter = 0;

function tempPathFor(target: string): string {
  counter += 1;
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${counter}`);
}

/**
 * Write a file so that readers only ever see the old content or the complete new one:
 * write a temporary file beside it, fsync it, then rename over the target.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const tmp = tempPathFor(target);
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await fs.promises.rename(tmp, target);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** Synchronous twin of writeFileAtomic, for exit paths where awaiting is not possible. */
export function writeFileAtomicSync(target: string, data: Uint8Array | string): void {
  const tmp = tempPathFor(target);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, target);
}

/**
 * Replace a whole directory atomically: the caller fills a fresh staging directory,
 * then it is renamed into place. The old directory, if any, is moved aside first and removed
 * after, so at every instant either the old or the new complete directory exists under a
 * known name (`target` or `target.old`).
 */
export async function replaceDirAtomic(target: string, fill: (staging: string) => Promise<void>): Promise<void> {
  const staging = tempPathFor(target);
  await fs.promises.rm(staging, { recursive: true, force: true });
  await fs.promises.mkdir(staging, { recursive: true });
  try {
    await fill(staging);
  } catch (e) {
    await fs.promises.rm(staging, { recursive: true, force: true });
    throw e;
  }
  const old = `${target}.old`;
  await fs.promises.rm(old, { recursive: true, force: true });
  if (fs.existsSync(target)) await fs.promises.rename(target, old);
  await fs.promises.rename(staging, target);
  await fs.promises.rm(old, { recursive: true, force: true });
}

/** Remove temporary files left in a directory by writes that were interrupted. */
export async function removeStaleTemps(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return;
  }
  await Promise.all(
    names.filter((n) => /^\..*\.tmp-\d+-\d+$/.test(n)).map((n) => fs.promises.rm(path.join(dir, n), { recursive: true, force: true })),
  );
}
