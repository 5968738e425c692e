import { hash, verify } from '@node-rs/argon2';

// Passwords are hashed with argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1). The
// parameters are stored inside each hash (PHC string), so raising them later keeps old hashes
// verifiable; `needsRehash` tells the login to upgrade a hash made with weaker ones.

const ARGON2_PARAMETERS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
// NOTE: @node-rs/argon2 declares Algorithm as a const enum, which type stripping cannot inline;
// 2 is Argon2id in its documented numbering.
const ARGON2ID = 2;

const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 256;

export function hashPassword(password: string): Promise<string> {
  return hash(password, { ...ARGON2_PARAMETERS, algorithm: ARGON2ID });
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false; // a malformed stored hash never authenticates
  }
}

/** True when a stored hash is weaker than the current parameters (or not argon2id). */
export function needsRehash(passwordHash: string): boolean {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(passwordHash);
  if (!match) return true;
  return Number(match[1]) < ARGON2_PARAMETERS.memoryCost || Number(match[2]) < ARGON2_PARAMETERS.timeCost;
}

/** A hash of a random password, verified against when a user does not exist so both cases take as long. */
let dummyHash: Promise<string> | null = null;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(`not-a-user-${Math.random()}`);
  return dummyHash;
}

/** Why a new password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, username?: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `the password must have at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `the password may have at most ${MAX_PASSWORD_LENGTH} characters`;
  if (username && password.toLowerCase() === username.toLowerCase())
    return 'the password must differ from the user name';
  return null;
}
