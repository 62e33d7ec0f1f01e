import { Redis } from 'ioredis';
import { UserError } from '../../errors.ts';
import { errorText } from '../../redis/probe.ts';
import { requireDeployment } from '../../local/lifecycle.ts';
import { clientTlsOf } from '../../local/tls.ts';
import { sentinelClientOptions } from '../../redis/connect.ts';
import { NAME_OPTIONS, nameOf, parse } from '../options.ts';
import { UsageError } from '../errors.ts';

export const CLI_HELP = `Usage: redis-ha cli [--name NAME] [--replica] COMMAND [ARG...]

Runs one Redis command against the current master, found through the Sentinels
(or against a replica with --replica) and prints the reply the way redis-cli does.
It logs in as the application's user, so the commands it refuses (CONFIG, FLUSHALL, ...) are refused.
Example: npx redis-ha cli SET greeting hello`;

/** Formats a reply like redis-cli does for a terminal. */
export function formatReply(reply: unknown, indent = ''): string {
  if (reply === null || reply === undefined) return '(nil)';
  if (typeof reply === 'number') return `(integer) ${reply}`;
  if (Buffer.isBuffer(reply)) return `"${reply.toString()}"`;
  if (typeof reply === 'string') return reply.includes('\n') ? reply : `"${reply}"`;
  if (Array.isArray(reply)) {
    if (reply.length === 0) return '(empty array)';
    const width = String(reply.length).length;
    return reply.map((r, i) => `${i === 0 ? '' : indent}${String(i + 1).padStart(width)}) ${formatReply(r, `${indent}${' '.repeat(width + 2)}`)}`).join('\n');
  }
  return String(reply);
}

export async function cliCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('cli', argv, { ...NAME_OPTIONS, replica: { type: 'boolean' } }, true);
  if (values.help) {
    console.log(CLI_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("cli: give a Redis command, e.g. 'redis-ha cli GET key'");
  const d = requireDeployment(nameOf(values));
  const client = new Redis({
    name: d.masterName,
    sentinels: d.sentinels.map((s) => ({ host: s.host, port: s.port })),
    sentinelPassword: d.users.sentinelClient.password,
    // The application's user: what an application may do, this may do (no CONFIG, FLUSHALL, ...).
    username: d.users.application.username,
    password: d.users.application.password,
    role: values.replica ? 'slave' : 'master',
    ...sentinelClientOptions(clientTlsOf(d)),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    sentinelRetryStrategy: () => null,
    retryStrategy: () => null,
    connectTimeout: 2000,
  });
  client.on('error', () => {});
  try {
    try {
      await client.connect();
    } catch (err) {
      throw new UserError(`cannot reach the ${values.replica ? 'replicas' : 'master'} of '${d.spec.name}' through its Sentinels (${errorText(err)}); is it up? see 'redis-ha status --name ${d.spec.name}'`);
    }
    const [command, ...args] = positionals;
    try {
      console.log(formatReply(await client.call(command, ...args)));
      return 0;
    } catch (err) {
      console.log(`(error) ${(err as Error).message}`);
      return 1;
    }
  } finally {
    client.disconnect();
  }
}
