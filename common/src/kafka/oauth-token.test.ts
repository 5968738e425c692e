import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigurationError, RetryableError } from '../errors.ts';
import { ClientCredentialsTokenProvider, TokenRefusedError } from './oauth-token.ts';

// A token endpoint on a local socket answering as RFC 6749 section 5 says (what Keycloak, Okta,
// Entra ID and Auth0 answer); each test decides the answer and sees every request.

interface SeenRequest {
  authorization: string | undefined;
  contentType: string | undefined;
  form: URLSearchParams;
}

let server: Server;
let tokenUrl: string;
let seen: SeenRequest[] = [];
let answer: (request: SeenRequest) => { status: number; body: unknown } = () => ({ status: 500, body: {} });

const readBody = async (request: IncomingMessage) => {
  let text = '';
  for await (const chunk of request) text += String(chunk);
  return text;
};

beforeAll(async () => {
  server = createServer((request, response) => {
    void readBody(request).then((text) => {
      const entry = {
        authorization: request.headers.authorization,
        contentType: request.headers['content-type'],
        form: new URLSearchParams(text),
      };
      seen.push(entry);
      const { status, body } = answer(entry);
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/realms/kafka/token`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
});

const credentials = () => ({ tokenUrl, clientId: 'muxly pipeline', clientSecret: 's3cret:+&/', scope: 'kafka' });
let issued = 0;
const tokenAnswer = (expiresIn?: number) => () => ({
  status: 200,
  body: { access_token: `token-${++issued}`, token_type: 'Bearer', ...(expiresIn ? { expires_in: expiresIn } : {}) },
});

test('asks with client_secret_basic and the scope, then reuses the token until shortly before it expires', async () => {
  let clock = 1_000_000;
  answer = tokenAnswer(300);
  const provider = new ClientCredentialsTokenProvider(credentials(), { now: () => clock });
  try {
    const first = await provider.token();
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request!.contentType).toBe('application/x-www-form-urlencoded');
    expect(request!.form.get('grant_type')).toBe('client_credentials');
    expect(request!.form.get('scope')).toBe('kafka');
    // RFC 6749 section 2.3.1: each part form-encoded before base64 (a space is '+', ':' is %3A).
    const basic = Buffer.from(request!.authorization!.replace(/^Basic /, ''), 'base64').toString();
    expect(basic).toBe('muxly+pipeline:s3cret%3A%2B%26%2F');

    clock += 200_000; // 100 s left: still well before the renewal point
    expect(await provider.token()).toBe(first);
    expect(seen).toHaveLength(1);

    clock += 50_000; // 50 s left: inside the last minute, renewed
    const second = await provider.token();
    expect(second).not.toBe(first);
    expect(seen).toHaveLength(2);
  } finally {
    provider.close();
  }
});

test('connections asking at once share one request', async () => {
  answer = tokenAnswer(60);
  const provider = new ClientCredentialsTokenProvider(credentials());
  try {
    const tokens = await Promise.all([provider.token(), provider.token(), provider.token()]);
    expect(new Set(tokens).size).toBe(1);
    expect(seen).toHaveLength(1);
  } finally {
    provider.close();
  }
});

test("without expires_in, the JWT's exp sets the renewal; without either, every call asks again", async () => {
  const clock = 2_000_000_000;
  const payload = Buffer.from(JSON.stringify({ sub: 'muxly', exp: clock / 1000 + 600 })).toString('base64url');
  answer = () => ({ status: 200, body: { access_token: `eyJhbGciOiJSUzI1NiJ9.${payload}.signature` } });
  const jwtProvider = new ClientCredentialsTokenProvider(credentials(), { now: () => clock });
  await jwtProvider.token();
  await jwtProvider.token();
  expect(seen).toHaveLength(1);
  jwtProvider.close();

  answer = tokenAnswer();
  const opaqueProvider = new ClientCredentialsTokenProvider(credentials(), { now: () => clock });
  await opaqueProvider.token();
  await opaqueProvider.token();
  expect(seen).toHaveLength(3);
  opaqueProvider.close();
});

test('a refused client is a configuration error naming the settings, final for kafkajs, without the secret', async () => {
  answer = () => ({
    status: 401,
    body: { error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' },
  });
  const provider = new ClientCredentialsTokenProvider(credentials());
  const error = await provider.token().then(
    () => undefined,
    (failure: unknown) => failure,
  );
  provider.close();
  expect(error).toBeInstanceOf(TokenRefusedError);
  expect(error).toBeInstanceOf(ConfigurationError);
  expect(error).toMatchObject({ step: 'authenticate', retriable: false });
  const message = (error as Error).message;
  expect(message).toContain('kafka.sasl.clientSecret');
  expect(message).toContain(tokenUrl);
  expect(message).toContain('invalid_client (Invalid client or Invalid client credentials)');
  expect(message).not.toContain('s3cret');
});

test('a refused scope names kafka.sasl.scope', async () => {
  answer = () => ({ status: 400, body: { error: 'invalid_scope' } });
  const provider = new ClientCredentialsTokenProvider(credentials());
  await expect(provider.token()).rejects.toMatchObject({ step: 'permission', message: /kafka\.sasl\.scope/ });
  provider.close();
});

test('an identity provider that is down is retryable and nothing is cached', async () => {
  answer = () => ({ status: 503, body: { error: 'temporarily_unavailable' } });
  const provider = new ClientCredentialsTokenProvider(credentials());
  await expect(provider.token()).rejects.toBeInstanceOf(RetryableError);
  answer = tokenAnswer(300);
  await expect(provider.token()).resolves.toMatch(/^token-/);
  provider.close();

  const unreachable = new ClientCredentialsTokenProvider({ ...credentials(), tokenUrl: 'http://127.0.0.1:1/token' });
  await expect(unreachable.token()).rejects.toThrow(RetryableError);
  await expect(unreachable.token()).rejects.toThrow(
    /kafka\.sasl\.tokenUrl: no token from http:\/\/127\.0\.0\.1:1\/token/,
  );
  unreachable.close();
});

test('a 200 that is not a token answer says the URL is probably not the token endpoint', async () => {
  answer = () => ({ status: 200, body: { issuer: 'https://idp.example' } });
  const provider = new ClientCredentialsTokenProvider(credentials());
  await expect(provider.token()).rejects.toThrow(/without an access_token/);
  provider.close();
});
