/**
 * The shape of Nest's `LoggerService` (and of `console`), so either can be passed as `logger`.
 * Without one the channel prints nothing, except errors nobody listens to (as process warnings).
 */
export interface ChannelLogger {
  log(message: any, ...optionalParams: any[]): any;
  error(message: any, ...optionalParams: any[]): any;
  warn(message: any, ...optionalParams: any[]): any;
  debug?(message: any, ...optionalParams: any[]): any;
  verbose?(message: any, ...optionalParams: any[]): any;
}

/**
 * Internal facade: every method is safe to call whether or not a logger was given. No context
 * argument is passed: a Nest `Logger` made with a context would print both, and `console` would
 * print it as text. Pass `new Logger('IpcChannel')` to label the lines.
 */
export class Log {
  constructor(private readonly logger: ChannelLogger | undefined) {}

  /** Whether a logger was given (otherwise every method does nothing). */
  get enabled(): boolean {
    return this.logger !== undefined;
  }

  info(message: string): void {
    this.logger?.log(message);
  }

  warn(message: string): void {
    this.logger?.warn(message);
  }

  error(message: string, error?: unknown): void {
    if (this.logger === undefined) return;
    if (error instanceof Error && error.stack !== undefined)
      this.logger.error(message, error.stack);
    else this.logger.error(message);
  }

  debug(message: string): void {
    this.logger?.debug?.(message);
  }
}
