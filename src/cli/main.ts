/**
 * The `switchyard` command. Today it has `demo` (the in-process seed pipeline with an audit);
 * the coordinator, provider and client commands arrive with the network (issue 3).
 */
import { parseArgs } from "node:util";
import { isSwitchyardError } from "../protocol/errors.ts";
import { runDemo } from "./demo.ts";

const usage = `usage: switchyard <command> [options]

commands:
  demo [--json] [--data-dir DIR]   run the seed pipeline on a local in-process network, settle it,
                                   and audit the stored log (default DIR: .switchyard/demo)
  help                             show this text

exit codes: 0 success, 1 the command ran and failed (e.g. audit failed), 2 bad usage`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "demo": {
      const { values } = parseArgs({
        args: rest,
        options: {
          json: { type: "boolean", default: false },
          "data-dir": { type: "string", default: ".switchyard/demo" },
        },
        strict: true,
      });
      const report = await runDemo({ json: values.json, dataDir: values["data-dir"] });
      return report.ok ? 0 : 1;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(usage);
      return command === undefined ? 2 : 0;
    default:
      console.error(`switchyard: unknown command '${command}'\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (isSwitchyardError(error)) {
      console.error(`switchyard: ${error.code}: ${error.message}`);
    } else if (
      error instanceof TypeError &&
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      console.error(`switchyard: ${error.message}\n\n${usage}`);
      process.exitCode = 2;
      return;
    } else {
      console.error(error);
    }
    process.exitCode = 1;
  },
);
