/**
 * The winston JSON logger. Messages are fixed strings; details go in fields. A format strips any
 * field that could carry Secret data, as a second line of defence: the code never logs it.
 */
import winston from 'winston';
import type { LogLevel } from './config.js';

export type Logger = winston.Logger;

const FORBIDDEN = new Set(['data', 'stringData', '.dockerconfigjson', '.dockercfg', 'auths', 'password', 'auth', 'key', 'caKey', 'tls.key', 'ca.key']);

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) if (FORBIDDEN.has(key)) delete info[key];
  return info;
});

/** A JSON logger writing to stderr (stdout stays free for command output such as --once summaries). */
export function createLogger(level: LogLevel, stream: NodeJS.WritableStream = process.stderr): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** The message of an unknown error, for a log field. Never JSON.stringify an Error: that gives {}. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
