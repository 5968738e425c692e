import type { Socket } from 'node:net';
import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import {
  blockedAddressIn,
  ConfigurationError,
  errorMessage,
  guardedConnect,
  outboundGuard,
  PermanentError,
  RefusedError,
  RetryableError,
} from '@muxly/common';
import { compileTemplate, RuleCompileError, type Template } from '@muxly/schemas';
import type { DeliveryItem, DestinationContext, DestinationInstance, SendResult } from '../destination.ts';
import { sendInOrder } from '../send-in-order.ts';
import { resolveConfig } from '../plugin-config.ts';
import { EmailDestinationConfig } from './config.ts';

/**
 * nodemailer/SMTP failures mapped to the router's error classes: 4xx replies are transient by
 * RFC 5321, 5xx are not; authentication failures are the configuration's; connection problems pass.
 */
export function classifySmtpError(error: unknown): Error {
  // The outbound address guard refused the peer's address: the configuration must change.
  const blocked = blockedAddressIn(error);
  if (blocked) return blocked;
  const { code, responseCode } = error as { code?: string; responseCode?: number };
  const message = `SMTP: ${errorMessage(error)}`;
  if (code === 'EAUTH' || responseCode === 530 || responseCode === 535)
    return new RefusedError('authenticate', `${message} (check the SMTP user and password)`);
  if (typeof responseCode === 'number' && responseCode >= 400 && responseCode < 500)
    return new RetryableError(message, { cause: error });
  if (typeof responseCode === 'number' && responseCode >= 500) return new PermanentError(message, { cause: error });
  if (code === 'EENVELOPE' || code === 'EMESSAGE') return new PermanentError(message, { cause: error });
  return new RetryableError(message, { cause: error });
}

function compile(text: string, place: string): Template {
  try {
    return compileTemplate(text, place);
  } catch (error) {
    throw error instanceof RuleCompileError ? new ConfigurationError(error.message) : error;
  }
}

/** A Message-ID derived from the event ids, so a redelivered email can be recognised by the receiver. */
const messageId = (ids: readonly string[]): string =>
  `<${createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 32)}@muxly>`;

/** Creates a email destination (the descriptor in index.ts imports this module when one is created). */
export async function createEmailDestination(
  rawConfig: EmailDestinationConfig,
  context: DestinationContext,
): Promise<DestinationInstance> {
  const config = resolveConfig(EmailDestinationConfig, rawConfig, 'email');
  const subject = compile(config.subject, 'config.subject');
  const text = compile(config.text, 'config.text');
  const digestSubject = config.digest ? compile(config.digest.subject, 'config.digest.subject') : undefined;
  const { smtp } = config;
  if ((smtp.user === undefined) !== (smtp.password === undefined))
    throw new ConfigurationError('config.smtp: set both user and password, or neither');

  const guard = outboundGuard(context.outbound);
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTLS,
    ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password! } } : {}),
    connectionTimeout: smtp.timeoutMs,
    greetingTimeout: smtp.timeoutMs,
    socketTimeout: smtp.timeoutMs,
    // One reused connection per destination: a batch of messages does not reconnect per message.
    pool: true,
    maxConnections: 1,
    // Every connection goes through the outbound address guard, checked on the address connected
    // to; nodemailer then speaks SMTP (and TLS, verifying smtp.host) over the socket given here.
    getSocket: (_options: unknown, callback: (error: Error | null, socket?: { connection: Socket }) => void) => {
      guardedConnect(guard, smtp.host, smtp.port, smtp.timeoutMs).then(
        (socket) => callback(null, { connection: socket }),
        (error: Error) => callback(error),
      );
    },
  });

  const deliver = async (items: readonly DeliveryItem[], mailSubject: string, body: string): Promise<void> => {
    try {
      await transport.sendMail({
        from: config.from,
        to: config.to,
        subject: mailSubject,
        text: body,
        messageId: messageId(items.map((item) => item.id)),
      });
    } catch (error) {
      throw classifySmtpError(error);
    }
  };

  return {
    async send(batch): Promise<SendResult | void> {
      if (digestSubject) {
        const summary = { count: batch.length, first: batch[0]?.event, last: batch[batch.length - 1]?.event };
        await deliver(
          batch,
          digestSubject(summary),
          batch.map((item) => text(item.event)).join(config.digest!.separator),
        );
        return;
      }
      // One email per event, in order.
      return sendInOrder(batch, {
        peer: 'SMTP',
        signal: context.signal,
        sendChunk: (chunk) => deliver(chunk, subject(chunk[0]!.event), text(chunk[0]!.event)),
      });
    },
    async healthcheck() {
      try {
        await transport.verify();
      } catch (error) {
        throw classifySmtpError(error);
      }
    },
    async close() {
      transport.close();
    },
  };
}
