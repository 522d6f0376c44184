#!/usr/bin/env node
/*
 * webhooks.js — a webhook receiver for imggen's tests that verifies
 * Standard Webhooks signatures independently of imggen's C code (node:crypto).
 * Node 20, no dependencies.
 *
 *   node tests/standins/webhooks.js [PORT]     prints "listening PORT"
 *
 *   PUT  /_secret/<name>      body: the user's "whsec_..." secret for <name>
 *   POST /hook/<name>[?fail=N] a delivery: verified, recorded; the first N
 *                             deliveries to <name> answer 500
 *   GET  /_deliveries/<name>  [{id, timestamp, verified, status, body}]
 */
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');

const secrets = new Map();
const deliveries = new Map();

function verify(secret, id, ts, body, header) {
	if (!secret || !id || !ts || !header)
		return false;
	const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
	const expected = crypto.createHmac('sha256', key)
	    .update(`${id}.${ts}.${body}`).digest('base64');
	/* The header may carry several space-separated signatures. */
	return header.split(' ').some((s) => {
		const [ver, sig] = s.split(',', 2);
		return ver === 'v1' && sig && sig.length === expected.length &&
		    crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
	});
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const body = Buffer.concat(chunks).toString('utf8');
		const url = new URL(req.url, 'http://x');
		const parts = url.pathname.split('/').filter(Boolean);
		if (req.method === 'PUT' && parts[0] === '_secret' && parts[1]) {
			secrets.set(parts[1], body.trim());
			res.writeHead(204).end();
		} else if (req.method === 'POST' && parts[0] === 'hook' && parts[1]) {
			const name = parts[1];
			const list = deliveries.get(name) || [];
			const fail = Number(url.searchParams.get('fail') || 0);
			const status = list.length < fail ? 500 : 200;
			list.push({
				id: req.headers['webhook-id'] || null,
				timestamp: req.headers['webhook-timestamp'] || null,
				verified: verify(secrets.get(name),
				    req.headers['webhook-id'],
				    req.headers['webhook-timestamp'], body,
				    req.headers['webhook-signature']),
				status,
				body,
			});
			deliveries.set(name, list);
			res.writeHead(status, { 'Content-Type': 'text/plain' })
			    .end(status === 200 ? 'ok' : 'try again');
		} else if (req.method === 'GET' && parts[0] === '_deliveries') {
			const text = JSON.stringify(deliveries.get(parts[1]) || []);
			res.writeHead(200, { 'Content-Type': 'application/json' })
			    .end(text);
		} else {
			res.writeHead(404).end();
		}
	});
});

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
	console.log(`listening ${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT'])
	process.on(sig, () => server.close(() => process.exit(0)));
