import { EventNames } from '../../src/channel/peer/event-names.js';

/** A frame with `name` at offset 4, between other bytes, as the channel's frames hold it. */
function frameWith(name: string): [Buffer, number, number] {
  const bytes = Buffer.from(name, 'utf8');
  const frame = Buffer.concat([Buffer.from([9, 9, 9, 9]), bytes, Buffer.from('[1]')]);
  return [frame, 4, 4 + bytes.length];
}

test('reads names exactly, non-ASCII and empty ones included, and keeps them apart', () => {
  const names = new EventNames();
  const seen: string[] = [];
  for (const name of ['@nest/req', '@nest/res', 'tick', 'tock', 'größe', '', '@nest/req', 'tick']) {
    seen.push(names.read(...frameWith(name)));
  }
  expect(seen).toEqual([
    '@nest/req',
    '@nest/res',
    'tick',
    'tock',
    'größe',
    '',
    '@nest/req',
    'tick',
  ]);
});

test('a remembered name does not depend on the frame it was first read from', () => {
  const names = new EventNames();
  const [frame, start, end] = frameWith('alpha');
  expect(names.read(frame, start, end)).toBe('alpha');
  frame.write('omega', start); // the read buffer is reused for other bytes
  expect(names.read(frame, start, end)).toBe('omega');
  expect(names.read(...frameWith('alpha'))).toBe('alpha');
});

test('more names than it remembers, and very long names, still read right', () => {
  const names = new EventNames();
  const many = Array.from({ length: 40 }, (_, i) => `event-${i}`);
  const long = 'x'.repeat(200);
  for (let round = 0; round < 3; round++) {
    expect(many.map((n) => names.read(...frameWith(n)))).toEqual(many);
    expect(names.read(...frameWith(long))).toBe(long);
  }
});
