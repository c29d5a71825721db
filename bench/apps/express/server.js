const express = require('express');
const app = express();
const started = new Date().toISOString();
// MARKER: the benchmark edits this line for the "warm" (one line of source changed) case.
const message = 'hello from slipway bench';
app.get('/', (_req, res) => res.send(`${message} (pid ${process.pid}, up since ${started})\n`));
app.get('/health', (_req, res) => res.json({ ok: true }));
app.listen(process.env.PORT || 5000, () => console.log(`listening on ${process.env.PORT || 5000}`));
