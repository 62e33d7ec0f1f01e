// A Sentinel-aware application with node-redis (`redis` on npm): createSentinel finds the master and
// follows failovers.
import { createSentinel } from 'redis';

const sentinel = await createSentinel({
  name: process.env.MASTER_NAME ?? 'redis-ha-local',
  sentinelRootNodes: (process.env.SENTINELS ?? '127.0.0.1:6410').split(',').map((a) => ({ host: a.split(':')[0], port: Number(a.split(':')[1]) })),
  nodeClientOptions: { password: process.env.REDIS_PASSWORD },
  sentinelClientOptions: { password: process.env.SENTINEL_PASSWORD },
}).connect();

await sentinel.set('greeting', 'hello from node-redis');
console.log(await sentinel.get('greeting'));
await sentinel.close();
