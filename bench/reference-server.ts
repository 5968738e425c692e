// The "speed of light" of the ingest API on this machine: a bare node:http server with the same
// Kafka producer (kafkajs, idempotent, acks=all, common's KafkaProducer settings), no framework,
// no authentication, no validation. Each request body becomes one Kafka record, and the answer
// 202 is sent after the broker's acknowledgement, exactly as ingest does.
//   node bench/reference-server.ts <port> <topic>
import { createServer } from 'node:http';
import { createKafka, createLogger, KafkaProducer } from '@muxly/common';

const [port = '0', topic = 'bench.reference'] = process.argv.slice(2);
const logger = createLogger({ service: 'bench-reference', level: 'warn' });
const kafka = createKafka(
  {
    brokers: [process.env.BENCH_KAFKA ?? '127.0.0.1:9092'],
    clientId: 'bench-reference',
    ssl: false,
    connectionTimeoutMs: 3_000,
    requestTimeoutMs: 30_000,
  },
  logger,
);
const producer = new KafkaProducer(kafka);
await producer.connect();

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    producer.producer.send({ topic, messages: [{ key: null, value: Buffer.concat(chunks) }], acks: -1 }).then(
      () => {
        response.writeHead(202, { 'content-type': 'application/json' });
        response.end('{"accepted":true}');
      },
      () => {
        response.writeHead(503, { 'retry-after': '5' });
        response.end();
      },
    );
  });
});
server.keepAliveTimeout = 5_000;
server.listen(Number(port), '127.0.0.1', () => process.stdout.write(`listening ${JSON.stringify(server.address())}\n`));
process.once('SIGTERM', () => {
  server.close();
  void producer.disconnect().then(() => process.exit(0));
});
