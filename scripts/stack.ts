// npm run stack:up | stack:down | stack:status
import { loadConfig } from "../src/config/index.ts";
import { isExpected, messageOf } from "../src/errors.ts";
import { loadStackConfig } from "../tools/stack/config.ts";
import { stackDown, stackStatus, stackUp } from "../tools/stack/index.ts";

const command = process.argv[2];

async function main(): Promise<number> {
  const stack = loadStackConfig();
  switch (command) {
    case "up": {
      const r = await stackUp(stack, loadConfig());
      console.log(`${r.kafka}\n${r.database}`);
      return 0;
    }
    case "status": {
      const r = await stackStatus(stack);
      console.log(`${r.kafka}\n${r.database}`);
      return r.up ? 0 : 3;
    }
    case "down": {
      const stopped = await stackDown(stack);
      console.log(stopped.length > 0 ? `stopped: ${stopped.join(", ")}` : "nothing started by this project is running");
      return 0;
    }
    default:
      console.error("usage: node scripts/stack.ts up|down|status");
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`stack: ${isExpected(err) ? err.message : messageOf(err)}`);
    if (!isExpected(err)) console.error(err);
    process.exit(1);
  },
);
