/**
 * User-facing errors. A GapsegError is a mistake in the user's input or environment:
 * the CLI prints its one-line message and exits non-zero, without a stack trace.
 * Any other exception is a bug in gapseg and keeps its stack.
 */
export class GapsegError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'GapsegError';
    this.exitCode = exitCode;
  }
}

/** Short text of an unknown thrown value, for wrapping library errors into user errors. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0];
  return String(e);
}

const FS_PROBLEMS: Record<string, string> = {
  ENOENT: 'not found',
  ELOOP: 'symlink loop',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'part of the path is a file, not a folder',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EIO: 'input/output error',
  ENAMETOOLONG: 'name too long',
  EFBIG: 'file too large',
  EBUSY: 'busy',
  EXDEV: 'on another file system',
};

/** What a file-system error means, in words with its code: "ENOSPC: no space left on the device". */
export function fsProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string') return FS_PROBLEMS[code] ? `${code}: ${FS_PROBLEMS[code]}` : code;
  return describeError(e);
}

/**
 * A model that cannot give a usable answer (its output is not numbers). Like a failed write, it
 * stops a batch: every next image would fail the same way.
 */
export class ModelError extends GapsegError {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}

/**
 * A file or folder that could not be written. Unlike an unreadable input, which a batch may
 * skip, a failed write stops a batch: a full disk or a read-only folder fails every next write too.
 */
export class WriteError extends GapsegError {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: cannot write (${problem})`);
    this.name = 'WriteError';
    this.file = file;
  }
}

/**
 * The WriteError for a file-system failure writing `file`; anything else (a GapsegError, or a
 * bug) is returned unchanged, to be rethrown as it is.
 */
export function writeError(file: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (e instanceof GapsegError || typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return e;
  return new WriteError(file, fsProblem(e));
}
