// An Express app with express-session and connect-redis, for the Go
// interop test (TestInteropNode in ../../interop_test.go). It shares its
// sessions with the Go middleware through one Redis, prefix and secret:
//
//	REDIS_URL=redis://127.0.0.1:6379 PREFIX=sess: SECRET=... node server.js
//
// MAX_AGE_MS sets cookie.maxAge (default one hour) and ROLLING=1 sets
// rolling: true.
//
// It listens on a free loopback port and prints "listening <url>" once ready.
//
//	GET /session   the session as JSON: {"id": ..., "session": {...}}
//	GET /visit     counter += 1 and name = "node", then as /session
//	GET /extras    sets members the Go type does not declare, then as /session
//	GET /login     regenerates the session, sets userId, then as /session
"use strict";

const express = require("express");
const session = require("express-session");
const { RedisStore } = require("connect-redis");
const { createClient } = require("redis");

async function main() {
  const client = createClient({ url: process.env.REDIS_URL });
  client.on("error", (err) => console.error("redis:", err.message));
  await client.connect();

  const app = express();
  app.use(
    session({
      store: new RedisStore({ client, prefix: process.env.PREFIX }),
      secret: process.env.SECRET,
      resave: false,
      saveUninitialized: false,
      rolling: process.env.ROLLING === "1",
      cookie: { maxAge: Number(process.env.MAX_AGE_MS || 60 * 60 * 1000), sameSite: "lax" },
    }),
  );

  const show = (req, res) => res.json({ id: req.sessionID, session: req.session });
  app.get("/session", show);
  app.get("/visit", (req, res) => {
    req.session.counter = (req.session.counter || 0) + 1;
    req.session.name = "node";
    show(req, res);
  });
  app.get("/extras", (req, res) => {
    // What an Express app keeps for itself: passport's user, connect-flash's
    // messages, csurf's secret, a return URL.
    req.session.passport = { user: "7" };
    req.session.flash = { info: ["Welcome back", "\u00e9\"quoted\""] };
    req.session.csrfSecret = "Zk3p-9qLw";
    req.session.returnTo = "/cart?x=1&y=2";
    show(req, res);
  });
  app.get("/login", (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = Number(req.query.user) || 7;
      show(req, res);
    });
  });
  app.get("/logout", (req, res, next) => {
    req.session.destroy((err) => {
      if (err) return next(err);
      res.json({ id: "", session: {} });
    });
  });

  const server = app.listen(0, "127.0.0.1", () => {
    console.log("listening http://127.0.0.1:" + server.address().port);
  });
  const stop = () => server.close(() => client.quit().finally(() => process.exit(0)));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // Exit with the Go test even if it could not kill us.
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
