// A Sentinel-aware application with ioredis: it asks the Sentinels for the master, follows a
// failover on its own, and resends a write that reached a demoted master (READONLY).
import { Redis } from 'ioredis';

const redis = new Redis({
  name: process.env.MASTER_NAME, // the Sentinel master name, e.g. redis-ha-local
  sentinels: (process.env.SENTINELS ?? '127.0.0.1:6410').split(',').map((a) => ({ host: a.split(':')[0], port: Number(a.split(':')[1]) })),
  password: process.env.REDIS_PASSWORD, // npx redis-ha password
  sentinelPassword: process.env.SENTINEL_PASSWORD, // npx redis-ha password --sentinel
  failoverDetector: true, // listen for +switch-master instead of waiting for the old connection to fail
  reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false), // reconnect, then resend
});

await redis.set('greeting', 'hello from ioredis');
console.log(await redis.get('greeting'));
redis.disconnect();
