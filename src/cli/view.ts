/** `gapseg view`: a local web viewer for a data set, a run or predictions. */
import type { CommandSpec, Parsed } from './args.js';
import { list, num, str } from './args.js';
import { CLASS_OPTIONS, MAX_PIXELS_OPTION, given, log } from './common.js';
import { DEFAULT_VIEW_PORT, view } from '../api/view.js';

export const viewSpec: CommandSpec = {
  name: 'view',
  summary: 'browse a data set, run or predictions in a local web viewer, and predict in the browser',
  usage: 'gapseg view <run-dir | dataset-dir | folder> [--port n] [--host addr] [--model run-dir] [--classes spec]',
  description:
    'Serves a page on this machine (127.0.0.1 unless --host says otherwise) that shows the images of the folder\n' +
    'and of its direct sub-folders (a data set, `gapseg predict` output, a run), with toggleable overlays:\n' +
    'label, void (hatched), prediction, frontier and probability heat map; opacity, zoom and pan; per-image\n' +
    'metrics where labels exist, sortable to find the worst images. With a model (found in the folder or given\n' +
    'by --model) the page predicts in the browser (TensorFlow.js), including images you drop on it, with\n' +
    'class-forbid toggles and a probability threshold that moves the frontier live.\n' +
    'The page can train (gapseg train in a child process, on the labelled images, from the current model), and\n' +
    'predicts with the new model when it is done; each round writes a run folder view-run-<n> in the folder.\n' +
    'Labels can be painted on the images of a data set (a brush per class, an eraser back to void, undo) and\n' +
    'saved as its label files, in its own format; a data set with only images/ starts all unlabelled (name its\n' +
    'classes with --classes, void included, e.g. "0=background,255=smoke,128=void").\n' +
    'Only files under the folder (and the model\'s three files) are served, and only label files are written.',
  positional: { min: 1, max: 1, names: 'a folder to view' },
  options: [
    { name: 'port', type: 'int', placeholder: 'n', help: `port to listen on; 0 = any free port (default ${DEFAULT_VIEW_PORT}, or any free port when that one is taken)` },
    { name: 'host', type: 'string', placeholder: 'addr', help: 'address to listen on (other machines can connect if not loopback)', default: '127.0.0.1' },
    { name: 'model', type: 'string', placeholder: 'dir', help: 'a run or model folder to predict with (default: one found in the folder)' },
    { name: 'max-upload', type: 'number', placeholder: 'MB', help: 'largest image the page may upload for decoding', default: 32 },
    ...CLASS_OPTIONS,
    { name: 'train-args', type: 'string', placeholder: '"flags"', help: 'gapseg train flags for training from the page, e.g. "--crop 128 --batch 2"' },
    MAX_PIXELS_OPTION,
  ],
  examples: ['gapseg view demo-out', 'gapseg view data/smoke --model runs/smoke', 'gapseg view runs/smoke --port 0'],
};

/** Run the view command until interrupted. */
export async function viewCommand(p: Parsed): Promise<number> {
  const viewer = await view(p.positional[0], {
    port: given(p, 'port'),
    host: str(p, 'host'),
    model: str(p, 'model'),
    classes: str(p, 'classes'),
    void: list(p, 'void'),
    classFile: str(p, 'class-file'),
    trainArgs: str(p, 'train-args')?.split(/\s+/).filter(Boolean),
    maxUploadMB: num(p, 'max-upload'),
    maxPixels: given(p, 'max-pixels'),
    log,
  });
  const c = viewer.catalog;
  for (const n of c.notes) log(`note: ${n}`);
  log(`${c.items.length} image(s)${c.model ? `, model ${c.model.source}` : ', no model (in-browser prediction off)'}${c.reports.length ? `, report ${c.reports[0]}` : ''}`);
  const host = str(p, 'host') as string;
  if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') log(`warning: listening on ${host}: other machines can reach this viewer`);
  process.stdout.write(`gapseg view: ${c.root} at ${viewer.url}  (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await viewer.close();
  return 0;
}
