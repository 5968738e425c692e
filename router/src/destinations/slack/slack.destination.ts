import { ErrorCode, LogLevel, WebClient, type FetchFunction, type WebAPICallError } from '@slack/web-api';
import {
  blockedAddressIn,
  ConfigurationError,
  errorMessage,
  createHttpClient,
  PermanentError,
  RefusedError,
  RetryableError,
  ThrottledError,
  type HttpClient,
} from '@muxly/common';
import { compileTemplate, RuleCompileError } from '@muxly/schemas';
import type { DestinationContext, DestinationInstance, SendResult } from '../destination.ts';
import { sendInOrder } from '../send-in-order.ts';
import { resolveConfig } from '../plugin-config.ts';
import { SlackDestinationConfig } from './config.ts';

// Slack `error` strings (https://api.slack.com/methods/chat.postMessage#errors) grouped by what the
// router should do: the configuration is wrong, this message can never be posted, or wait and retry.
const CONFIGURATION_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'org_login_required',
  'ekm_access_denied',
  'team_access_not_granted',
]);
// Which connection-test step a configuration error fails (the others are the channel: `check`).
const AUTHENTICATION_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
]);
const PERMISSION_ERRORS = new Set([
  'no_permission',
  'missing_scope',
  'org_login_required',
  'ekm_access_denied',
  'team_access_not_granted',
]);
const RETRYABLE_ERRORS = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
  'rate_limited',
]);

/** The one place where Slack Web API failures become the router's error classes. */
/** Slack's client calls `fetch`; this one answers through the guarded HTTP client, every status returned. */
function guardedFetch(http: HttpClient): FetchFunction {
  return async (url, init = {}) => {
    if (init.body !== undefined && typeof init.body !== 'string')
      throw new PermanentError('Slack: only form-encoded calls are made (no file uploads)');
    const answer = await http.request({
      method: init.method ?? 'GET',
      url: String(url),
      headers: init.headers,
      body: init.body,
      signal: init.signal,
      acceptStatus: () => true,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, one);
    }
    return new Response(answer.status === 204 || answer.status === 304 ? null : answer.body, {
      status: answer.status,
      headers,
    });
  };
}

export function classifySlackError(error: unknown): Error {
  // The outbound address guard refused the peer's address: the configuration must change.
  const blocked = blockedAddressIn(error);
  if (blocked) return blocked;
  const slack = error as Partial<WebAPICallError> & {
    data?: { error?: string };
    statusCode?: number;
    retryAfter?: number;
  };
  switch (slack.code) {
    case ErrorCode.RateLimitedError:
      return new ThrottledError('Slack: rate limited', {
        retryAfterMs: typeof slack.retryAfter === 'number' ? slack.retryAfter * 1000 : undefined,
      });
    case ErrorCode.PlatformError: {
      const code = slack.data?.error ?? 'unknown_error';
      if (AUTHENTICATION_ERRORS.has(code)) return new RefusedError('authenticate', `Slack: ${code} (check the token)`);
      if (PERMISSION_ERRORS.has(code))
        return new RefusedError('permission', `Slack: ${code} (check the token's scopes)`);
      if (CONFIGURATION_ERRORS.has(code)) return new RefusedError('check', `Slack: ${code} (check the channel)`);
      if (RETRYABLE_ERRORS.has(code)) return new RetryableError(`Slack: ${code}`);
      return new PermanentError(`Slack: ${code}`);
    }
    case ErrorCode.HTTPError: {
      const status = slack.statusCode ?? 0;
      if (status === 408 || status >= 500) return new RetryableError(`Slack: HTTP ${status}`);
      return new PermanentError(`Slack: HTTP ${status}`, { status });
    }
    default:
      // Request errors (connection refused, reset, timeout) and anything unexpected: try again later.
      return new RetryableError(`Slack: ${errorMessage(error)}`, { cause: error });
  }
}

/** Creates a slack destination (the descriptor in index.ts imports this module when one is created). */
export async function createSlackDestination(
  rawConfig: SlackDestinationConfig,
  context: DestinationContext,
): Promise<DestinationInstance> {
  const config = resolveConfig(SlackDestinationConfig, rawConfig, 'slack');
  let render: (event: unknown) => string;
  try {
    render = compileTemplate(config.text, 'config.text');
  } catch (error) {
    throw error instanceof RuleCompileError ? new ConfigurationError(error.message) : error;
  }
  const client = new WebClient(config.token, {
    slackApiUrl: config.slackApiUrl,
    timeout: config.timeoutMs,
    // NOTE: the router's retry policy (backoff, jitter, Retry-After, DLQ) owns retries; the
    // client's own would wait invisibly while holding a Kafka batch, and retry past a shutdown.
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    allowAbsoluteUrls: false,
    logLevel: LogLevel.ERROR,
    // Every request goes through the guarded HTTP client (slackApiUrl may name any host): the
    // outbound address guard checks the address connected to.
    fetch: guardedFetch(createHttpClient({ allow: context.outbound.allowAddresses, timeoutMs: config.timeoutMs })),
  });

  return {
    async send(batch): Promise<SendResult | void> {
      // One message per event, in order: a message Slack refuses (e.g. msg_too_long) is
      // dead-lettered alone; a rate limit, an outage or a refused token stops the batch there.
      return sendInOrder(batch, {
        peer: 'Slack',
        signal: context.signal,
        sendChunk: async ([item]) => {
          try {
            await client.chat.postMessage({
              channel: config.channel,
              text: render(item!.event),
              unfurl_links: config.unfurlLinks,
              ...(config.username ? { username: config.username } : {}),
              ...(config.iconEmoji ? { icon_emoji: config.iconEmoji } : {}),
            });
          } catch (error) {
            throw classifySlackError(error);
          }
        },
      });
    },
    async healthcheck() {
      try {
        await client.auth.test();
      } catch (error) {
        throw classifySlackError(error);
      }
    },
    async close() {},
  };
}
