/**
 * Human or machine output for every command: tables and progress for people, one JSON document for
 * `--json`. Progress lines go to stderr so `--json` stdout stays parseable.
 */
export interface Output {
  readonly json: boolean;
  /** A progress line for people (stderr), silent under --json. */
  progress(line: string): void;
  /** The command's result: JSON under --json, else the text `human()` renders. */
  result(value: unknown, human: () => string): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    progress: (line) => {
      if (!json) process.stderr.write(`${line}\n`);
    },
    result: (value, human) => {
      process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
    },
  };
}
