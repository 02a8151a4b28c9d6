import fc from 'fast-check';
import { Queue } from '../../src/channel/util/queue.js';

type Op =
  | { op: 'push' | 'unshift'; value: number }
  | { op: 'shift' | 'peek' | 'takeAll' | 'clear' }
  | { op: 'take'; count: number }
  | { op: 'at'; index: number }
  | { op: 'shiftWhile' | 'removeWhere'; below: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('push' as const, 'unshift' as const), value: fc.integer() }),
  fc.record({
    op: fc.constantFrom('shift' as const, 'peek' as const, 'takeAll' as const, 'clear' as const),
  }),
  fc.record({ op: fc.constant('take' as const), count: fc.integer({ min: -2, max: 40 }) }),
  fc.record({ op: fc.constant('at' as const), index: fc.integer({ min: -2, max: 40 }) }),
  fc.record({
    op: fc.constantFrom('shiftWhile' as const, 'removeWhere' as const),
    below: fc.integer(),
  }),
);

test('behaves exactly like an array used as a queue, whatever the sequence of operations', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const queue = new Queue<number>();
      let model: number[] = [];
      for (const o of ops) {
        switch (o.op) {
          case 'push':
            queue.push(o.value);
            model.push(o.value);
            break;
          case 'unshift':
            queue.unshift(o.value);
            model.unshift(o.value);
            break;
          case 'shift':
            expect(queue.shift()).toBe(model.shift());
            break;
          case 'peek':
            expect(queue.peek()).toBe(model[0]);
            break;
          case 'at':
            expect(queue.at(o.index)).toBe(o.index >= 0 ? model[o.index] : undefined);
            break;
          case 'take': {
            const n = Math.max(0, o.count);
            expect(queue.take(o.count)).toEqual(model.slice(0, n));
            model = model.slice(n);
            break;
          }
          case 'takeAll':
            expect(queue.takeAll()).toEqual(model);
            model = [];
            break;
          case 'clear':
            queue.clear();
            model = [];
            break;
          case 'shiftWhile': {
            let n = 0;
            while (n < model.length && model[n]! < o.below) n++;
            expect(queue.shiftWhile((v) => v < o.below)).toEqual(model.slice(0, n));
            model = model.slice(n);
            break;
          }
          case 'removeWhere':
            expect(queue.removeWhere((v) => v < o.below)).toEqual(model.filter((v) => v < o.below));
            model = model.filter((v) => v >= o.below);
            break;
        }
        expect(queue.length).toBe(model.length);
      }
      expect([...queue]).toEqual(model);
      expect(queue.toArray()).toEqual(model);
    }),
    { numRuns: 300 },
  );
});

test('a long run of push and shift gives memory back: the consumed prefix is cut off', () => {
  const queue = new Queue<{ n: number }>();
  let next = 0;
  let outOfOrder = 0;
  for (let n = 0; n < 100_000; n++) {
    queue.push({ n });
    if (n % 10 !== 0 && queue.shift()!.n !== next++) outOfOrder++;
  }
  expect(outOfOrder).toBe(0);
  const internal = (queue as unknown as { items: unknown[] }).items;
  expect(queue.length).toBe(10_000);
  // Never more than twice what is queued plus the compaction threshold.
  expect(internal.length).toBeLessThanOrEqual(2 * queue.length + Queue.COMPACT_AFTER);
});
