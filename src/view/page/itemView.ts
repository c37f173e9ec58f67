/**
 * An image of the list made ready to show: its pixels, its label (or the edit painted over it),
 * its truth, and its prediction (in the page with a model, else the server's prediction file).
 */
import { VOID } from '../../draw/layers.js';
import type { ItemJson } from '../wire.js';
import { fetchClasses, fetchMask, fetchPixels } from './decode.js';
import { predictProbs, shownProbs } from './model.js';
import type { PageState, View } from './state.js';

export async function loadItem(state: PageState, it: ItemJson): Promise<View> {
  const px = await fetchPixels(it.image);
  const v: View = {
    key: `item-${it.id}`,
    name: it.name,
    width: px.width,
    height: px.height,
    rgba: px.rgba,
    labels: null,
    truth: null,
    filePred: null,
    probs: null,
    netProbs: null,
    pred: null,
  };
  const edit = state.edits.get(it.id);
  if (edit && edit.labels.length === px.width * px.height) v.labels = edit.labels;
  else if (it.label) {
    const m = await fetchMask(it.label, px.width, px.height);
    v.labels = m.classes;
    if (m.version) it.labelVersion = m.version;
  } else if (it.labelVersion !== null) v.labels = new Uint8Array(px.width * px.height).fill(VOID);
  if (it.truth) v.truth = await fetchClasses(it.truth, px.width, px.height);
  if (state.model) {
    v.netProbs = await predictProbs(state, px.rgba, px.width, px.height);
    v.probs = shownProbs(state, v);
  } else if (it.pred) v.filePred = await fetchClasses(it.pred, px.width, px.height);
  return v;
}
