import { requireDeployment } from '../../local/lifecycle.ts';
import { NAME_OPTIONS, nameOf, parse } from '../options.ts';

export const PASSWORD_HELP = `Usage: redis-ha password [--name NAME] [--sentinel]

Prints the application's password (with --sentinel: the Sentinels' password) alone on one line.
The ACL user it belongs to is 'user' in 'redis-ha status --json' ('sentinelUser' for --sentinel).
Example: REDISCLI_AUTH="$(npx redis-ha password)" redis-cli -p 6400 PING`;

export async function passwordCommand(argv: string[]): Promise<number> {
  const { values } = parse('password', argv, { ...NAME_OPTIONS, sentinel: { type: 'boolean' } });
  if (values.help) {
    console.log(PASSWORD_HELP);
    return 0;
  }
  const d = requireDeployment(nameOf(values));
  console.log(values.sentinel ? d.users.sentinelClient.password : d.users.application.password);
  return 0;
}
