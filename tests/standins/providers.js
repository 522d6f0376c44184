#!/usr/bin/env node
/*
 * providers.js — one HTTP stand-in for the three image providers, speaking
 * their real wire formats at their real paths, for imggen's integration
 * tests.  Node 20, no npm dependencies (node:http, node:zlib, node:crypto).
 *
 *   node tests/standins/providers.js [PORT]
 *
 * PORT (argument, else $PROVIDERS_STANDIN_PORT, else $PORT, else 0 for any
 * free port) on $PROVIDERS_STANDIN_HOST (default 127.0.0.1).  Prints
 * "listening PORT" on stdout once it accepts connections.  SIGTERM or
 * SIGINT closes every connection (hanging ones included) and exits 0.
 *
 * Point the service at it with
 *   GOOGLE_API_BASE_URL=http://127.0.0.1:PORT
 *   OPENAI_API_BASE_URL=http://127.0.0.1:PORT
 * and the keys it expects: $GEMINI_API_KEY (default "test-gemini-key") and
 * $OPENAI_API_KEY (default "test-openai-key").
 *
 * Endpoints (formats as documented by ai.google.dev/gemini-api/docs/imagen,
 * ai.google.dev/gemini-api/docs/image-generation and
 * platform.openai.com/docs/api-reference/images/create):
 *   POST /v1beta/models/<imagen-*>:predict          Imagen
 *   POST /v1beta/models/<model>:generateContent      Gemini image models
 *   POST /v1/images/generations                      OpenAI Images
 *   GET  /_stats   {"calls":{path:n},"kinds":{kind:n},"statuses":{code:n},
 *                   "prompts":{kind:{prompt:n}}}
 *   POST /_reset   zeroes the counters (per-prompt state included)
 *
 * Authentication, as the real services answer:
 *   Google: x-goog-api-key.  Missing → 403 PERMISSION_DENIED; wrong → 400
 *     INVALID_ARGUMENT with details[].reason API_KEY_INVALID.  A key in the
 *     URL (?key=) is refused with 400 here (the real API takes it, but
 *     imggen must never put a key in a URL).
 *   OpenAI: Authorization: Bearer.  Missing or wrong → 401 (the wrong-key
 *     message echoes a masked key, as OpenAI's does).
 * Validation (400 in the provider's error format): Imagen sampleCount 1..4,
 * aspectRatio 1:1 3:4 4:3 9:16 16:9, no unknown parameters (so seed and
 * negativePrompt are refused, as on the Gemini API); Gemini
 * responseModalities must include IMAGE, imageConfig.aspectRatio one of
 * 1:1 2:3 3:2 3:4 4:3 4:5 5:4 9:16 16:9 21:9, seed an int32, no unknown
 * fields; OpenAI model/prompt required, n 1..10, size 1024x1024 1536x1024
 * 1024x1536 auto, unknown parameters (response_format included, which
 * gpt-image-1 refuses) rejected.
 *
 * Images are real PNGs at the exact native size of the aspect ratio (the
 * table in fcgi-app/lib/provider.c; OpenAI: the requested size, auto =
 * 1024x1024), a gradient whose colour derives from prompt and index.
 *
 * Behaviour switches, written anywhere in the prompt (so tests running in
 * parallel do not interfere; per-prompt counters are kept per provider):
 *   [[429]]       always 429, Retry-After: 1, the provider's rate-limit body
 *                 (Google RESOURCE_EXHAUSTED, OpenAI rate_limit_exceeded)
 *   [[429once]]   429 as above on the first call for this prompt, then normal
 *   [[500]]       always 500 with the provider's internal-error body
 *   [[503once]]   503 (overloaded, Retry-After: 1) on the first call, then
 *                 normal
 *   [[slow:MS]]   wait MS milliseconds before answering
 *   [[hang]]      never answer (the connection stays open)
 *   [[malformed]] 200 with the normal answer cut in half (truncated JSON)
 *   [[badb64]]    200 with image data that is not valid base64
 *   [[notimage]]  200 with valid base64 of bytes that are not an image
 *   [[filter:K]]  Imagen/OpenAI: K fewer images than asked (all filtered:
 *                 Imagen answers {}); Gemini: the first K generating calls
 *                 for this prompt refuse with finishReason IMAGE_SAFETY
 *   [[block]]     the provider's real safety refusal: OpenAI 400
 *                 moderation_blocked; Imagen 400 INVALID_ARGUMENT "…violate
 *                 Google's Responsible AI practices…"; Gemini 200 with
 *                 promptFeedback.blockReason PROHIBITED_CONTENT
 *   [[usage]]     accepted and ignored: Gemini and OpenAI always report usage
 */
'use strict';

const http = require('node:http');
const zlib = require('node:zlib');
const crypto = require('node:crypto');

const GEMINI_KEY = process.env.GEMINI_API_KEY || 'test-gemini-key';
const OPENAI_KEY = process.env.OPENAI_API_KEY || 'test-openai-key';
const MAX_BODY = 1024 * 1024;

/* Native sizes, exactly as in fcgi-app/lib/provider.c. */
const SIZES = {
	imagen: {
		'1:1': [1024, 1024], '3:4': [896, 1280], '4:3': [1280, 896],
		'9:16': [768, 1408], '16:9': [1408, 768],
	},
	gemini: {
		'1:1': [1024, 1024], '2:3': [832, 1248], '3:2': [1248, 832],
		'3:4': [864, 1184], '4:3': [1184, 864], '4:5': [896, 1152],
		'5:4': [1152, 896], '9:16': [768, 1344], '16:9': [1344, 768],
		'21:9': [1536, 672],
	},
};
const OPENAI_SIZES = ['1024x1024', '1536x1024', '1024x1536', 'auto'];

/* ---- PNG ---------------------------------------------------------- */

const CRC_TABLE = (() => {
	const t = new Uint32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		t[n] = c >>> 0;
	}
	return t;
})();

function crc32(buf) {
	let c = 0xffffffff;
	for (let i = 0; i < buf.length; i++)
		c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
	const len = Buffer.alloc(4);
	const crc = Buffer.alloc(4);
	const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
	len.writeUInt32BE(data.length);
	crc.writeUInt32BE(crc32(td));
	return Buffer.concat([len, td, crc]);
}

const pngCache = new Map();

/*
 * An 8-bit RGB PNG, w x h: every row the same horizontal gradient, so
 * deflate shrinks a full-size image to a few kilobytes.
 */
function makePng(w, h, rgb) {
	const key = `${w}x${h}:${rgb.join(',')}`;
	if (pngCache.has(key))
		return pngCache.get(key);
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(w, 0);
	ihdr.writeUInt32BE(h, 4);
	ihdr[8] = 8;	/* bit depth */
	ihdr[9] = 2;	/* colour type: RGB */
	const stride = w * 3 + 1;
	const row = Buffer.alloc(stride);
	for (let x = 0; x < w; x++) {
		row[1 + x * 3] = rgb[0];
		row[2 + x * 3] = Math.floor((x * 255) / Math.max(1, w - 1));
		row[3 + x * 3] = rgb[2];
	}
	const raw = Buffer.alloc(stride * h);
	for (let y = 0; y < h; y++)
		row.copy(raw, y * stride);
	const png = Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		pngChunk('IHDR', ihdr),
		pngChunk('IDAT', zlib.deflateSync(raw)),
		pngChunk('IEND', Buffer.alloc(0)),
	]);
	if (pngCache.size > 64)
		pngCache.delete(pngCache.keys().next().value);
	pngCache.set(key, png);
	return png;
}

function colourFor(prompt, index) {
	const h = crypto.createHash('sha256').update(`${index}\n${prompt}`)
	    .digest();
	return [h[0], h[1], h[2]];
}

/* The base64 of one image, or the corruption a switch asks for. */
function imageB64(sw, prompt, index, w, h) {
	if (sw.notimage)
		return Buffer.from('this is not an image, just some text ' +
		    'standing where the pixels should be').toString('base64');
	const b64 = makePng(w, h, colourFor(prompt, index)).toString('base64');
	if (sw.badb64)
		return b64.slice(0, 40) + '*not~base64*' + b64.slice(40);
	return b64;
}

/* ---- state -------------------------------------------------------- */

let stats;
let perPrompt;

function resetStats() {
	stats = { calls: {}, kinds: {}, statuses: {}, prompts: {} };
	perPrompt = new Map();
}
resetStats();

function bump(obj, key) {
	obj[key] = (obj[key] || 0) + 1;
}

function switchesOf(prompt) {
	const sw = {};
	for (const m of String(prompt).matchAll(/\[\[([a-z0-9]+)(?::(\d+))?\]\]/g))
		sw[m[1]] = m[2] === undefined ? true : Number(m[2]);
	return sw;
}

function promptState(kind, prompt) {
	const key = `${kind}\n${prompt}`;
	let st = perPrompt.get(key);
	if (!st) {
		st = { calls: 0, generating: 0 };
		perPrompt.set(key, st);
	}
	return st;
}

/* ---- replies ------------------------------------------------------ */

const hanging = new Set();

function send(res, status, body, headers = {}) {
	const text = typeof body === 'string' ? body : JSON.stringify(body);
	bump(stats.statuses, String(status));
	res.writeHead(status, {
		'Content-Type': res.isGoogle ? 'application/json; charset=UTF-8' :
		    'application/json',
		'Content-Length': Buffer.byteLength(text),
		/* OpenAI names each request; the worker records the id. */
		...(res.isGoogle ? {} :
		    { 'x-request-id': 'req_' + crypto.randomBytes(12).toString('hex') }),
		...headers,
	});
	res.end(text);
}

const GSTATUS = {
	400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
	405: 'METHOD_NOT_ALLOWED', 413: 'INVALID_ARGUMENT',
	429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE',
};

function googleError(res, status, message, extra = {}, headers = {}) {
	send(res, status, { error: { code: status, message,
	    status: GSTATUS[status] || 'UNKNOWN', ...extra } }, headers);
}

function openaiError(res, status, message, type, code, param = null,
    headers = {}) {
	send(res, status, { error: { message, type, param, code } }, headers);
}

/* ---- Google ------------------------------------------------------- */

function googleAuth(req, res, url) {
	if (url.searchParams.has('key')) {
		googleError(res, 400, 'stand-in: the API key must be sent in ' +
		    'the x-goog-api-key header, never in the URL');
		return false;
	}
	const key = req.headers['x-goog-api-key'];
	if (key === undefined) {
		googleError(res, 403, 'Method doesn\'t allow unregistered ' +
		    'callers (callers without established identity). Please ' +
		    'use API Key or other form of API consumer identity to ' +
		    'call this API.');
		return false;
	}
	if (key !== GEMINI_KEY) {
		googleError(res, 400, 'API key not valid. Please pass a valid ' +
		    'API key.', { details: [{
			'@type': 'type.googleapis.com/google.rpc.ErrorInfo',
			reason: 'API_KEY_INVALID', domain: 'googleapis.com',
			metadata: { service: 'generativelanguage.googleapis.com' },
		    }] });
		return false;
	}
	return true;
}

function unknownField(obj, allowed, where) {
	if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
		return null;
	for (const k of Object.keys(obj))
		if (!allowed.includes(k))
			return `Invalid JSON payload received. Unknown name "${k}"` +
			    `${where ? ` at '${where}'` : ''}: Cannot find field.`;
	return null;
}

function validateImagen(body) {
	let e;
	if ((e = unknownField(body, ['instances', 'parameters'], '')))
		return e;
	if (!Array.isArray(body.instances) || body.instances.length !== 1 ||
	    typeof body.instances[0] !== 'object' ||
	    typeof body.instances[0].prompt !== 'string' ||
	    body.instances[0].prompt.length === 0)
		return 'instances[0].prompt is required.';
	if ((e = unknownField(body.instances[0], ['prompt'], 'instances[0]')))
		return e;
	const p = body.parameters || {};
	if ((e = unknownField(p, ['sampleCount', 'aspectRatio',
	    'personGeneration', 'imageSize', 'outputOptions'], 'parameters')))
		return e;
	if (p.sampleCount !== undefined && (!Number.isInteger(p.sampleCount) ||
	    p.sampleCount < 1 || p.sampleCount > 4))
		return 'Number of images must be in the range [1, 4].';
	if (p.aspectRatio !== undefined && !(p.aspectRatio in SIZES.imagen))
		return `Unsupported aspect ratio: ${String(p.aspectRatio)}. ` +
		    'Supported values are 1:1, 3:4, 4:3, 9:16, 16:9.';
	if (p.personGeneration !== undefined && !['dont_allow', 'allow_adult',
	    'allow_all'].includes(p.personGeneration))
		return 'Invalid value for personGeneration.';
	return null;
}

function validateGemini(body) {
	let e;
	if ((e = unknownField(body, ['contents', 'generationConfig',
	    'safetySettings', 'systemInstruction', 'tools'], '')))
		return e;
	if (!Array.isArray(body.contents) || body.contents.length === 0)
		return '* GenerateContentRequest.contents: contents is not ' +
		    'specified';
	for (const c of body.contents) {
		if (!c || !Array.isArray(c.parts) || c.parts.length === 0)
			return '* GenerateContentRequest.contents.parts: ' +
			    'contents.parts must not be empty.';
		if ((e = unknownField(c, ['role', 'parts'], 'contents[0]')))
			return e;
	}
	const g = body.generationConfig || {};
	if ((e = unknownField(g, ['responseModalities', 'imageConfig', 'seed',
	    'temperature', 'candidateCount'], 'generation_config')))
		return e;
	const mods = (g.responseModalities || []).map(m => String(m)
	    .toUpperCase());
	for (const m of mods)
		if (m !== 'TEXT' && m !== 'IMAGE')
			return `Invalid value at 'generation_config.` +
			    `response_modalities[0]' (type.googleapis.com/google.` +
			    `ai.generativelanguage.v1beta.GenerationConfig.Modality)` +
			    `, "${m}"`;
	if (!mods.includes('IMAGE'))
		return 'stand-in: responseModalities must include IMAGE for an ' +
		    'image model.';
	const ic = g.imageConfig || {};
	if ((e = unknownField(ic, ['aspectRatio', 'imageSize'],
	    'generation_config.image_config')))
		return e;
	if (ic.aspectRatio !== undefined && !(ic.aspectRatio in SIZES.gemini))
		return `Unsupported aspect ratio: ${String(ic.aspectRatio)}.`;
	if (g.seed !== undefined && (!Number.isInteger(g.seed) ||
	    g.seed < -2147483648 || g.seed > 2147483647))
		return `Invalid value at 'generation_config.seed' (TYPE_INT32), ` +
		    `${JSON.stringify(g.seed)}`;
	return null;
}

function geminiPrompt(body) {
	const texts = [];
	for (const c of body.contents)
		for (const p of c.parts)
			if (typeof p.text === 'string')
				texts.push(p.text);
	return texts.join('\n');
}

function tokens(text) {
	return Math.max(1, Math.ceil(Buffer.byteLength(text) / 4));
}

function answerImagen(res, body, model, sw, prompt) {
	const count = (body.parameters && body.parameters.sampleCount) || 1;
	const ratio = (body.parameters && body.parameters.aspectRatio) || '1:1';
	const [w, h] = SIZES.imagen[ratio];
	if (sw.block) {
		googleError(res, 400, 'Image generation failed with the ' +
		    'following error: The prompt could not be submitted. This ' +
		    'prompt contains sensitive words that violate Google\'s ' +
		    'Responsible AI practices. Try rephrasing the prompt. If you ' +
		    'think this was an error, send feedback. Support codes: ' +
		    '42876398');
		return null;
	}
	const keep = Math.max(0, count - (Number.isInteger(sw.filter) ?
	    sw.filter : 0));
	/* Imagen leaves filtered images out; all filtered is {}. */
	if (keep === 0)
		return {};
	const predictions = [];
	for (let i = 0; i < keep; i++)
		predictions.push({ mimeType: 'image/png',
		    bytesBase64Encoded: imageB64(sw, prompt, i, w, h) });
	/* No modelVersion: the Gemini API's :predict does not report one. */
	return { predictions };
}

function answerGemini(res, body, model, sw, prompt, st) {
	const g = body.generationConfig || {};
	const ratio = (g.imageConfig && g.imageConfig.aspectRatio) || '1:1';
	const [w, h] = SIZES.gemini[ratio];
	const pt = tokens(prompt);
	const usage = (cand) => ({
		promptTokenCount: pt,
		...(cand ? { candidatesTokenCount: cand } : {}),
		totalTokenCount: pt + cand,
		promptTokensDetails: [{ modality: 'TEXT', tokenCount: pt }],
		...(cand ? { candidatesTokensDetails: [{ modality: 'IMAGE',
		    tokenCount: cand }] } : {}),
	});
	const base = { modelVersion: model,
	    responseId: crypto.randomBytes(12).toString('base64url') };
	if (sw.block)
		return { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' },
		    usageMetadata: usage(0), ...base };
	st.generating++;
	if (Number.isInteger(sw.filter) && st.generating <= sw.filter)
		return { candidates: [{ finishReason: 'IMAGE_SAFETY', index: 0 }],
		    usageMetadata: usage(0), ...base };
	/* The seed (when sent) picks the colour, so equal seeds repeat. */
	const index = g.seed !== undefined ? g.seed : st.generating;
	return {
		candidates: [{
			content: { role: 'model', parts: [{ inlineData: {
			    mimeType: 'image/png',
			    data: imageB64(sw, prompt, index, w, h) } }] },
			finishReason: 'STOP', index: 0,
		}],
		usageMetadata: usage(1290),
		...base,
	};
}

/* ---- OpenAI ------------------------------------------------------- */

function openaiAuth(req, res) {
	const auth = req.headers.authorization;
	const m = /^Bearer (.+)$/.exec(auth || '');
	if (!m) {
		openaiError(res, 401, 'You didn\'t provide an API key. You need ' +
		    'to provide your API key in an Authorization header using ' +
		    'Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as ' +
		    'the password field (with blank username) if you\'re ' +
		    'accessing the API from your browser and are prompted for a ' +
		    'username and password. You can obtain an API key from ' +
		    'https://platform.openai.com/account/api-keys.',
		    'invalid_request_error', null);
		return false;
	}
	if (m[1] !== OPENAI_KEY) {
		const k = m[1];
		const masked = k.length > 8 ? `${k.slice(0, 3)}${'*'.repeat(
		    Math.min(20, k.length - 7))}${k.slice(-4)}` : '***';
		openaiError(res, 401, `Incorrect API key provided: ${masked}. You ` +
		    'can find your API key at https://platform.openai.com/' +
		    'account/api-keys.', 'invalid_request_error',
		    'invalid_api_key');
		return false;
	}
	return true;
}

const OPENAI_PARAMS = ['model', 'prompt', 'n', 'size', 'quality',
    'background', 'moderation', 'output_format', 'output_compression',
    'user'];

function validateOpenai(body) {
	for (const k of Object.keys(body))
		if (!OPENAI_PARAMS.includes(k))
			return [`Unknown parameter: '${k}'.`, k, 'unknown_parameter'];
	if (typeof body.model !== 'string' || body.model === '')
		return ['you must provide a model parameter', 'model', null];
	if (typeof body.prompt !== 'string' || body.prompt === '')
		return ['Missing required parameter: \'prompt\'.', 'prompt',
		    'missing_required_parameter'];
	if (body.prompt.length > 32000)
		return ['Invalid \'prompt\': string too long.', 'prompt',
		    'string_above_max_length'];
	if (body.n !== undefined && (!Number.isInteger(body.n) || body.n < 1 ||
	    body.n > 10))
		return [`Invalid 'n': integer ${body.n} out of range [1, 10].`,
		    'n', 'integer_out_of_range'];
	if (body.size !== undefined && !OPENAI_SIZES.includes(body.size))
		return [`Invalid value: '${String(body.size)}'. Supported values ` +
		    'are: \'1024x1024\', \'1024x1536\', \'1536x1024\', and ' +
		    '\'auto\'.', 'size', 'invalid_value'];
	return null;
}

function answerOpenai(res, body, sw, prompt) {
	const n = body.n || 1;
	const size = !body.size || body.size === 'auto' ? '1024x1024' :
	    body.size;
	const [w, h] = size.split('x').map(Number);
	if (sw.block) {
		openaiError(res, 400, 'Your request was rejected by the safety ' +
		    'system. If you believe this is an error, contact us at ' +
		    'help.openai.com and include the request ID ' +
		    `req_${crypto.randomBytes(16).toString('hex')}. ` +
		    'safety_violations=[violence].', 'image_generation_user_error',
		    'moderation_blocked');
		return null;
	}
	const keep = Math.max(0, n - (Number.isInteger(sw.filter) ?
	    sw.filter : 0));
	const data = [];
	for (let i = 0; i < keep; i++)
		data.push({ b64_json: imageB64(sw, prompt, i, w, h) });
	const it = tokens(prompt);
	const ot = keep * (w === h ? 1056 : 1584);
	return {
		created: Math.floor(Date.now() / 1000),
		background: 'opaque', data, output_format: 'png',
		quality: body.quality || 'medium', size,
		usage: { input_tokens: it, input_tokens_details: {
		    image_tokens: 0, text_tokens: it }, output_tokens: ot,
		    total_tokens: it + ot },
	};
}

/* ---- dispatch ----------------------------------------------------- */

/* Rate limits and outages, the same for every path, by switch. */
function transientSwitch(res, kind, sw, st) {
	const google = kind !== 'openai';
	const ra = { 'Retry-After': '1' };
	if (sw['429'] || (sw['429once'] && st.calls === 1)) {
		if (google)
			googleError(res, 429, 'Resource has been exhausted (e.g. ' +
			    'check quota).', { details: [{ '@type':
			    'type.googleapis.com/google.rpc.RetryInfo',
			    retryDelay: '1s' }] }, ra);
		else
			openaiError(res, 429, 'Rate limit reached for images per ' +
			    'minute (IPM): Limit 5, Used 5, Requested 1. Please ' +
			    'try again in 1s.', 'requests', 'rate_limit_exceeded',
			    null, ra);
		return true;
	}
	if (sw['500']) {
		if (google)
			googleError(res, 500, 'An internal error has occurred. ' +
			    'Please retry or report in https://developers.' +
			    'generativeai.google/guide/troubleshooting');
		else
			openaiError(res, 500, 'The server had an error while ' +
			    'processing your request. Sorry about that!',
			    'server_error', null);
		return true;
	}
	if (sw['503once'] && st.calls === 1) {
		if (google)
			googleError(res, 503, 'The model is overloaded. Please try ' +
			    'again later.', {}, ra);
		else
			openaiError(res, 503, 'The engine is currently overloaded, ' +
			    'please try again later.', 'server_error', null, null, ra);
		return true;
	}
	return false;
}

function finish(res, sw, obj, extraHeaders) {
	if (obj === null)
		return;		/* already answered (a refusal) */
	let text = JSON.stringify(obj, null, 2);
	if (sw.malformed)
		text = text.slice(0, Math.floor(text.length / 2));
	send(res, 200, text, extraHeaders);
}

function handleApi(req, res, url, kind, model, raw) {
	let body;
	try {
		body = JSON.parse(raw);
		if (body === null || typeof body !== 'object' ||
		    Array.isArray(body))
			throw new Error('not an object');
	} catch (e) {
		if (kind === 'openai')
			openaiError(res, 400, 'We could not parse the JSON body of ' +
			    'your request. (HINT: This likely means you aren\'t ' +
			    'using your HTTP library correctly. The OpenAI API ' +
			    'expects a JSON payload, but what was sent was not ' +
			    'valid JSON.)', 'invalid_request_error', null);
		else
			googleError(res, 400, 'Invalid JSON payload received. ' +
			    'Unexpected token.');
		return;
	}
	let prompt;
	if (kind === 'imagen') {
		const e = validateImagen(body);
		if (e)
			return googleError(res, 400, e);
		prompt = body.instances[0].prompt;
	} else if (kind === 'gemini') {
		const e = validateGemini(body);
		if (e)
			return googleError(res, 400, e);
		prompt = geminiPrompt(body);
	} else {
		const e = validateOpenai(body);
		if (e)
			return openaiError(res, 400, e[0], 'invalid_request_error',
			    e[2], e[1]);
		prompt = body.prompt;
	}
	stats.prompts[kind] = stats.prompts[kind] || {};
	bump(stats.prompts[kind], prompt);
	const st = promptState(kind, prompt);
	st.calls++;
	const sw = switchesOf(prompt);
	const go = () => {
		if (res.destroyed)
			return;
		if (transientSwitch(res, kind, sw, st))
			return;
		if (kind === 'imagen')
			finish(res, sw, answerImagen(res, body, model, sw, prompt));
		else if (kind === 'gemini')
			finish(res, sw, answerGemini(res, body, model, sw, prompt,
			    st));
		else
			finish(res, sw, answerOpenai(res, body, sw, prompt), {
			    'x-request-id':
			    `req_${crypto.randomBytes(16).toString('hex')}` });
	};
	if (sw.hang) {
		hanging.add(res);
		res.on('close', () => hanging.delete(res));
		return;
	}
	if (Number.isInteger(sw.slow) && sw.slow > 0)
		setTimeout(go, sw.slow);
	else
		go();
}

function route(req, res, raw) {
	const url = new URL(req.url, 'http://stand-in');
	const path = url.pathname;
	if (path === '/_stats' && req.method === 'GET')
		return send(res, 200, stats);
	if (path === '/_reset' && req.method === 'POST') {
		resetStats();
		return send(res, 200, { ok: true });
	}
	let kind = null, model = null, m;
	if ((m = /^\/v1beta\/models\/([A-Za-z0-9._-]+):(predict|generateContent)$/
	    .exec(path))) {
		model = m[1];
		const imagenModel = model.startsWith('imagen-');
		if ((m[2] === 'predict') !== imagenModel) {
			res.isGoogle = true;
			bump(stats.calls, path);
			return googleError(res, 404, `models/${model} is not found ` +
			    `for API version v1beta, or is not supported for ${m[2]}.` +
			    ' Call ListModels to see the list of available models ' +
			    'and their supported methods.');
		}
		kind = imagenModel ? 'imagen' : 'gemini';
	} else if (path === '/v1/images/generations')
		kind = 'openai';
	res.isGoogle = kind !== 'openai' && path.startsWith('/v1beta');
	if (kind === null) {
		if (path.startsWith('/v1beta'))
			return googleError(res, 404, `Method not found.`);
		return openaiError(res, 404, `Invalid URL (${req.method} ${path})`,
		    'invalid_request_error', null);
	}
	bump(stats.calls, path);
	bump(stats.kinds, kind);
	if (req.method !== 'POST') {
		if (kind === 'openai')
			return openaiError(res, 405, 'Method not allowed.',
			    'invalid_request_error', null);
		return googleError(res, 405, 'Method not allowed.');
	}
	if (kind === 'openai' ? !openaiAuth(req, res) :
	    !googleAuth(req, res, url))
		return;
	handleApi(req, res, url, kind, model, raw);
}

const server = http.createServer((req, res) => {
	const chunks = [];
	let size = 0, over = false;
	req.on('data', (c) => {
		size += c.length;
		if (size > MAX_BODY)
			over = true;
		else
			chunks.push(c);
	});
	req.on('end', () => {
		if (over)
			return send(res, 413, { error: { message:
			    'request body too large' } });
		try {
			route(req, res, Buffer.concat(chunks).toString('utf8'));
		} catch (e) {
			process.stderr.write(`providers stand-in: ${e.stack}\n`);
			if (!res.headersSent)
				send(res, 500, { error: { message: 'stand-in bug' } });
		}
	});
});

function shutdown() {
	for (const res of hanging)
		res.destroy();
	server.close(() => process.exit(0));
	server.closeAllConnections();
	setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

const port = Number(process.argv[2] ?? process.env.PROVIDERS_STANDIN_PORT ??
    process.env.PORT ?? 0);
const host = process.env.PROVIDERS_STANDIN_HOST || '127.0.0.1';
server.listen(port, host, () => {
	process.stdout.write(`listening ${server.address().port}\n`);
});
