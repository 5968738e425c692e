import type { Request, Response } from 'express';
import { ApiProblem } from './problem.ts';

// Optimistic concurrency: every object has an integer `version`; its ETag is "<version>".
// Updates must say which version they change (If-Match), so two editors cannot silently
// overwrite each other. The ORM also checks the version in the UPDATE statement itself, which
// closes the gap between this check and the write.

const etagOf = (version: number) => `"${version}"`;

export function setEtag(response: Response, version: number): void {
  response.setHeader('ETag', etagOf(version));
}

/** Checks If-Match against the current version; `required` answers 428 when the header is absent. */
export function checkIfMatch(request: Request, currentVersion: number, required: boolean): void {
  const header = request.get('if-match');
  if (header === undefined || header.trim() === '') {
    if (required)
      throw new ApiProblem(
        428,
        'if-match-required',
        'send If-Match with the ETag of the version you are changing (read the object first)',
      );
    return;
  }
  const candidates = header.split(',').map((value) => value.trim().replace(/^W\//, ''));
  if (candidates.includes('*') || candidates.includes(etagOf(currentVersion))) return;
  throw new ApiProblem(
    412,
    'stale-version',
    `the object is at version ${currentVersion} (ETag ${etagOf(currentVersion)}); read it again and retry`,
    {
      extensions: { currentVersion },
    },
  );
}
