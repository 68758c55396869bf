/**
 * Relative links of the repository's Markdown files, and the anchors GitHub gives their headings.
 * test/unit/docs-links.test.ts checks with these that every relative link resolves: the file (or
 * folder) exists, and a `#anchor` into a Markdown file matches one of its headings.
 * `npx tsx scripts/docs/links.ts` prints the broken links, one a line, and exits 1 if there are any.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Folders that hold no docs of ours: dependencies, build output, the test plane's data. */
const SKIP = new Set(['node_modules', '.git', 'dist', '.cluster']);

/** Every Markdown file of the repository, as paths relative to its root, sorted. */
export function markdownFiles(root: string = ROOT): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (SKIP.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.md')) out.push(relative(root, path).split(sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

/** The Markdown with fenced code blocks blanked out (line numbers kept): links in code are not links. */
function withoutFences(markdown: string): string[] {
  let fence: string | undefined;
  return markdown.split('\n').map((line) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence === undefined && m) {
      fence = m[1];
      return '';
    }
    if (fence !== undefined) {
      if (m && m[1]?.[0] === fence[0] && (m[1]?.length ?? 0) >= fence.length && line.trim() === m[1]) fence = undefined;
      return '';
    }
    return line;
  });
}

/**
 * A heading's anchor as GitHub makes it (github-slugger): the heading's text without its Markdown
 * (code spans keep their text, links their text), lower-cased, every character that is not a
 * letter, digit, space, hyphen or underscore removed, and each space made a hyphen.
 */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** The anchors of a Markdown file's headings (ATX headings, outside code), duplicates numbered -1, -2, ... as GitHub does. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of withoutFences(markdown)) {
    const m = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1] ?? '');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

export interface Link {
  /** The Markdown file the link is in, relative to the root. */
  file: string;
  line: number;
  target: string;
}

/** Relative link targets of a Markdown file: inline links and images, and reference definitions; not in code. */
export function links(file: string, markdown: string): Link[] {
  const out: Link[] = [];
  withoutFences(markdown).forEach((raw, i) => {
    const line = raw.replace(/(`+)[\s\S]*?\1/g, '');
    const targets = [...line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] ?? '');
    const ref = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
    if (ref?.[1]) targets.push(ref[1]);
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...: not relative
      out.push({ file, line: i + 1, target });
    }
  });
  return out;
}

/** Why a relative link does not resolve, or undefined when it does. */
export function brokenReason(link: Link, root: string = ROOT): string | undefined {
  const hash = link.target.indexOf('#');
  const pathPart = decodeURIComponent(hash < 0 ? link.target : link.target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(link.target.slice(hash + 1));
  const path = pathPart === '' ? join(root, link.file) : pathPart.startsWith('/') ? join(root, pathPart) : resolve(root, dirname(link.file), pathPart);
  if (!path.startsWith(root)) return 'points outside the repository';
  if (!existsSync(path)) return 'no such file';
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(path).isDirectory() || !path.endsWith('.md')) return undefined; // GitHub's line anchors (#L10) and such are not checked
  if (!anchors(readFileSync(path, 'utf8')).has(anchor)) return `no heading with the anchor #${anchor} in ${relative(root, path).split(sep).join('/')}`;
  return undefined;
}

/** Every broken relative link of the repository's Markdown, as "file:line: target: why". */
export function brokenLinks(root: string = ROOT): string[] {
  const out: string[] = [];
  for (const file of markdownFiles(root)) {
    for (const link of links(file, readFileSync(join(root, file), 'utf8'))) {
      const why = brokenReason(link, root);
      if (why) out.push(`${link.file}:${link.line}: ${link.target}: ${why}`);
    }
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const broken = brokenLinks();
  for (const b of broken) console.log(b);
  process.exit(broken.length > 0 ? 1 : 0);
}
