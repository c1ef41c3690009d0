import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** What the web console's pages may load and connect to: this origin only. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // xterm.js and Preact set styles at run time.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** One file of the built web console. */
interface WebFile {
  type: string;
  body: Buffer;
  immutable: boolean;
}

/**
 * The built web console (static files of `dist/web`), read once into memory. Its paths are `/` (index.html) and
 * the files beside it; they are public (the sign-in page must load without a session): every API route still needs
 * the token or a session.
 */
export class WebUi {
  private readonly files = new Map<string, WebFile>();

  constructor(root: string) {
    if (!existsSync(root)) return;
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else {
          const url = `/${relative(root, p).split(sep).join('/')}`;
          this.files.set(url === '/index.html' ? '/' : url, {
            type: TYPES[extname(name)] ?? 'application/octet-stream',
            body: readFileSync(p),
            // Vite names built assets by their content hash.
            immutable: url.startsWith('/assets/'),
          });
        }
      }
    };
    walk(root);
  }

  /** True when the console was built (index.html exists). */
  get available(): boolean {
    return this.files.has('/');
  }

  /** True when `path` (without query) is `/` or one of the console's files: served without a token. */
  has(path: string): boolean {
    return path === '/' || this.files.has(path);
  }

  /** Adds a GET route for every file (and at `/`, when the console was not built, a page saying so). */
  register(app: FastifyInstance): void {
    if (!this.available) {
      app.get('/', { logLevel: 'warn' }, async (_req, reply) =>
        reply
          .code(503)
          .type('text/plain; charset=utf-8')
          .send('The Strata web console is not built: run `npm run build` in the checkout, then restart the daemon.\n'),
      );
    }
    for (const [url, file] of this.files) {
      app.get(url, { logLevel: 'warn' }, async (_req, reply) =>
        reply
          .type(file.type)
          .header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
          .header('x-content-type-options', 'nosniff')
          .header('x-frame-options', 'DENY')
          .header('referrer-policy', 'no-referrer')
          .header('content-security-policy', CSP)
          .send(file.body),
      );
    }
  }
}
