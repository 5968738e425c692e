// The CLI's HTTP client: one request helper that turns problem+json answers into a message.

export class CliError extends Error {}

export class ApiClient {
  readonly #baseUrl: string;
  readonly #token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.#baseUrl = baseUrl.replace(/\/$/, '');
    this.#token = token;
  }

  static fromEnvironment(env: NodeJS.ProcessEnv): ApiClient {
    return new ApiClient(env.MUXLY_URL ?? 'http://127.0.0.1:8081', env.MUXLY_TOKEN);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are printed, not typed
  async request(method: string, path: string, body?: unknown): Promise<any> {
    let response: Response;
    try {
      response = await fetch(`${this.#baseUrl}${path}`, {
        method,
        headers: {
          ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(90_000),
      });
    } catch (error) {
      throw new CliError(
        `the control plane at ${this.#baseUrl} did not answer (${(error as Error).message}); set MUXLY_URL`,
      );
    }
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const problem = parsed as { title?: string; detail?: string; errors?: { pointer: string; detail: string }[] };
      const details = (problem?.errors ?? []).map((error) => `\n  ${error.pointer}: ${error.detail}`).join('');
      const hint = response.status === 401 ? ' (set MUXLY_TOKEN to an access token or an API key)' : '';
      throw new CliError(`${response.status} ${problem?.title ?? ''}: ${problem?.detail ?? text}${details}${hint}`);
    }
    return parsed;
  }
}
