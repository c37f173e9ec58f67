/**
 * Small helpers every part of the page uses: elements by id, the page's status attribute (what
 * the tests wait for), and the escaping and number formats of the HTML it writes.
 */

export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export function setStatus(s: string): void {
  document.body.dataset.status = s;
}

export const pct = (x: number | null | undefined, d = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(d)}%`;
export const fix = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(3));
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
