// A client that cannot speak Sentinel: it uses the master endpoint, a fixed address that always
// reaches the master (and the replicas endpoint for reads). After a failover the endpoint closes the
// old connections; the client reconnects to the same address and lands on the new master.
import { Redis } from 'ioredis';

const master = new Redis({ host: '127.0.0.1', port: Number(process.env.MASTER_ENDPOINT_PORT ?? 6420), password: process.env.REDIS_PASSWORD });
const replicas = new Redis({ host: '127.0.0.1', port: Number(process.env.REPLICAS_ENDPOINT_PORT ?? 6421), password: process.env.REDIS_PASSWORD });

await master.set('greeting', 'hello through the endpoint');
await master.wait(1, 1000); // until a replica has it, so the read below sees it
console.log(await replicas.get('greeting'));
master.disconnect();
replicas.disconnect();
