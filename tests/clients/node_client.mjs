// A Node `http` client driven line by line (tests/clients/test_clients.py): one JSON request per stdin
// line, one JSON result per stdout line. One keep-alive agent for the whole process, so a test can
// show that the next request on the same pool still works. With `Expect: 100-continue` the body is
// written only on 'continue' (the pattern Node's docs give); a final status before it ends the
// request without a body byte.
import fs from "node:fs";
import http from "node:http";
import readline from "node:readline";

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function send(job) {
  return new Promise((resolve) => {
    const headers = { ...(job.headers || {}) };
    let size = 0;
    if (job.file) {
      size = fs.statSync(job.file).size;
      headers["Content-Length"] = String(size);
    }
    const req = http.request(job.url, { method: job.method, headers, agent });
    let bodySent = false;
    const writeBody = () => {
      if (bodySent) return;
      bodySent = true;
      fs.createReadStream(job.file).pipe(req);
    };
    req.setTimeout(job.timeout_ms || 20000, () => req.destroy(new Error("timeout")));
    req.on("continue", writeBody);
    req.on("response", (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        if (!bodySent) req.destroy(); // rejected before the body: never send it
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body_b64: Buffer.concat(chunks).toString("base64"),
          reused: req.reusedSocket,
        });
      });
    });
    req.on("error", (err) => resolve({ error: String(err) }));
    const expects = Object.keys(headers).some(
      (k) => k.toLowerCase() === "expect" && /100-continue/i.test(headers[k]),
    );
    if (!job.file) req.end();
    else if (expects) req.flushHeaders();
    else writeBody();
  });
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const result = await send(JSON.parse(line));
  process.stdout.write(JSON.stringify(result) + "\n");
}
agent.destroy();
