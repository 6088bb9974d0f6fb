// The connect-redis side of the typedstore comparison. The Go driver
// (../main.go) starts it as
//
//	node bench.mjs redis://127.0.0.1:PORT/0 IDS_FILE SESSION_JSON_FILE
//
// and sends one JSON request per line on standard input:
//
//	{"workload": "load" | "save" | "touch" | "load+touch" | "all", "c": 32, "warmMs": 100, "windowMs": 900}
//
// For every request but "all" it runs c concurrent callers for warmMs, then
// counts the operations completed in the next windowMs, and answers one line
// {"ops", "total", "seconds"} (total counts the warm-up too). For "all" it
// times one store.all() and answers {"ops": sessions seen, "seconds"}.
// It exits when its standard input closes.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { RedisStore } from "connect-redis";
import { createClient } from "redis";

const [url, idsFile, sessionFile] = process.argv.slice(2);
const ids = readFileSync(idsFile, "utf8").split("\n");
const session = JSON.parse(readFileSync(sessionFile, "utf8"));

// Read from node_modules: the packages' "exports" do not include
// package.json.
const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), "utf8")).version;

const client = createClient({ url });
client.on("error", (err) => process.stderr.write(`redis client error: ${err}\n`));
await client.connect();
const store = new RedisStore({ client, prefix: "sess:" });

function pick() {
  return ids[(Math.random() * ids.length) | 0];
}

const ops = {
  async load(id) {
    const s = await store.get(id);
    if (!s) throw new Error(`no session under ${id}`);
  },
  async save(id) {
    await store.set(id, session);
  },
  async touch(id) {
    await store.touch(id, session);
  },
  // What express-session does on a request that reads a rolling session and
  // leaves it unmodified: get, then touch (GET, then EXPIRE).
  async "load+touch"(id) {
    const s = await store.get(id);
    if (!s) throw new Error(`no session under ${id}`);
    await store.touch(id, s);
  },
};

async function measure({ workload, c, warmMs, windowMs }) {
  if (workload === "all") {
    const start = process.hrtime.bigint();
    const all = await store.all();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { ops: all.length, total: all.length, seconds };
  }
  const op = ops[workload];
  if (!op) throw new Error(`unknown workload ${workload}`);
  let phase = 0; // 0: warm-up, 1: measuring, 2: stopping
  let measured = 0;
  let total = 0;
  let failure = null;
  let start = 0n;
  let end = 0n;
  const worker = async () => {
    while (phase < 2 && !failure) {
      try {
        await op(pick());
      } catch (err) {
        failure = err;
        return;
      }
      total++;
      if (phase === 1) measured++;
    }
  };
  setTimeout(() => {
    phase = 1;
    start = process.hrtime.bigint();
    setTimeout(() => {
      end = process.hrtime.bigint();
      phase = 2;
    }, windowMs);
  }, warmMs);
  await Promise.all(Array.from({ length: c }, worker));
  if (failure) throw failure;
  return { ops: measured, total, seconds: Number(end - start) / 1e9 };
}

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
out({
  ready: true,
  version: `connect-redis ${version("connect-redis")}, redis ${version("redis")}, Node ${process.versions.node}`,
});
// One request at a time: the next line is read only after the answer.
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  try {
    out(await measure(JSON.parse(line)));
  } catch (err) {
    out({ error: String(err?.stack || err) });
  }
}
await client.quit();
