import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Logger } from '@muxly/common';

// Access tokens of local users: short-lived JWTs signed with Ed25519. The verifier accepts only
// EdDSA (the algorithm is pinned: a token claiming HS256 or `none` is refused whatever its key)
// and checks exp, nbf, iss and aud. The access token carries the session id so a logout ends it
// at once, not only when it expires.

const LOCAL_ALGORITHM = 'EdDSA';

export interface LocalTokenSettings {
  issuer: string;
  audience: string;
  signingKey?: string | undefined;
  accessTokenTtlSeconds: number;
}

export interface LocalAccessClaims {
  userId: string;
  sessionId: string;
}

export class LocalTokens {
  readonly issuer: string;
  readonly audience: string;
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #keyId: string;
  readonly #ttlSeconds: number;

  constructor(settings: LocalTokenSettings, logger: Logger) {
    this.issuer = settings.issuer;
    this.audience = settings.audience;
    this.#ttlSeconds = settings.accessTokenTtlSeconds;
    if (settings.signingKey) {
      try {
        this.#privateKey = createPrivateKey(settings.signingKey);
      } catch (error) {
        throw new Error(`controlPlane.auth.signingKey is not a PEM private key: ${(error as Error).message}`, {
          cause: error,
        });
      }
      if (this.#privateKey.asymmetricKeyType !== 'ed25519') {
        throw new Error(
          `controlPlane.auth.signingKey must be an Ed25519 key (openssl genpkey -algorithm ed25519), not ${this.#privateKey.asymmetricKeyType}`,
        );
      }
    } else {
      this.#privateKey = generateKeyPairSync('ed25519').privateKey;
      logger.warn(
        '!!! NO TOKEN SIGNING KEY CONFIGURED: access tokens are signed with an EPHEMERAL key; they stop working when this process stops ' +
          "(clients must refresh), and several instances cannot accept each other's tokens. Set controlPlane.auth.signingKey (openssl genpkey -algorithm ed25519). !!!",
        { setting: 'controlPlane.auth.signingKey' },
      );
    }
    this.#publicKey = createPublicKey(this.#privateKey);
    this.#keyId = createHash('sha256')
      .update(this.#publicKey.export({ format: 'der', type: 'spki' }))
      .digest('base64url')
      .slice(0, 16);
  }

  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  sign(claims: LocalAccessClaims): Promise<string> {
    return new SignJWT({ sid: claims.sessionId, typ: 'access' })
      .setProtectedHeader({ alg: LOCAL_ALGORITHM, kid: this.#keyId, typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime(`${this.#ttlSeconds}s`)
      .sign(this.#privateKey);
  }

  /** The verified claims; throws when the token is not one of ours or not valid now. */
  async verify(token: string): Promise<LocalAccessClaims> {
    const { payload } = await jwtVerify(token, this.#publicKey, {
      algorithms: [LOCAL_ALGORITHM],
      issuer: this.issuer,
      audience: this.audience,
      requiredClaims: ['exp', 'iat', 'sub', 'sid'],
      clockTolerance: 5,
    });
    return claimsOf(payload);
  }
}

function claimsOf(payload: JWTPayload): LocalAccessClaims {
  if (payload.typ !== 'access' || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') {
    throw new errors.JWTClaimValidationFailed('not an access token', payload, 'typ', 'check_failed');
  }
  return { userId: payload.sub, sessionId: payload.sid };
}
