import { IpcChannelError } from '../../channel/errors.js';

/** One channel option on which two users of one channel disagree, as shown to a reader. */
export interface OptionDifference {
  readonly option: string;
  /** The value of the user that joined first (a secret shows only as set or not set). */
  readonly first: string;
  /** The value of the user that came second. */
  readonly second: string;
}

/**
 * An IpcServer and an IpcClient (or two IpcClients) of one process were given channel options
 * that disagree. They would join two channels, or one channel under options one of them did not
 * ask for, and messages would go missing without a word; so the second one fails at startup.
 */
export class IpcOptionsMismatchError extends IpcChannelError {
  constructor(
    /** Who joined first and who came second, e.g. `'IpcServer'` and `'IpcClient'`. */
    readonly users: readonly [first: string, second: string],
    /** The options that differ, with both values. */
    readonly differences: readonly OptionDifference[],
    /** Both option sets as given, for the message (secrets masked). */
    shownOptions: readonly [first: string, second: string],
  ) {
    const [first, second] = users;
    const a = first === second ? `the first ${first}` : `the ${first}`;
    const b = first === second ? `the other ${second}` : `the ${second}`;
    const diff = differences
      .map((d) => `${d.option} is ${d.first} for ${a} but ${d.second} for ${b}`)
      .join('; ');
    super(
      'ERR_IPC_OPTIONS_MISMATCH',
      `${upperFirst(a)} and ${b} of this process must share one channel, but their options differ: ${diff}. ${upperFirst(a)} has ${shownOptions[0]}; ${b} has ${shownOptions[1]}. Give both the same options (IpcModule.forRoot(options) keeps them in one place), or give the IpcClient no channel options: it then uses the IpcServer's.`,
    );
  }
}

function upperFirst(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
