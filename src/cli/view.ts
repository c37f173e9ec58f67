/** `gapseg view`: a local web page to browse and label a data set, a run or predictions. */
import { view, type ViewOptions } from '../api/view.js';
import { VIEW_COMMAND } from '../options/commands.js';
import { apiOptions, log, type Command } from './common.js';

export const viewCommand: Command = {
  schema: VIEW_COMMAND,
  async run(args) {
    const { onProgress: _bars, ...options } = apiOptions(args);
    const viewer = await view(args.positional[0], options as ViewOptions);
    const c = viewer.catalog;
    for (const n of c.notes) log(`note: ${n}`);
    log(
      `${c.items.length} image(s)${c.model ? `, model ${c.model.source}` : ', no model (in-browser prediction off)'}${c.reports.length ? `, report ${c.reports[0]}` : ''}`,
    );
    const host = (options.host as string | undefined) ?? '127.0.0.1';
    if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost')
      log(`warning: listening on ${host}: other machines can reach this viewer`);
    process.stdout.write(`gapseg view: ${c.root} at ${viewer.url}  (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await viewer.close();
    return 0;
  },
};
