import { createReadStream, createWriteStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { WebSocket } from 'ws';
import type { Operation } from '../api/schema/index.js';
import { StrataError, type StrataErrorCode } from '../base/errors.js';

/** Where the daemon is and how to prove who we are. */
export interface DaemonTarget {
  /** `http://127.0.0.1:8440` for TCP; for the Unix socket the URL's host is ignored. */
  baseUrl: string;
  /** The Unix socket, when talking over it. */
  socketPath?: string | undefined;
  /** The bearer token (TCP). */
  token?: string | undefined;
}

/** A JSON answer with its status and headers. */
export interface ApiResponse<T> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

const ERROR_CODES = new Set<string>([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'CONFLICT',
  'IO',
  'NO_SPACE',
  'NETWORK',
  'CHECKSUM',
  'UNAVAILABLE',
  'ABORTED',
  'GUEST_FAULT',
  'INTERNAL',
]);

/**
 * The CLI's HTTP and WebSocket client of the daemon, over TCP (with the bearer token) or the Unix socket. API errors
 * become StrataErrors with the daemon's code and message, so the CLI prints them as one line.
 */
export class DaemonClient {
  /** Keeps connections open between requests; idle ones close before the daemon's keep-alive timeout. */
  private readonly agent = new Agent({ keepAlive: true, timeout: 30_000 });

  constructor(readonly target: DaemonTarget) {}

  private describe(): string {
    return this.target.socketPath ?? this.target.baseUrl;
  }

  /**
   * Sends one request; resolves with the parsed JSON (or text) answer of any status. A Uint8Array body goes as raw
   * bytes (`application/octet-stream`), and a raw-bytes answer comes back as a Buffer.
   */
  async raw<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<ApiResponse<T>> {
    try {
      return await this.once<T>(method, path, body, signal);
    } catch (err) {
      // A kept-alive connection the daemon closed at the same moment: the request never arrived, send it again.
      if ((err as { retry?: boolean }).retry) return this.once<T>(method, path, body, signal);
      throw err;
    }
  }

  private once<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<ApiResponse<T>> {
    const url = new URL(path, this.target.baseUrl);
    const bytes = body instanceof Uint8Array;
    const payload =
      body === undefined ? undefined : bytes ? Buffer.from(body as Uint8Array) : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) headers['content-type'] = bytes ? 'application/octet-stream' : 'application/json';
    if (this.target.token) headers.authorization = `Bearer ${this.target.token}`;
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          method,
          path: url.pathname + url.search,
          headers,
          signal,
          agent: this.agent,
          ...(this.target.socketPath
            ? { socketPath: this.target.socketPath }
            : { host: url.hostname, port: url.port || 80 }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const all = Buffer.concat(chunks);
            const type = res.headers['content-type'] ?? '';
            if (type.startsWith('application/octet-stream')) {
              // Raw bytes (file pulls, console history): a Buffer, which String() still shows as text.
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: all as T });
              return;
            }
            const text = all.toString('utf8');
            const isJson = type.includes('json');
            let parsed: unknown = text;
            if (isJson && text !== '') {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T });
          });
          res.on('error', reject);
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          reject(Object.assign(new Error('connection reset'), { retry: true }));
          return;
        }
        if (err.name === 'AbortError') {
          reject(new StrataError('ABORTED', `request ${method} ${path} cancelled`));
          return;
        }
        const hint =
          err.code === 'ECONNREFUSED' || err.code === 'ENOENT'
            ? ': is the daemon running? (strata daemon, or npm start)'
            : '';
        reject(
          new StrataError(
            'UNAVAILABLE',
            `cannot reach the Strata daemon at ${this.describe()} (${err.code ?? err.message})${hint}`,
          ),
        );
      });
      req.end(payload);
    });
  }

  /**
   * Streams the raw bytes a GET answers into `dest` (created; an existing file is never overwritten), calling
   * `onProgress` with the bytes received and the length the daemon announced. A non-2xx answer throws the daemon's
   * error; a failed, short or cancelled transfer removes what it wrote. Resolves with the bytes written.
   */
  download(
    path: string,
    dest: string,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<number> {
    const url = new URL(path, this.target.baseUrl);
    const headers: Record<string, string> = { accept: 'application/octet-stream' };
    if (this.target.token) headers.authorization = `Bearer ${this.target.token}`;
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          method: 'GET',
          path: url.pathname + url.search,
          headers,
          signal,
          ...(this.target.socketPath
            ? { socketPath: this.target.socketPath }
            : { host: url.hostname, port: url.port || 80 }),
        },
        (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              let body: unknown = Buffer.concat(chunks).toString('utf8');
              try {
                body = JSON.parse(body as string);
              } catch {
                // Not JSON: the status says enough.
              }
              reject(toError({ status, headers: res.headers, body }));
            });
            res.on('error', reject);
            return;
          }
          const total = Number(res.headers['content-length'] ?? 0);
          let done = 0;
          const out = createWriteStream(dest, { flags: 'wx' });
          res.on('data', (c: Buffer) => {
            done += c.length;
            onProgress?.(done, total);
          });
          pipeline(res, out).then(
            () => {
              if (total > 0 && done !== total) {
                void unlink(dest).catch(() => {});
                reject(new StrataError('IO', `the download of ${path} ended after ${done} of ${total} bytes`));
              } else {
                resolve(done);
              }
            },
            (err: NodeJS.ErrnoException) => {
              if (err.code === 'EEXIST') {
                reject(new StrataError('ALREADY_EXISTS', `${dest}: the file exists`));
                return;
              }
              void unlink(dest).catch(() => {});
              if (signal?.aborted) reject(new StrataError('ABORTED', `download of ${path} cancelled`));
              else reject(new StrataError('IO', `cannot write ${dest}: ${err.message}`));
            },
          );
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.name === 'AbortError') {
          reject(new StrataError('ABORTED', `download of ${path} cancelled`));
          return;
        }
        reject(
          new StrataError(
            'UNAVAILABLE',
            `cannot reach the Strata daemon at ${this.describe()} (${err.code ?? err.message})`,
          ),
        );
      });
      req.end();
    });
  }

  /**
   * Sends the file `file` as the body of a POST (media type `contentType`, its length announced), calling
   * `onProgress` with the bytes sent and the file's size; resolves with the JSON of a 2xx answer and throws the
   * daemon's error otherwise (also when the daemon answers before the whole file was sent).
   */
  async upload<T = unknown>(
    path: string,
    file: string,
    contentType: string,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<T> {
    let size: number;
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new StrataError('INVALID_ARGUMENT', `${file}: not a file`);
      size = st.size;
    } catch (err) {
      if (err instanceof StrataError) throw err;
      throw new StrataError(
        'NOT_FOUND',
        `${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      );
    }
    const url = new URL(path, this.target.baseUrl);
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': contentType,
      'content-length': String(size),
    };
    if (this.target.token) headers.authorization = `Bearer ${this.target.token}`;
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = httpRequest(
        {
          method: 'POST',
          path: url.pathname + url.search,
          headers,
          signal,
          // A connection of its own: an answer that comes before the whole body leaves it unusable.
          agent: false,
          ...(this.target.socketPath
            ? { socketPath: this.target.socketPath }
            : { host: url.hostname, port: url.port || 80 }),
        },
        (res) => {
          answered = true;
          source.unpipe(req);
          source.destroy();
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = JSON.parse(text);
            } catch {
              // Not JSON: the status says enough.
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(body as T);
            else reject(toError({ status, headers: res.headers, body }));
          });
          res.on('error', reject);
        },
      );
      const source = createReadStream(file);
      let sent = 0;
      source.on('data', (c: string | Buffer) => {
        sent += c.length;
        onProgress?.(sent, size);
      });
      source.on('error', (err) => {
        req.destroy();
        reject(new StrataError('IO', `cannot read ${file}: ${err.message}`));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        source.destroy();
        // The daemon answered early (a refusal) and closed: its answer is the outcome.
        if (answered) return;
        if (err.name === 'AbortError') {
          reject(new StrataError('ABORTED', `upload of ${file} cancelled`));
          return;
        }
        reject(
          new StrataError(
            'UNAVAILABLE',
            `cannot reach the Strata daemon at ${this.describe()} (${err.code ?? err.message})`,
          ),
        );
      });
      source.pipe(req);
    });
  }

  /** Sends a request and returns the body of a 2xx answer; any other status throws the daemon's error. */
  async call<T = unknown>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.raw<T>(method, path, body, signal);
    if (res.status >= 200 && res.status < 300) return res.body;
    throw toError(res);
  }

  /**
   * Waits for an operation to end, calling `onUpdate` with each poll; returns the finished operation and throws its
   * error when it failed. The wait is long-polling with short timeouts, so progress shows as it goes.
   */
  async waitOperation(op: Operation, onUpdate?: (op: Operation) => void, signal?: AbortSignal): Promise<Operation> {
    let cur = op;
    while (cur.status === 'running') {
      onUpdate?.(cur);
      cur = await this.call<Operation>(
        'GET',
        `/1.0/operations/${encodeURIComponent(cur.id)}/wait?timeout=0.5`,
        undefined,
        signal,
      );
    }
    onUpdate?.(cur);
    if (cur.status !== 'success') {
      const code = cur.errorCode && ERROR_CODES.has(cur.errorCode) ? (cur.errorCode as StrataErrorCode) : 'INTERNAL';
      throw new StrataError(code, cur.errorMessage ?? `operation ${cur.kind} ${cur.status}`);
    }
    return cur;
  }

  /** Opens a WebSocket to `path` (the token goes in the Authorization header). */
  websocket(path: string): WebSocket {
    const base = new URL(this.target.baseUrl);
    const headers: Record<string, string> = {};
    if (this.target.token) headers.authorization = `Bearer ${this.target.token}`;
    if (this.target.socketPath) {
      return new WebSocket(`ws+unix://${this.target.socketPath}:${path}`, { headers });
    }
    return new WebSocket(`ws://${base.host}${path}`, { headers });
  }
}

/** The StrataError for a non-2xx API answer. */
export function toError(res: ApiResponse<unknown>): StrataError {
  const body = res.body as { error?: { code?: string; message?: string } };
  const code = body?.error?.code;
  const message = body?.error?.message ?? `the daemon answered ${res.status}`;
  if (code === 'UNAUTHORIZED') {
    // Refused by the daemon, not a bad command line: a failure (exit 1) for every command, never a usage error.
    return new StrataError('UNAVAILABLE', `${message}: set STRATA_TOKEN (the token is in $STRATA_HOME/daemon/token)`);
  }
  return new StrataError(code && ERROR_CODES.has(code) ? (code as StrataErrorCode) : 'INTERNAL', message);
}
