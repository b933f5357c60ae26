// A minimal server of Nx's self-hosted remote cache API, as a team would run one (the e2e suite
// starts it in a process of its own): `GET /v1/cache/{hash}` answers the stored tar archive or
// 404, `PUT /v1/cache/{hash}` stores one. Two bearer tokens: the first may read and write (main),
// the second only read (pull requests: 403 on PUT). An entry is never overwritten (409).
// `GET /log` (no token) lists the requests it answered, for the tests to assert on.
//   node tools/lib/remote-cache-server.cjs <port> <read-write token> <read-only token>
'use strict';

const http = require('node:http');

const [port, readWriteToken, readOnlyToken] = process.argv.slice(2);
if (!port || !readWriteToken || !readOnlyToken) {
  console.error('usage: remote-cache-server.cjs <port> <read-write token> <read-only token>');
  process.exit(2);
}
const entries = new Map();
const answered = [];

function answer(req, res, hash, status, body) {
  answered.push({ method: req.method, hash, status });
  res.writeHead(status, body ? { 'content-type': 'application/octet-stream' } : {});
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/log') {
    // Closed after each answer: the tests call between long synchronous nx runs, and a kept-alive
    // connection the server timed out meanwhile would fail their next request.
    res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify({ answered, stored: [...entries.keys()] }));
    return;
  }
  const match = /^\/v1\/cache\/([A-Za-z0-9]+)$/.exec(req.url ?? '');
  if (!match) return answer(req, res, undefined, 404);
  const hash = match[1];
  const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
  if (token !== readWriteToken && token !== readOnlyToken) return answer(req, res, hash, 401);
  if (req.method === 'GET') {
    const entry = entries.get(hash);
    return entry ? answer(req, res, hash, 200, entry) : answer(req, res, hash, 404);
  }
  if (req.method === 'PUT') {
    if (token !== readWriteToken) return answer(req, res, hash, 403);
    if (entries.has(hash)) return answer(req, res, hash, 409);
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      entries.set(hash, Buffer.concat(chunks));
      answer(req, res, hash, 200);
    });
    return undefined;
  }
  return answer(req, res, hash, 405);
});
server.listen(Number(port), '127.0.0.1', () => console.log(`remote cache listening on ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
