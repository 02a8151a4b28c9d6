import { Counter, Registry } from 'prom-client';
import { ChannelClosedError, InvalidOptionError } from '../../src/index.js';
import { ClusterMetrics } from '../../src/metrics/index.js';
import { PromText } from '../helpers/prom-text.js';
import { sandbox } from '../helpers/sandbox.js';
import { thrown } from '../helpers/thrown.js';

const box = sandbox();

describe('ClusterMetrics options and lifecycle', () => {
  it.each([
    [{ timeoutMs: 0 }, /timeoutMs must be a whole number of ms from 1 to 2147483647; got 0/],
    [{ timeoutMs: 1.5 }, /timeoutMs must be a whole number/],
    [{ timeoutMs: 2 ** 31 }, /timeoutMs must be a whole number/],
    [{ registries: [] }, /registries must be a non-empty array of prom-client Registry objects/],
    [{ registries: [{}] as unknown as Registry[] }, /registries must be a non-empty array/],
  ])('refuses %p with an InvalidOptionError that says what to give', (options, message) => {
    const e = thrown(() => new ClusterMetrics(box.channel({ name: 'opts' }), options));
    expect(e).toBeInstanceOf(InvalidOptionError);
    expect((e as Error).message).toMatch(message);
  });

  it('allows one per channel until it is closed', () => {
    const channel = box.channel({ name: 'one' });
    const first = new ClusterMetrics(channel, { registries: [new Registry()] });
    const e = thrown(() => new ClusterMetrics(channel, { registries: [new Registry()] }));
    expect(e).toBeInstanceOf(InvalidOptionError);
    expect((e as Error).message).toBe(
      "Channel 'one' already has a ClusterMetrics in this process: use that one (or close() it before making another).",
    );
    first.close();
    expect(new ClusterMetrics(channel, { registries: [new Registry()] })).toBeInstanceOf(
      ClusterMetrics,
    );
  });

  it('alone on its channel, collects its own registries, and none after close()', async () => {
    const channel = box.channel({ name: 'alone' });
    const register = new Registry();
    new Counter({ name: 'solo_total', help: 'Counted alone.', registers: [register] }).inc(7);
    const metrics = new ClusterMetrics(channel, { registries: [register], channelMetrics: false });
    await channel.connect();
    const text = new PromText(await metrics.metrics());
    expect(text.value('solo_total')).toBe(7);
    expect(text.by('ipc_metrics_peer_up', 'peer')).toEqual({ [String(channel.id)]: 1 });
    expect(text.families.has('ipc_channel_hub')).toBe(false);
    metrics.close();
    await expect(metrics.metrics()).rejects.toThrow(ChannelClosedError);
  });
});
