/**
 * Pixels in the page: images and class masks fetched from the server (or a dropped file)
 * decoded by the browser without colour management, so that masks keep their exact values.
 */
import { errorText } from './api.js';

export async function bitmapPixels(source: Blob): Promise<{ width: number; height: number; rgba: Uint8ClampedArray }> {
  // No colour management: masks must keep their exact values, images their file values.
  const bmp = await createImageBitmap(source, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const c = new OffscreenCanvas(bmp.width, bmp.height);
  const g = c.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D;
  g.drawImage(bmp, 0, 0);
  bmp.close();
  return { width: c.width, height: c.height, rgba: g.getImageData(0, 0, c.width, c.height).data };
}

export async function fetchPixels(url: string) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await errorText(r)}`);
  return bitmapPixels(await r.blob());
}

/** Class indices (255 = void) from a server class-index PNG, and the label file's version when the server gives it. */
export async function fetchMask(url: string, w: number, h: number): Promise<{ classes: Uint8Array; version: string | null }> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await errorText(r)}`);
  const px = await bitmapPixels(await r.blob());
  if (px.width !== w || px.height !== h) throw new Error(`${url}: mask is ${px.width}x${px.height}, image is ${w}x${h}`);
  const out = new Uint8Array(w * h);
  for (let i = 0; i < out.length; i++) out[i] = px.rgba[i * 4];
  return { classes: out, version: r.headers.get('X-Label-Version') };
}

export async function fetchClasses(url: string, w: number, h: number): Promise<Uint8Array> {
  return (await fetchMask(url, w, h)).classes;
}
