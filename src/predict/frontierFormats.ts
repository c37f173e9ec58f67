/**
 * Frontier polygons as files: an SVG over the image size (optionally on the image itself) and
 * a GeoJSON FeatureCollection with one MultiPolygon per class. Both use pixel coordinates
 * (x right, y down, origin at the image's top-left corner; see frontier.ts for orientation),
 * rounded to 1/1000 pixel.
 */
import type { RGB } from '../data/classes.js';
import type { Polygon, Ring } from './frontier.js';

/** The polygons of one class with what they mean on disk. */
export interface FrontierLayer {
  name: string;
  /** The class's label value in the data set's masks. */
  value: number;
  color: RGB;
  polygons: Polygon[];
}

/** A coordinate rounded to 1/1000 pixel (crossings stay >= 1/100 pixel from pixel centres, so this cannot move a contour across one). */
export function roundCoord(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

function ringPath(ring: Ring): string {
  return 'M' + ring.map(([x, y]) => `${roundCoord(x)} ${roundCoord(y)}`).join('L') + 'Z';
}

/** SVG path data of polygons (exteriors and holes as subpaths; fill with either fill rule). */
export function polygonsPath(polygons: Polygon[]): string {
  return polygons.map((p) => [p.exterior, ...p.holes].map(ringPath).join('')).join('');
}

export interface SvgOptions {
  /** Background image, as a path relative to the SVG file (or any URL). */
  imageHref?: string;
  /** Fill opacity of the class areas; black classes are outlined only. */
  fillOpacity?: number;
}

/** An SVG document of width x height pixels with one path per class. */
export function frontierSvg(layers: FrontierLayer[], width: number, height: number, opts: SvgOptions = {}): string {
  const op = opts.fillOpacity ?? 0.3;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
  ];
  if (opts.imageHref !== undefined) {
    const href = xmlEscape(opts.imageHref);
    lines.push(`  <image x="0" y="0" width="${width}" height="${height}" href="${href}" xlink:href="${href}" preserveAspectRatio="none"/>`);
  }
  for (const l of layers) {
    if (l.polygons.length === 0) continue;
    const rgb = `rgb(${l.color[0]},${l.color[1]},${l.color[2]})`;
    const black = l.color[0] + l.color[1] + l.color[2] === 0;
    const fill = black ? 'fill="none"' : `fill="${rgb}" fill-opacity="${op}"`;
    lines.push(
      `  <path data-class="${xmlEscape(l.name)}" data-value="${l.value}" ${fill} fill-rule="evenodd" stroke="${rgb}" stroke-width="1" vector-effect="non-scaling-stroke" d="${polygonsPath(l.polygons)}"><title>${xmlEscape(l.name)}</title></path>`,
    );
  }
  lines.push('</svg>', '');
  return lines.join('\n');
}

type Position = [number, number];

/** A GeoJSON ring: closed (first position repeated last), rounded. */
export function closedRing(ring: Ring): Position[] {
  const pts = ring.map(([x, y]) => [roundCoord(x), roundCoord(y)] as Position);
  pts.push([pts[0][0], pts[0][1]]);
  return pts;
}

export interface GeoJsonFeatureCollection {
  type: 'FeatureCollection';
  gapseg: { image?: string; width: number; height: number; frame: string };
  features: {
    type: 'Feature';
    properties: { class: string; value: number };
    geometry: { type: 'MultiPolygon'; coordinates: Position[][][] };
  }[];
}

/** A FeatureCollection with one MultiPolygon feature per class (empty coordinates when absent). */
export function frontierGeoJson(layers: FrontierLayer[], width: number, height: number, image?: string): GeoJsonFeatureCollection {
  return {
    type: 'FeatureCollection',
    // A foreign member (RFC 7946 section 6.1): these are pixel coordinates, not longitude/latitude.
    gapseg: {
      ...(image !== undefined ? { image } : {}),
      width,
      height,
      frame: 'pixel coordinates: x right, y down, origin at the top-left image corner; exteriors have positive shoelace area',
    },
    features: layers.map((l) => ({
      type: 'Feature',
      properties: { class: l.name, value: l.value },
      geometry: { type: 'MultiPolygon', coordinates: l.polygons.map((p) => [closedRing(p.exterior), ...p.holes.map(closedRing)]) },
    })),
  };
}
