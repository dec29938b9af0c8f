/** Types for pino-roll 4.0.0 (the package ships none): the options this bot uses. */
declare module 'pino-roll' {
  interface PinoRollOptions {
    file: string;
    size?: string | number;
    frequency?: string | number;
    extension?: string;
    symlink?: boolean;
    limit?: { count?: number; removeOtherLogFiles?: boolean };
    mkdir?: boolean;
    /** File mode of new log files (passed to sonic-boom). */
    mode?: number;
  }
  /**
   * A sonic-boom stream that rolls to `<file>.<n><extension>` when a file reaches `size`; emits
   * `ready` when a (new) file is open and `cleanup-complete` after old files were removed.
   */
  export type RollingStream = NodeJS.WritableStream & import('node:events').EventEmitter & { fd: number; end(): void };
  export default function roll(options: PinoRollOptions): Promise<RollingStream>;
}
