/**
 * Zoom and pan of the stage (image and overlays) under the viewport: the wheel, dragging, the
 * view buttons, and the conversion of pointer positions to image pixels. What the pointer does
 * besides panning (painting, the pixel readout) comes in as callbacks.
 */
import { $ } from './dom.js';
import type { PageState } from './state.js';

/** The pointer's other uses, called by the viewport's pointer events. */
export interface PointerHooks {
  /** A left-button press: whether it began a stroke (then it does not pan). */
  press(e: PointerEvent): boolean;
  /** A move while a stroke is on (state.stroke). */
  stroke(e: PointerEvent): void;
  /** The button released while a stroke is on. */
  release(): void;
  /** Every move: what is under the pointer. */
  hover(e: PointerEvent): void;
}

function applyZoom(state: PageState): void {
  const z = state.zoom;
  const stage = $('stage');
  stage.style.transform = `translate(${z.x}px, ${z.y}px) scale(${z.s})`;
  stage.classList.toggle('pixelated', z.s > 1);
  // The stage is scaled by CSS, which non-scaling-stroke ignores: keep the line 2 screen pixels wide.
  $('frontier-path').style.strokeWidth = String(2 / z.s);
  $('frontier-shadow').style.strokeWidth = String(4.5 / z.s);
  $('lasso-path').style.strokeWidth = String(1.5 / z.s);
  $('zoom-value').textContent = `${Math.round(z.s * 100)}%`;
}

export function zoomFit(state: PageState): void {
  const v = state.current;
  if (!v) return;
  const vp = $('viewport').getBoundingClientRect();
  const s = Math.min(vp.width / v.width, vp.height / v.height) * 0.98;
  state.zoom = { s, x: (vp.width - v.width * s) / 2, y: (vp.height - v.height * s) / 2, fit: true };
  applyZoom(state);
}

function zoomAt(state: PageState, factor: number, cx: number, cy: number): void {
  const z = state.zoom;
  const s = Math.min(64, Math.max(0.02, z.s * factor));
  z.x = cx - ((cx - z.x) * s) / z.s;
  z.y = cy - ((cy - z.y) * s) / z.s;
  z.s = s;
  z.fit = false;
  applyZoom(state);
}

/** A pointer event's position in image pixels (fractional). */
export function imagePoint(state: PageState, e: PointerEvent): { x: number; y: number } {
  const r = $('viewport').getBoundingClientRect();
  return { x: (e.clientX - r.left - state.zoom.x) / state.zoom.s, y: (e.clientY - r.top - state.zoom.y) / state.zoom.s };
}

export function setupZoom(state: PageState, pointer: PointerHooks): void {
  const vp = $('viewport');
  vp.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault();
      const r = vp.getBoundingClientRect();
      zoomAt(state, Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    },
    { passive: false },
  );
  let drag: { x: number; y: number } | null = null;
  vp.addEventListener('pointerdown', (e) => {
    vp.setPointerCapture(e.pointerId);
    // The left button paints with a brush selected; any other button (or the pan tool) pans.
    if (e.button === 0 && pointer.press(e)) return;
    drag = { x: e.clientX - state.zoom.x, y: e.clientY - state.zoom.y };
    vp.classList.add('dragging');
  });
  vp.addEventListener('pointerup', () => {
    if (state.stroke) pointer.release();
    drag = null;
    vp.classList.remove('dragging');
  });
  vp.addEventListener('pointermove', (e) => {
    if (state.stroke) {
      pointer.stroke(e);
      pointer.hover(e);
      return;
    }
    if (drag) {
      state.zoom.x = e.clientX - drag.x;
      state.zoom.y = e.clientY - drag.y;
      state.zoom.fit = false;
      applyZoom(state);
    }
    pointer.hover(e);
  });
  vp.addEventListener('dblclick', () => zoomFit(state));
  $('zoom-fit').onclick = () => zoomFit(state);
  $('zoom-1').onclick = () => {
    const r = vp.getBoundingClientRect();
    zoomAt(state, 1 / state.zoom.s, r.width / 2, r.height / 2);
  };
  $('zoom-in').onclick = () => zoomAt(state, 1.5, vp.clientWidth / 2, vp.clientHeight / 2);
  $('zoom-out').onclick = () => zoomAt(state, 1 / 1.5, vp.clientWidth / 2, vp.clientHeight / 2);
  // A fitted image stays fitted; one the user zoomed or panned keeps its scale and centre.
  let size = { w: vp.clientWidth, h: vp.clientHeight };
  new ResizeObserver(() => {
    const was = size;
    size = { w: vp.clientWidth, h: vp.clientHeight };
    if (!state.current) return;
    if (state.zoom.fit) return zoomFit(state);
    state.zoom.x += (size.w - was.w) / 2;
    state.zoom.y += (size.h - was.h) / 2;
    applyZoom(state);
  }).observe(vp);
}
