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

  /**
   * Reads a server-sent event stream until it ends or `signal` aborts, calling `onEvent` for each
   * event (its name and parsed JSON data).
   */
  async stream(path: string, onEvent: (stage: string, data: unknown) => void, signal?: AbortSignal): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${this.#baseUrl}${path}`, {
        headers: { accept: 'text/event-stream', ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}) },
        signal,
      });
    } catch (error) {
      if (signal?.aborted) return;
      throw new CliError(
        `the control plane at ${this.#baseUrl} did not answer (${(error as Error).message}); set MUXLY_URL`,
      );
    }
    if (!response.ok || !response.body) await this.#refuse(response);
    let buffer = '';
    try {
      for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const stage = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (stage && data) onEvent(stage, JSON.parse(data));
        }
      }
    } catch (error) {
      if (!signal?.aborted) throw new CliError(`the stream broke: ${(error as Error).message}`);
    }
  }

  async #refuse(response: Response): Promise<never> {
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const problem = parsed as { title?: string; detail?: string; errors?: { pointer: string; detail: string }[] };
    const details = (problem?.errors ?? []).map((error) => `\n  ${error.pointer}: ${error.detail}`).join('');
    const hint = response.status === 401 ? ' (set MUXLY_TOKEN to an access token or an API key)' : '';
    throw new CliError(`${response.status} ${problem?.title ?? ''}: ${problem?.detail ?? text}${details}${hint}`);
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
    if (!response.ok) await this.#refuse(response);
    const text = await response.text();
    return text ? JSON.parse(text) : undefined;
  }
}
