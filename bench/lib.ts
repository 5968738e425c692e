import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const BENCH_API_KEY = 'mxk_bench_key_0123456789abcdef';
export const benchDir = mkdtempSync(join(tmpdir(), 'muxly-bench-'));
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A 300-byte metric (serialized), like a typical service's gauge with a few labels. */
export function metric300(index = 0, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const base = {
    name: 'http.server.duration',
    value: 12.5 + (index % 100),
    unit: 'ms',
    dimensions: { service: 'checkout', region: 'eu-west-1', route: '/api/orders/{id}', method: 'POST', status: 200 },
    attributes: { ...extra, pad: '' },
  };
  const size = Buffer.byteLength(JSON.stringify(base));
  base.attributes.pad = 'x'.repeat(Math.max(0, 300 - size));
  return base;
}

export function writeSettings(name: string, document: object): string {
  const file = join(benchDir, `${name}.json`);
  writeFileSync(file, JSON.stringify(document, null, 2));
  return file;
}

export const apiKeyHash = () => `sha256:${createHash('sha256').update(BENCH_API_KEY).digest('hex')}`;

/**
 * CPU time (user + system) a process has used so far, in seconds. A figure that a busy machine
 * does not distort as much as a rate: it says what the work costs, not how fast it got a core.
 */
export function cpuSeconds(pid: number): number {
  // The fields after the command name (which may hold spaces) start at the third; utime and
  // stime are the 14th and 15th, in clock ticks (100 per second on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Peak resident set size (VmHWM) of a process, in MB. */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  socketErrors: string;
  requests: number;
}

/** Runs wrk with a POST body and parses requests/s, latency percentiles and errors. */
export async function wrk(
  url: string,
  body: string,
  options: { connections: number; threads: number; seconds: number },
): Promise<WrkResult> {
  const script = join(benchDir, `post-${Math.random().toString(16).slice(2)}.lua`);
  // A long bracket of level 3 cannot be closed by anything in JSON.
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${BENCH_API_KEY}"\nwrk.body = [===[${body}]===]\n`,
  );
  const { stdout } = await run(
    'wrk',
    [
      '-t',
      String(options.threads),
      '-c',
      String(options.connections),
      '-d',
      `${options.seconds}s`,
      '--latency',
      '-s',
      script,
      url,
    ],
    {
      timeout: (options.seconds + 30) * 1000,
    },
  );
  const number = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1] ?? NaN);
  const millis = (label: string) => {
    const match = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(stdout);
    if (!match) return NaN;
    const value = Number(match[1]);
    return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  };
  return {
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: millis('50'),
    p99Ms: millis('99'),
    non2xx: number(/Non-2xx or 3xx responses:\s+(\d+)/) || 0,
    socketErrors: /Socket errors:[^\n]*/.exec(stdout)?.[0] ?? '',
    requests: number(/(\d+) requests in/),
  };
}

/** Percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// Idle sockets are closed here after 2 s, before ingest closes them after its 5 s keep-alive
// (node:http's Agent ignores the server's `Keep-Alive: timeout=5`): a request sent on a socket the
// server is closing at that moment fails with ECONNRESET, which a bench would report as a failed
// request of the pipeline.
const keepAlive = new Agent({ keepAlive: true, timeout: 2_000 });

/**
 * One POST of metrics (the bench's API key) on a kept-alive connection; settles with the status
 * once the answer was read whole, and the answer's text when it was not 202 (its problem type).
 * NOTE (cost): node:http rather than fetch: at 400 requests/s the bench's own CPU went from 0.25
 * to 0.14 cores with this change alone, CPU the pipeline it measures shares.
 */
export function postMetrics(url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      {
        method: 'POST',
        agent: keepAlive,
        timeout: 30_000,
        headers: {
          authorization: `Bearer ${BENCH_API_KEY}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        let text = '';
        response.on('error', reject);
        response.on('end', () => resolve({ status, text }));
        if (status === 202) response.resume();
        else response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      },
    );
    request.on('timeout', () =>
      request.destroy(Object.assign(new Error('no answer within 30 s'), { code: 'ETIMEDOUT' })),
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** BENCH_CPU_PROF=<folder>: the environment that makes a started service write a V8 CPU profile there when it stops. */
export const cpuProfileEnv = (): Record<string, string> =>
  process.env.BENCH_CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_CPU_PROF}` } : {};
