// The Express stack of the HTTP comparison (../web): express +
// express-session + connect-redis on node-redis, with the same four flows
// as the Go stacks. Usage: node web.mjs PORT REDIS_URL; prints "listening"
// when it accepts requests.
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';

const [port, redisURL] = process.argv.slice(2);
const client = createClient({ url: redisURL });
await client.connect();

const maxCart = 20;
const app = express();
app.use(session({
  store: new RedisStore({ client, prefix: 'express:' }),
  secret: 'a benchmark secret of thirty-two bytes or more',
  resave: false,
  saveUninitialized: false,
  cookie: { maxAge: 3600 * 1000, httpOnly: true, sameSite: 'lax' },
}));
app.get('/anon', (req, res) => res.send('hello'));
app.get('/me', (req, res) => {
  res.send(`user=${req.session.userId} name=${req.session.name} cart=${(req.session.cart || []).length}`);
});
app.post('/cart', (req, res) => {
  const cart = req.session.cart || [];
  req.session.changes = (req.session.changes || 0) + 1;
  cart.push('item-' + req.session.changes);
  req.session.cart = cart.slice(-maxCart);
  res.send(`cart=${req.session.cart.length}`);
});
app.post('/login', (req, res, next) => {
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.userId = 42;
    req.session.name = 'Ada';
    res.send('ok');
  });
});
app.listen(Number(port), '127.0.0.1', () => console.log('listening'));
