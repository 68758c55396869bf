/**
 * Where `npm run bench` keeps its results: each run writes what it printed to a dated page,
 * docs/benchmarks/<YYYY-MM-DD>-<name>.md (a second run of the same day gets -2, -3, ...), headed by
 * the command and the machine, and rewrites the list of the latest page of each benchmark in
 * docs/benchmarks/README.md, which the docs link. `--out PATH` writes the page elsewhere, `--out -`
 * writes none (CI's smoke run). test/unit/docs-links.test.ts checks that the list is current.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { format } from 'node:util';
import { ROOT } from './docs/links.js';

export const BENCH_DIR = join(ROOT, 'docs', 'benchmarks');
export const INDEX = join(BENCH_DIR, 'README.md');
const BEGIN = '<!-- BEGIN latest: rewritten by npm run bench (scripts/bench-record.ts) -->';
const END = '<!-- END latest -->';

/** A result page's name: its date, the benchmark, and the run of that day (1 for none). */
const PAGE = /^(\d{4}-\d{2}-\d{2})-([a-z]+(?:-[a-z]+)*)(?:-(\d+))?\.md$/;

export interface ResultPage {
  file: string;
  date: string;
  name: string;
  run: number;
}

export function parsePage(file: string): ResultPage | undefined {
  const m = PAGE.exec(file);
  if (!m?.[1] || !m[2]) return undefined;
  return { file, date: m[1], name: m[2], run: Number(m[3] ?? 1) };
}

/** The latest page of each benchmark, by name. */
export function latestPages(files: readonly string[]): ResultPage[] {
  const latest = new Map<string, ResultPage>();
  for (const page of files.map(parsePage)) {
    if (!page) continue;
    const seen = latest.get(page.name);
    if (!seen || page.date > seen.date || (page.date === seen.date && page.run > seen.run)) latest.set(page.name, page);
  }
  return [...latest.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** docs/benchmarks/README.md with its list of the latest pages made from `files`. */
export function indexWithLatest(index: string, files: readonly string[]): string {
  const begin = index.indexOf(BEGIN);
  const end = index.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${INDEX} lacks the markers ${BEGIN} ... ${END}`);
  const list = latestPages(files).map((p) => `- **${p.name}**: [${p.file}](${p.file})`);
  return `${index.slice(0, begin + BEGIN.length)}\n${list.join('\n')}\n${index.slice(end)}`;
}

export function resultFiles(dir: string = BENCH_DIR): string[] {
  return readdirSync(dir).filter((f) => parsePage(f) !== undefined).sort();
}

/** The path of today's page for `name`: the first of <date>-<name>.md, <date>-<name>-2.md, ... that is free. */
export function nextPagePath(name: string, date: string, dir: string = BENCH_DIR): string {
  for (let run = 1; ; run++) {
    const path = join(dir, `${date}-${name}${run === 1 ? '' : `-${run}`}.md`);
    if (!existsSync(path)) return path;
  }
}

/** What a benchmark printed, as Markdown: a table gets the blank line before it that Markdown needs. */
export function asMarkdown(output: string): string {
  const out: string[] = [];
  for (const line of output.trim().split('\n')) {
    const prev = out[out.length - 1];
    if (line.startsWith('|') && prev !== undefined && prev.trim() !== '' && !prev.startsWith('|')) out.push('');
    out.push(line);
  }
  return out.join('\n');
}

/** A result page: the command that produced it, the machine it ran on, and what the benchmark printed. */
export function resultPage(o: { date: string; command: string; output: string; machine: string }): string {
  return `# ${o.date}: \`${o.command}\`\n\nWritten by \`${o.command}\` (scripts/bench-record.ts) on ${o.machine}.\n\n${asMarkdown(o.output)}\n`;
}

export function machine(): string {
  const load = loadavg().map((l) => l.toFixed(1)).join(', ');
  return `Node ${process.version}, ${availableParallelism()} cores, load average ${load} at the end`;
}

/** Takes `--out PATH` (or `--out=PATH`) out of the benchmark's arguments. */
export function takeOut(argv: readonly string[]): { out: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--out') out = argv[++i] ?? '';
    else if (arg.startsWith('--out=')) out = arg.slice('--out='.length);
    else rest.push(arg);
  }
  return { out, rest };
}

/**
 * Runs a benchmark while keeping what it prints with console.log (it still goes to stdout), then
 * writes its page (unless `out` is `-`) and the list of the latest pages. Nothing is written when
 * the benchmark fails.
 */
export async function recorded(o: { name: string; argv: readonly string[]; out: string | undefined }, run: () => Promise<void>): Promise<void> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]): void => {
    lines.push(format(...args));
    log(...args);
  };
  try {
    await run();
  } finally {
    console.log = log;
  }
  if (o.out === '-') return;
  const date = new Date().toISOString().slice(0, 10);
  const path = o.out ?? nextPagePath(o.name, date);
  const command = ['npm run bench', ...(o.argv.length > 0 ? ['--', ...o.argv] : [])].join(' ');
  writeFileSync(path, resultPage({ date, command, output: lines.join('\n'), machine: machine() }));
  console.error(`result written to ${path}`);
  if (o.out === undefined) writeFileSync(INDEX, indexWithLatest(readFileSync(INDEX, 'utf8'), resultFiles()));
}
