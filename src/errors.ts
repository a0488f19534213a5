/**
 * One error type for the whole project. Callers branch on `code`, never on the message.
 * Messages are lower-case, one line, name the input (file, JSON path, flag, syscall) and say how to fix it.
 */
export type ErrorCode =
  | 'usage' // a command line that cannot be understood (bad flag, missing operand)
  | 'input' // a file or value that is malformed or invalid (bad JSON, wrong type, unknown name)
  | 'io' // a file that cannot be read or written
  | 'limit' // a kernel limit would be exceeded (e.g. more than 4096 BPF instructions)
  | 'unsupported' // the host cannot enforce what was asked for
  | 'internal'; // a bug in stockade

export class StockadeError extends Error {
  readonly code: ErrorCode;
  /** Where the problem is: a file, a JSON path such as `syscalls[3].args[0].index`, a flag. */
  readonly where: string | undefined;

  constructor(code: ErrorCode, message: string, where?: string) {
    super(where ? `${where}: ${message}` : message);
    this.name = 'StockadeError';
    this.code = code;
    this.where = where;
  }
}

/** Exit status for an error: bad input and bad usage are 2, everything else 1. */
export function exitCodeFor(err: StockadeError): number {
  return err.code === 'usage' || err.code === 'input' || err.code === 'limit' ? 2 : 1;
}
