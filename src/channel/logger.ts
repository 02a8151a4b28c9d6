/**
 * The shape of Nest's `LoggerService` (and of `console`), so either can be passed as `logger`.
 * The channel prints nothing unless a logger is given.
 */
export interface ChannelLogger {
  log(message: any, ...optionalParams: any[]): any;
  error(message: any, ...optionalParams: any[]): any;
  warn(message: any, ...optionalParams: any[]): any;
  debug?(message: any, ...optionalParams: any[]): any;
  verbose?(message: any, ...optionalParams: any[]): any;
}

/** Internal facade: every method is safe to call whether or not a logger was given. */
export class Log {
  constructor(
    private readonly logger: ChannelLogger | undefined,
    private readonly context: string,
  ) {}

  info(message: string): void {
    this.logger?.log(message, this.context);
  }

  warn(message: string): void {
    this.logger?.warn(message, this.context);
  }

  error(message: string, error?: unknown): void {
    if (this.logger === undefined) return;
    const stack = error instanceof Error ? error.stack : undefined;
    this.logger.error(message, stack, this.context);
  }

  debug(message: string): void {
    this.logger?.debug?.(message, this.context);
  }
}
