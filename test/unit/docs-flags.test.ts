/**
 * The flag table of docs/configuration.md is generated from the code's flag list
 * (scripts/docs/flags.ts renders src/config.ts FLAGS): these tests fail when the page drifts from
 * the code, so a flag added, removed, renamed or given another default shows up here until
 * `npm run generate:docs` is run and its result committed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BEGIN, END, FLAG_NOTES, configurationPage, flagRange, flagTable, formatSize, withTable } from '../../scripts/docs/flags.js';
import { DURATION_RANGES, FLAGS } from '../../src/config.js';

test('the flag table of docs/configuration.md is what npm run generate:docs renders from src/config.ts', () => {
  const { want, disk } = configurationPage();
  assert.equal(disk, want, 'docs/configuration.md is out of date: run npm run generate:docs and commit it');
});

test('the flag table has one row per flag, in the order of FLAGS, with its variable and default', () => {
  const rows = flagTable().split('\n').slice(2);
  assert.equal(rows.length, FLAGS.length);
  FLAGS.forEach((f, i) => {
    const row = rows[i] ?? '';
    assert.ok(row.startsWith(`| \`--${f.name}\` | \`${f.env}\` | `), row);
    assert.ok(row.includes(f.defHelp ?? (f.def === '' ? '(none)' : `\`${f.def}\``)), `--${f.name}'s default is in its row`);
  });
});

test('every duration flag shows the range the code enforces, and --max-source-size its bounds', () => {
  assert.equal(flagRange('resync-period'), '1s to 24h');
  assert.equal(flagRange('orphan-grace'), '0s to 168h');
  assert.equal(flagRange('max-source-size'), '1Ki to 1Mi');
  assert.equal(flagRange('workers'), undefined);
  for (const name of Object.keys(DURATION_RANGES)) assert.ok(flagTable().includes(`| ${flagRange(name) ?? 'none'} |`), `--${name}'s range is in the table`);
});

test('a note of the docs belongs to a flag that exists: a removed or renamed flag leaves none behind', () => {
  const names = new Set(FLAGS.map((f) => f.name));
  for (const name of Object.keys(FLAG_NOTES)) assert.ok(names.has(name), `FLAG_NOTES has "${name}", which is not a flag`);
});

test('a cell never breaks the table: a | in the text is escaped', () => {
  assert.equal(flagTable().split('\n').filter((l) => !/^\|.*\|$/.test(l)).length, 0);
  assert.equal(withTable(`a\n${BEGIN}\nold\n${END}\nb`, '| x \\| y |'), `a\n${BEGIN}\n| x \\| y |\n${END}\nb`);
});

test('the page must keep its markers: without them the generator refuses to write', () => {
  assert.throws(() => withTable('no markers here', flagTable()), /markers/);
});

test('sizes are shown as Kubernetes quantities', () => {
  assert.equal(formatSize(1024), '1Ki');
  assert.equal(formatSize(16384), '16Ki');
  assert.equal(formatSize(1 << 20), '1Mi');
  assert.equal(formatSize(1000), '1000');
});
