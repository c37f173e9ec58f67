/**
 * Requests to the viewer's server: JSON answers, and the message of a refused request (the
 * server's ErrorJson, else the HTTP status text).
 */
import type { ErrorJson } from '../wire.js';

export async function fetchJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await errorText(r)}`);
  return (await r.json()) as T;
}

export async function errorText(r: Response): Promise<string> {
  try {
    return ((await r.json()) as Partial<ErrorJson>).error ?? r.statusText;
  } catch {
    return r.statusText;
  }
}
