import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { ConfigurationError } from '@muxly/common';

// An editor names the file; the operator names the folder it must stay in
// (`outbound.fileBaseDirectory`). The schema already refuses absolute paths and `..` segments;
// these checks run on the file system itself, at open time, so a symbolic link placed inside the
// folder cannot lead a write, a created folder or a rotation outside it.

const SETTING = 'outbound.fileBaseDirectory';

function inside(base: string, candidate: string): boolean {
  const path = relative(base, candidate);
  return path !== '' && !path.startsWith(`..${sep}`) && path !== '..' && !isAbsolute(path);
}

function outside(path: string): ConfigurationError {
  return new ConfigurationError(`file destination path "${path}" leads outside the base folder (${SETTING})`, [
    `config.path must name a file inside ${SETTING}, without a symbolic link out of it`,
  ]);
}

/** The absolute file a relative `path` names under `base`; refused when the text alone leaves it. */
export function targetOf(base: string, path: string): string {
  if (isAbsolute(path) || path.split(/[/\\]/).includes('..')) throw outside(path);
  const target = resolve(base, path);
  if (!inside(base, target)) throw outside(path);
  return target;
}

/** The nearest folder of `path` (itself or an ancestor) that exists. */
async function existingAncestor(path: string): Promise<string> {
  for (let current = path; ; current = dirname(current)) {
    try {
      await lstat(current);
      return current;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(current) === current) throw error;
    }
  }
}

/**
 * Makes sure the folder of `target` exists inside `base` and returns the real base folder. Missing
 * folders are created only after the real path of the part that exists was found inside it.
 */
export async function prepareFolder(base: string, target: string, path: string): Promise<string> {
  // The base folder is the operator's: creating it is theirs to allow.
  await mkdir(base, { recursive: true });
  const realBase = await realpath(base);
  const folder = dirname(target);
  if (folder !== base) {
    const existing = await realpath(await existingAncestor(folder));
    if (existing !== realBase && !inside(realBase, existing)) throw outside(path);
    await mkdir(folder, { recursive: true });
    const real = await realpath(folder);
    if (real !== realBase && !inside(realBase, real)) throw outside(path);
  }
  return realBase;
}

/** Opens `target` for appending; a symbolic link as the file itself is refused by the kernel (O_NOFOLLOW). */
export async function openForAppend(base: string, target: string, path: string): Promise<FileHandle> {
  await prepareFolder(base, target, path);
  try {
    return await open(
      target,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      0o666,
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw outside(path);
    throw error;
  }
}
