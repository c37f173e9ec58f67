/**
 * Waiting for concurrent work so that a failure is both complete and deterministic: unlike
 * Promise.all, nothing is left running unwatched after the first rejection (a write still
 * holding a temporary file when the process exits), and the error reported is the first in
 * the caller's order, not whichever lost a race (an image's problem before its label's).
 */

/** Wait for every promise; then throw the first rejection in array order, or return all values. */
export async function settleAll<T extends readonly unknown[] | []>(promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises as readonly unknown[]);
  const values: unknown[] = [];
  for (const r of results) {
    if (r.status === 'rejected') throw r.reason;
    values.push(r.value);
  }
  return values as { -readonly [K in keyof T]: Awaited<T[K]> };
}
