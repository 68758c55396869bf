/**
 * Preloaded into an operator process (node --import tsx --import <this file>) to step its wall
 * clock as NTP or a resumed VM would: Date.now() and new Date() jump, performance.now() does not.
 * PSO_TEST_CLOCK_STEPS is a comma-separated list of steps in ms (negative: back); each SIGUSR2 the
 * process receives takes the next one, so a test steps the clock exactly when it chooses. Tests
 * only; nothing in src/ knows of it.
 */
const steps = (process.env.PSO_TEST_CLOCK_STEPS ?? '')
  .split(',')
  .filter((x) => x.trim() !== '')
  .map(Number);
const realNow = Date.now.bind(Date);
const RealDate = Date;
let offset = 0;
process.on('SIGUSR2', () => {
  const by = steps.shift();
  if (by === undefined) return;
  offset += by;
  process.stderr.write(`${JSON.stringify({ level: 'info', message: 'test: wall clock stepped', byMs: by, offsetMs: offset })}\n`);
});
class SteppedDate extends RealDate {
  constructor(...args: ConstructorParameters<typeof Date> | []) {
    if (args.length === 0) super(realNow() + offset);
    else super(...(args));
  }
  static override now(): number {
    return realNow() + offset;
  }
}
globalThis.Date = SteppedDate as DateConstructor;
