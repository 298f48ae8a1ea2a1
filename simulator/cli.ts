/**
 * Runs the simulator on its own: `node dist/simulator/cli.js [--port 3010] [--latency 0] [--max-concurrent 0]`.
 * It serves the demo account (see DEMO_ACCOUNT) and prints its URL.
 */
import { DEMO_ACCOUNT, TwilioSimulator } from './server';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at > 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} takes a number`);
  return value;
}

async function main(): Promise<void> {
  const simulator = new TwilioSimulator({
    accounts: [DEMO_ACCOUNT],
    latencyMs: option('latency', 0),
    maxConcurrent: option('max-concurrent', 0),
  });
  const url = await simulator.start(option('port', 3010));
  console.log(`Twilio simulator on ${url} (account ${DEMO_ACCOUNT.sid})`);
  const stop = () => void simulator.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: Error) => {
  console.error(`simulator: ${err.message}`);
  process.exit(1);
});
