/**
 * The API contract: the schemas every request and response is validated against, and from which `/openapi.json`
 * is generated. The CLI and the web UI import only this folder (and base).
 */
export * from './common.js';
export * from './images.js';
export * from './instances.js';
export * from './networks.js';
export * from './storage.js';

/** Where the daemon listens by default (TCP). */
export const DEFAULT_DAEMON_PORT = 8440;

/** The API prefix of resources. */
export const API_PREFIX = '/1.0';
