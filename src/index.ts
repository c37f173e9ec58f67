/** gapseg's public API (filled in by the API work that follows the build layout). */
export { packageVersion as version } from './util/packageInfo.js';
