import { Channel, type ChannelOptions } from '../../src/index.js';
import { killAll } from './processes.js';
import { type TempDir, tempDir } from './temp-dir.js';

/** What a test file gets from `sandbox()`. */
export interface Sandbox {
  /** The current directory for sockets (one per test, or one per file). */
  readonly dir: string;
  /**
   * A Channel in this process, in the sandbox's directory, with the file's defaults under
   * `options`; it is closed when the sandbox is cleared.
   */
  channel(options?: ChannelOptions): Channel;
  /** The environment of a peer.js fixture: the same defaults and directory, under `options`. */
  peerEnv(options?: ChannelOptions): { PEER_OPTIONS: string };
}

/**
 * The setup every channel test repeats, registered once at the top of a file: a fresh private
 * directory before each test (or before the file's first, with `scope: 'file'`), and after it
 * every Channel made by `channel()` closed, every fixture process killed, the directory removed.
 * `defaults` are the Channel options the file's channels and peer processes share.
 */
export function sandbox(defaults: ChannelOptions = {}, scope: 'test' | 'file' = 'test'): Sandbox {
  let current: TempDir | undefined;
  const open: Channel[] = [];
  const dir = (): string => {
    if (current === undefined) throw new Error('sandbox: the directory exists only in a test');
    return current.path;
  };
  const create = () => {
    current = tempDir();
  };
  const clear = async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await killAll();
    current?.remove();
    current = undefined;
  };
  if (scope === 'file') {
    beforeAll(create);
    afterAll(clear);
  } else {
    beforeEach(create);
    afterEach(clear);
  }
  return {
    get dir() {
      return dir();
    },
    channel(options = {}) {
      const ch = new Channel({ dir: dir(), ...defaults, ...options });
      open.push(ch);
      return ch;
    },
    peerEnv(options = {}) {
      return { PEER_OPTIONS: JSON.stringify({ dir: dir(), ...defaults, ...options }) };
    },
  };
}
