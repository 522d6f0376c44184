#!/usr/bin/env node
/*
 * sigv4-crosscheck.js — signs requests with AWS's own SigV4 implementation
 * (@smithy/signature-v4, the signer inside AWS SDK for JavaScript v3), so
 * tests/s3/test_sigv4_crosscheck.c can check that our signer
 * (fcgi-app/lib/sigv4.c) produces the same Authorization header byte for
 * byte.  Node 20; the packages come from tests/standins/package-lock.json
 * (npm ci --prefix tests/standins).
 *
 *   node tests/standins/sigv4-crosscheck.js < requests.jsonl
 *
 * Input: one JSON object a line (blank lines are skipped):
 *   method           "PUT"
 *   path             the raw, unencoded path ("/bucket/a b.png") when s3 is
 *                    true; otherwise the path as it appears in the request
 *                    line (generic rules) — the same string our
 *                    sigv4_request.path gets
 *   sentPath         optional, s3 only: the path as sent on the wire; it
 *                    must equal the SDK's own encoding of path
 *   query            query string without '?', "" for none (see below)
 *   headers          [[name, value], ...] in order (repeated names allowed)
 *                    or {name: value}
 *   bodyHex          optional: the body, hex
 *   bodySha256       optional: the payload hash the caller signed; checked
 *                    against the SDK's (the body's hash, or the
 *                    x-amz-content-sha256 header)
 *   region, service, accessKeyId, secretAccessKey
 *   amzDate          "20130524T000000Z"
 *   s3               true: S3 rules, as the SDK's S3 client signs
 *                    (uriEscapePath false — the client escapes the key
 *                    itself, once, and the path is not normalised — and
 *                    applyChecksum true); false/absent: generic AWS rules
 *                    (uriEscapePath true: '.', '..' and empty segments
 *                    removed, each segment escaped; applyChecksum false)
 *
 * Output: one line per input line, in order: the Authorization header
 * value, or "ERROR: <reason>".  Exit 0 when every line was signed, 1 when
 * some line was an ERROR, 2 when the SDK cannot be loaded.
 *
 * How our request description maps onto the SDK's HttpRequest (the SDK
 * never parses a query string or header block itself, so this is the
 * harness's part, following sigv4.h):
 * - query: split on '&' (empty parts dropped), then on the first '='; each
 *   name and value has its valid %XX triplets decoded (anything else,
 *   '+' included, is literal) and goes into the SDK's query object; a
 *   repeated name becomes an array.  A name without '=' has value "".
 * - headers: names are merged case-insensitively; repeated values are
 *   joined with ',' in order (AWS suite: get-header-key-duplicate).  The
 *   SDK leaves a few headers unsigned by default (cache-control, expect,
 *   user-agent, ...); every given header is passed in signableHeaders so
 *   the SDK signs exactly the headers it is given, as we do.  The SDK
 *   always drops "date", "authorization" and "x-amz-date" and sets
 *   x-amz-date from the signing date, so amzDate is passed as that date
 *   and a "date" header is refused here rather than silently unsigned.
 * - s3 with a body: the x-amz-content-sha256 header is removed and the SDK
 *   hashes the body and adds the header itself (applyChecksum), so the
 *   body hash is checked too.  Generic with a body: the SDK hashes it
 *   unless an x-amz-content-sha256 header says otherwise.
 */
"use strict";

let SignatureV4, Hash, escapeUriPath;
try {
	({ SignatureV4 } = require("@smithy/signature-v4"));
	({ Hash } = require("@smithy/hash-node"));
	({ escapeUriPath } = require("@smithy/core/protocols"));
} catch (e) {
	process.stderr.write("sigv4-crosscheck: cannot load @smithy/signature-v4 " +
	    "(run npm ci --prefix tests/standins): " + e.message + "\n");
	process.exit(2);
}

const Sha256 = Hash.bind(null, "sha256");
const SHA256_HEADER = "x-amz-content-sha256";

/* Valid %XX triplets decoded, everything else literal; UTF-8 in and out. */
function pctDecode(s) {
	const src = Buffer.from(s, "utf8");
	const out = [];
	const hex = (c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) ||
	    (c >= 0x61 && c <= 0x66);
	for (let i = 0; i < src.length; i++) {
		if (src[i] === 0x25 && i + 2 < src.length && hex(src[i + 1]) &&
		    hex(src[i + 2])) {
			out.push(parseInt(String.fromCharCode(src[i + 1], src[i + 2]), 16));
			i += 2;
		} else
			out.push(src[i]);
	}
	const buf = Buffer.from(out);
	const str = buf.toString("utf8");
	if (!Buffer.from(str, "utf8").equals(buf))
		throw new Error("query part does not decode to UTF-8: " + s);
	return str;
}

function parseQuery(q) {
	const query = {};
	if (!q)
		return query;
	for (const part of q.split("&")) {
		if (part === "")
			continue;
		const eq = part.indexOf("=");
		const name = pctDecode(eq < 0 ? part : part.slice(0, eq));
		const value = eq < 0 ? "" : pctDecode(part.slice(eq + 1));
		if (name === "__proto__")
			throw new Error("query name __proto__ is not supported");
		if (!Object.prototype.hasOwnProperty.call(query, name))
			query[name] = value;
		else if (Array.isArray(query[name]))
			query[name].push(value);
		else
			query[name] = [query[name], value];
	}
	return query;
}

/* [[name, value], ...] or {name: value} into one entry per lower-case name. */
function mergeHeaders(h) {
	const pairs = Array.isArray(h) ? h : Object.entries(h || {});
	const merged = new Map();
	for (const [name, value] of pairs) {
		if (typeof name !== "string" || typeof value !== "string")
			throw new Error("headers must be [name, value] strings");
		const lname = name.toLowerCase();
		if (merged.has(lname))
			merged.get(lname).push(value);
		else
			merged.set(lname, [value]);
	}
	const headers = {};
	for (const [lname, values] of merged)
		headers[lname] = values.join(",");
	return headers;
}

function amzDateToDate(d) {
	const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(d || "");
	if (!m)
		throw new Error("amzDate must be YYYYMMDDTHHMMSSZ: " + d);
	return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}

async function sha256hex(bytes) {
	const h = new Sha256();
	h.update(bytes);
	return Buffer.from(await h.digest()).toString("hex");
}

async function signOne(r) {
	const s3 = r.s3 === true;
	const headers = mergeHeaders(r.headers);
	if ("date" in headers)
		throw new Error("a Date header cannot be signed by the SDK " +
		    "(it drops it): leave it out");
	if (!("host" in headers))
		throw new Error("no host header");
	if (typeof r.path !== "string" || !r.path.startsWith("/"))
		throw new Error("path must start with '/'");
	let path = r.path;
	if (s3) {
		/* What the SDK's S3 client puts on the wire and signs as is. */
		path = escapeUriPath(r.path);
		if (typeof r.sentPath === "string" && r.sentPath !== path)
			throw new Error(`sent path ${r.sentPath} is not the SDK's ` +
			    `encoding ${path}`);
	}
	let body;
	if (typeof r.bodyHex === "string") {
		if (!/^([0-9a-fA-F]{2})*$/.test(r.bodyHex))
			throw new Error("bodyHex is not hex");
		body = Uint8Array.from(Buffer.from(r.bodyHex, "hex"));
		if (s3 && headers[SHA256_HEADER] !== "UNSIGNED-PAYLOAD")
			delete headers[SHA256_HEADER];
	}
	if (typeof r.bodySha256 === "string") {
		const want = SHA256_HEADER in headers ? headers[SHA256_HEADER] :
		    await sha256hex(body || new Uint8Array(0));
		if (r.bodySha256 !== want)
			throw new Error(`payload hash ${r.bodySha256}, the SDK ` +
			    `has ${want}`);
	}
	const signer = new SignatureV4({
		service: r.service,
		region: r.region,
		credentials: {
			accessKeyId: r.accessKeyId,
			secretAccessKey: r.secretAccessKey,
		},
		sha256: Sha256,
		uriEscapePath: !s3,
		applyChecksum: s3,
	});
	const request = {
		method: r.method,
		protocol: "https:",
		hostname: headers.host.replace(/:\d+$/, ""),
		path,
		query: parseQuery(r.query),
		headers,
		body,
	};
	const signable = new Set(Object.keys(headers));
	if (s3)
		signable.add(SHA256_HEADER);
	const signed = await signer.sign(request, {
		signingDate: amzDateToDate(r.amzDate),
		signableHeaders: signable,
	});
	const auth = signed.headers.authorization;
	if (typeof auth !== "string" || /[\r\n]/.test(auth))
		throw new Error("the SDK gave no Authorization header");
	return auth;
}

async function main() {
	const chunks = [];
	for await (const c of process.stdin)
		chunks.push(c);
	const lines = Buffer.concat(chunks).toString("utf8").split("\n");
	const out = [];
	let failed = 0;
	for (const line of lines) {
		if (line.trim() === "")
			continue;
		try {
			out.push(await signOne(JSON.parse(line)));
		} catch (e) {
			out.push("ERROR: " + String(e && e.message ? e.message : e)
			    .replace(/[\r\n]+/g, " "));
			failed++;
		}
	}
	process.stdout.write(out.length ? out.join("\n") + "\n" : "");
	process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
	process.stderr.write("sigv4-crosscheck: " + (e && e.stack || e) + "\n");
	process.exit(2);
});
