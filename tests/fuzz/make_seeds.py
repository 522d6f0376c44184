#!/usr/bin/env python3
"""make_seeds.py - writes the seed corpora tests/fuzz/corpus/<harness>/ (real-shaped inputs).

Run from anywhere: python3 tests/fuzz/make_seeds.py. Rewrites the seed directories whole; the
files are committed, so this only needs re-running when a format changes. The provider answers
follow tests/standins/providers.js (and the providers' documentation); the images are tiny but
real PNG / JPEG / WebP headers.
"""
import base64
import json
import os
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def png(w, h):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    raw = b"".join(b"\x00" + b"\x20\x40\x60" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg(w, h):
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, h, w, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof + b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00" + b"\xff\xd9"


def webp(kind, w, h):
    if kind == "VP8 ":
        payload = b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", w, h) + b"\x00" * 8
    elif kind == "VP8L":
        bits = (w - 1) | ((h - 1) << 14)
        payload = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 3
    else:
        payload = b"\x10\x00\x00\x00" + struct.pack("<I", w - 1)[:3] + struct.pack("<I", h - 1)[:3]
    chunk = kind.encode() + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def b64(b):
    return base64.b64encode(b).decode()


def j(o):
    return json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode()


def write(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


IMG_PNG = png(4, 3)
IMG_JPEG = jpeg(1024, 768)
IMG_WEBP = webp("VP8X", 1536, 1024)


def json_body():
    seeds = {
        "minimal": b'{"prompt":"a red fox"}',
        "all_fields": j({"prompt": "a lighthouse at dusk, oil painting", "numberOfImages": 4,
                         "aspectRatio": "16:9", "negativePrompt": "text, watermark", "seed": 4294967295}),
        "spaced": b'  {\n  "prompt" : "x" ,\n  "aspectRatio":"21:9", "numberOfImages":2 }\n',
        "escapes": b'{"prompt":"quote \\" backslash \\\\ tab \\t \\u00e9 \\ud83e\\udd8a \\/"}',
        "utf8": j({"prompt": "🦊 Füchse im Schnee — 雪の中の狐", "aspectRatio": "9:16"}),
        "sqlish": j({"prompt": "'; DROP TABLE users; --", "negativePrompt": "\" OR 1=1 --"}),
        "dup_key": b'{"prompt":"a","prompt":"b"}',
        "nul_escape": b'{"prompt":"a\\u0000b"}',
        "nul_key": b'{"pro\\u0000mpt":"a"}',
        "lone_surrogate": b'{"prompt":"\\ud800"}',
        "unknown_field": b'{"prompt":"a","style":"vivid"}',
        "null_field": b'{"prompt":"a","seed":null}',
        "float": b'{"prompt":"a","numberOfImages":2.0}',
        "bigint": b'{"prompt":"a","seed":99999999999999999999999}',
        "negative": b'{"prompt":"a","seed":-1}',
        "exp": b'{"prompt":"a","numberOfImages":1e0}',
        "nested": b'{"prompt":{"a":[1,2,{"b":null}]}}',
        "deep": b"[" * 20 + b"]" * 20,
        "trailing": b'{"prompt":"a"} {}',
        "array": b'[{"prompt":"a"}]',
        "empty": b"",
        "blank_prompt": b'{"prompt":" \\n\\t "}',
        "ctrl": b'{"prompt":"a\x01b"}',
        "bad_utf8": b'{"prompt":"\xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80"}',
        "webhook": j({"prompt": "a fox", "webhookUrl": "https://hooks.example.com/imggen?x=1#f"}),
        "webhook_private": j({"prompt": "a fox", "webhookUrl": "https://[::ffff:10.0.0.1]:8443/h"}),
        "webhook_http": j({"prompt": "a fox", "webhookUrl": "http://127.0.0.1:9/hook"}),
        # (a long non-ASCII unknown key is tests/fuzz/regressions/json_body/field-name-cut-inside-utf8)
    }
    for k, v in seeds.items():
        write("json_body", k, v)


def router():
    # PROVIDER DBMODE METHOD\0PATH\0QUERY\0CONTENT-TYPE\0AUTHORIZATION\0IDEMPOTENCY-KEY\0IF-NONE-MATCH\0BODY
    # DBMODE (tests/fuzz/fake_pq.c): 1 no rows, 2 error, 16 still running, 32 earlier idempotent request
    tok = "igt_" + "Ab0-_" * 8 + "xyz"
    gen = "0b7c1a52-3f0e-4c4e-9d1a-2b4d6e8f0a1c"
    rows = {
        "post_ok": (0, 0, "POST", "/api/generate/text-to-image", "", "application/json", "Bearer " + tok, "", "",
                    b'{"prompt":"a fox"}'),
        "post_idem": (1, 0, "POST", "/api/generate/text-to-image", "", "application/json; charset=utf-8",
                      "Bearer " + tok, '"order-42-retry"', "", b'{"prompt":"a fox","numberOfImages":2,"seed":7}'),
        "post_idem_mismatch": (0, 32, "POST", "/api/generate/text-to-image", "", "application/json",
                               "Bearer " + tok, "k1", "", b'{"prompt":"b"}'),
        "post_limited": (0, 1, "POST", "/api/generate/text-to-image", "", "application/json", "Bearer " + tok,
                         "", "", b'{"prompt":"a fox","numberOfImages":4}'),
        "post_db_down": (0, 2, "POST", "/api/generate/text-to-image", "", "application/json", "Bearer " + tok,
                         "", "", b'{"prompt":"a"}'),
        "post_noauth": (1, 0, "POST", "/api/generate/text-to-image", "", "application/json", "", "", "",
                        b'{"prompt":"a fox"}'),
        "get_done": (2, 0, "GET", "/api/generate/queue/" + gen, "", "", "Bearer " + tok, "", "", b""),
        "get_etag": (2, 0, "GET", "/api/generate/queue/" + gen, "", "", "Bearer " + tok, "",
                     '"0b7c1a52-1700000000000"', b""),
        "get_running": (2, 16, "GET", "/api/generate/queue/" + gen, "", "", "Bearer " + tok, "", "", b""),
        "get_missing": (2, 1, "GET", "/api/generate/queue/" + gen, "", "", "Bearer " + tok, "", "", b""),
        "get_badid": (3, 0, "GET", "/api/generate/queue/..%2f..%2fetc%2fpasswd", "", "", "Bearer " + tok, "",
                      "", b""),
        "list": (0, 0, "GET", "/api/generate/queue", "status=queued&limit=1", "", "Bearer " + tok, "", "", b""),
        "list_cursor": (0, 0, "GET", "/api/generate/queue",
                        "cursor=djEuMTcwMDAwMDAwMDAwMDAwMC4wYjdjMWE1Mi0zZjBlLTRjNGUtOWQxYS0yYjRkNmU4ZjBhMWM&limit=100",
                        "", "Bearer " + tok, "", "", b""),
        "list_unknown": (0, 0, "GET", "/api/generate/queue", "access_token=" + tok, "", "Bearer " + tok, "", "",
                         b""),
        "cancel": (0, 16, "POST", "/api/generate/queue/" + gen + "/cancel", "", "", "Bearer " + tok, "", "", b""),
        "cancel_done": (0, 0, "POST", "/api/generate/queue/" + gen + "/cancel", "", "", "Bearer " + tok, "", "",
                        b""),
        "health": (0, 0, "GET", "/api/generate/health", "", "", "", "", "", b""),
        "wrong_method": (0, 0, "DELETE", "/api/generate/text-to-image", "", "", "", "", "", b""),
        "unknown": (0, 0, "GET", "/api/generate/nope", "", "", "", "", "", b""),
        "basic": (0, 0, "POST", "/api/generate/text-to-image", "", "text/plain", "Basic dXNlcjpwYXNz", "", "",
                  b"x"),
    }
    for name, (prov, mode, m, p, q, ct, auth, idem, inm, body) in rows.items():
        data = bytes([prov, mode]) + "\0".join([m, p, q, ct, auth, idem, inm]).encode() + b"\0" + body
        write("router", name, data)


def auth():
    tok = "igt_" + "Zx9_-" * 8 + "abc"
    for name, v in {
        "valid_shape": "Bearer " + tok,
        "lower_scheme": "bearer   " + tok + "  ",
        "basic": "Basic dXNlcjpwYXNz",
        "empty_bearer": "Bearer ",
        "short": "Bearer igt_abc",
        "sql": "Bearer ' OR '1'='1",
        "long": "Bearer igt_" + "A" * 4000,
        "no_prefix": "Bearer " + "A" * 47,
    }.items():
        write("auth", name, v)


def provider():
    # byte 0: bits 0-1 provider (0 imagen, 1 gemini, 2 openai), bit 2 error, bits 3-4 count-1
    def hdr(prov, err=False, count=1, b1=0, b2=0):
        return bytes([prov | (4 if err else 0) | ((count - 1) << 3), b1, b2])
    imagen_ok = j({"predictions": [{"mimeType": "image/png", "bytesBase64Encoded": b64(IMG_PNG)},
                                   {"mimeType": "image/jpeg", "bytesBase64Encoded": b64(IMG_JPEG)}]})
    write("provider", "imagen_ok", hdr(0, count=3) + imagen_ok)
    write("provider", "imagen_filtered_all", hdr(0, count=2) + b"{}")
    gemini_ok = j({"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Here is your image"},
        {"inlineData": {"mimeType": "image/png", "data": b64(IMG_PNG)}}]},
        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 1290, "totalTokenCount": 1297,
                          "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 7}]},
        "modelVersion": "gemini-2.5-flash-image", "responseId": "abcDEF123"})
    write("provider", "gemini_ok", hdr(1, count=2, b1=1) + gemini_ok)
    write("provider", "gemini_safety", hdr(1) + j({"candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}],
                                                    "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
                                                    "modelVersion": "gemini-2.5-flash-image"}))
    write("provider", "gemini_blocked", hdr(1) + j({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                                                     "usageMetadata": {"promptTokenCount": 7}}))
    openai_ok = j({"created": 1713833628, "background": "opaque",
                   "data": [{"b64_json": b64(IMG_WEBP)}, {"b64_json": b64(IMG_PNG)}],
                   "output_format": "png", "quality": "medium", "size": "1536x1024",
                   "usage": {"input_tokens": 12, "input_tokens_details": {"image_tokens": 0, "text_tokens": 12},
                             "output_tokens": 3168, "total_tokens": 3180}})
    write("provider", "openai_ok", hdr(2, count=2) + openai_ok)
    write("provider", "openai_webp_vp8", hdr(2) + j({"data": [{"b64_json": b64(webp("VP8 ", 1024, 1024))}]}))
    write("provider", "openai_webp_vp8l", hdr(2) + j({"data": [{"b64_json": b64(webp("VP8L", 1024, 1536))}]}))
    # errors: status = 100 + (b1 << 8 | b2) % 500
    def st(code):
        v = code - 100
        return v >> 8, v & 0xff
    g400 = j({"error": {"code": 400, "message": "Image generation failed with the following error: The prompt "
                        "could not be submitted. This prompt contains sensitive words that violate Google's "
                        "Responsible AI practices.", "status": "INVALID_ARGUMENT"}})
    write("provider", "err_imagen_safety", hdr(0, True, 1, *st(400)) + g400)
    gkey = j({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                        "status": "INVALID_ARGUMENT", "details": [
                            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                             "domain": "googleapis.com"}]}})
    write("provider", "err_gemini_key", hdr(1, True, 1, *st(400)) + gkey)
    write("provider", "err_gemini_429", hdr(1, True, 1, *st(429)) + j(
        {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                   "status": "RESOURCE_EXHAUSTED"}}))
    write("provider", "err_openai_401", hdr(2, True, 1, *st(401)) + j(
        {"error": {"message": "Incorrect API key provided: sk-abc***********wxyz. You can find your API key "
                   "at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error",
                   "param": None, "code": "invalid_api_key"}}))
    write("provider", "err_openai_moderation", hdr(2, True, 1, *st(400)) + j(
        {"error": {"message": "Your request was rejected by the safety system. safety_violations=[violence].",
                   "type": "image_generation_user_error", "param": None, "code": "moderation_blocked"}}))
    write("provider", "err_openai_quota", hdr(2, True, 1, *st(429)) + j(
        {"error": {"message": "You exceeded your current quota.", "type": "insufficient_quota",
                   "param": None, "code": "insufficient_quota"}}))
    write("provider", "err_html_502", hdr(0, True, 1, *st(502)) +
          b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")


def base64_():
    for name, b in {"png": IMG_PNG, "jpeg": IMG_JPEG, "webp": IMG_WEBP, "one": b"a", "two": b"ab",
                    "three": b"abc"}.items():
        write("base64", name, b64(b))
    write("base64", "bad_pad", "YW=j")
    write("base64", "urlsafe", "-_-_")


def png_probe():
    write("png_probe", "png", IMG_PNG)
    write("png_probe", "png_big", png(1, 1)[:33])
    write("png_probe", "jpeg", IMG_JPEG)
    write("png_probe", "webp_vp8", webp("VP8 ", 640, 480))
    write("png_probe", "webp_vp8l", webp("VP8L", 16, 16))
    write("png_probe", "webp_vp8x", IMG_WEBP)


def s3_error():
    def st(code):
        return struct.pack(">H", code)
    doc = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{}</Code><Message>{}</Message>'
           '<Resource>/imggen/generations/u/g/0.png</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>')
    write("s3_error", "slowdown", st(503) + doc.format("SlowDown", "Please reduce your request rate.").encode())
    write("s3_error", "timeout_400", st(400) + doc.format("RequestTimeout", "Your socket connection to the "
                                                          "server was not read from or written to").encode())
    write("s3_error", "denied", st(403) + doc.format("AccessDenied", "Access Denied").encode())
    write("s3_error", "sig", st(403) + doc.format("SignatureDoesNotMatch", "The request signature we "
                                                  "calculated does not match the signature you provided.").encode())
    write("s3_error", "nobucket", st(404) + doc.format("NoSuchBucket", "The specified bucket does not exist").encode())
    write("s3_error", "ok", st(200) + b"")
    write("s3_error", "html", st(502) + b"<html><body><h1>502 Bad Gateway</h1></body></html>")


def config():
    write("config", "fs", "DATABASE_URL=postgresql:///imggen\nIMGGEN_PROVIDER=local\nIMGGEN_STORAGE=fs\n"
                          "IMGGEN_FS_ROOT=/var/lib/imggen/files\nPUBLIC_BASE_URL=https://img.example.com/files\n"
                          "IMGGEN_LOG_LEVEL=info\nIMGGEN_WORKER_CONCURRENCY=16\n")
    write("config", "r2", "# Cloudflare R2\nexport IMGGEN_STORAGE=s3\nS3_ENDPOINT=https://0123abcd.r2."
                          "cloudflarestorage.com\nS3_BUCKET=imggen\nS3_ACCESS_KEY_ID=AKIAEXAMPLE123\n"
                          "S3_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'\nS3_REGION=auto\n"
                          "PUBLIC_BASE_URL=https://images.example.com\n")
    write("config", "openai", "IMGGEN_PROVIDER = openai\r\nOPENAI_API_KEY=\"sk-proj-abcdefghijklmnop\"\r\n"
                              "OPENAI_MODEL=gpt-image-1\r\nIMGGEN_PROVIDER_TIMEOUT=180\r\n")
    write("config", "imagen", "IMGGEN_PROVIDER=imagen\nGEMINI_API_KEY=AIzaSyEXAMPLEEXAMPLEEXAMPLE\n"
                              "IMAGEN_MODEL=imagen-4.0-generate-001\nGOOGLE_API_BASE_URL=http://127.0.0.1:9\n")
    write("config", "errors", "NOPE=1\nIMGGEN_LEASE_SECONDS=abc\nIMGGEN_MAX_ATTEMPTS=99999999999999999999\n"
                              "just a line\nIMGGEN_LOG_LEVEL=loud\nDATABASE_URL\n")
    example = os.path.join(HERE, "..", "..", "imggen.env.example")
    if os.path.exists(example):
        with open(example, "rb") as f:
            write("config", "example", f.read())


def sigv4():
    h = "\0"
    write("sigv4", "put_s3", b"\x01" + h.join([
        "PUT", "/imggen/generations/3f2a/9b1c/0.png", "", "auto", "s3", "20240101T000000Z",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "Content-Type", "image/png", "Cache-Control", "public, max-age=31536000, immutable"]).encode())
    write("sigv4", "get_generic", b"\x06" + h.join([
        "GET", "/a/./b/../c//d%20e", "b=2&a=1&a=%20&c", "us-east-1", "service", "20150830T123600Z",
        "UNSIGNED-PAYLOAD", "My-Header1", "  value1  value2 ", "my-header1", "value3"]).encode())
    write("sigv4", "unicode", b"\x07" + h.join([
        "PUT", "/bücket/ключ €.png", "x=€&y", "auto", "s3", "20240101T000000Z",
        "UNSIGNED-PAYLOAD"]).encode())


def retry_after():
    for name, v in {"secs": "120", "zero": "0", "spaces": "  5\r\n", "date": "Sun, 06 Nov 1994 08:49:37 GMT",
                    "future": "Fri, 31 Dec 9999 23:59:59 GMT", "neg": "-1", "big": "99999999999999999999",
                    "bad_month": "Sun, 06 Foo 1994 08:49:37 GMT"}.items():
        write("retry_after", name, v)


def jwt():
    def signed(h, p):
        return b"\x01" + h.encode() + b"\0" + p.encode()
    write("jwt", "ok", signed('{"alg":"HS256","typ":"JWT"}',
                             '{"sub":"0b7c1a52-3f0e-4c4e-9d1a-2b4d6e8f0a1c","exp":1700003600,"iat":1700000000}'))
    write("jwt", "nbf", signed('{"alg":"HS256"}', '{"sub":"u","exp":1700003600.5,"nbf":1699999999}'))
    write("jwt", "none", signed('{"alg":"none"}', '{"sub":"u","exp":1800000000}'))
    write("jwt", "expired", signed('{"alg":"HS256"}', '{"sub":"u","exp":1}'))
    # (exp 1e300: tests/fuzz/regressions/jwt/exp-1e300-cast-overflow)
    write("jwt", "raw", b"\x00eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1IiwiZXhwIjoxODAwMDAwMDAwfQ."
                        b"c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dQ")
    write("jwt", "raw_dots", b"\x00a.b.c.d")


def webhook_url():
    for name, (ins, u) in {
        "https": (0, "https://hooks.example.com/imggen/done?sig=1"),
        "port": (0, "https://hooks.example.com:8443/x"),
        "v6": (0, "https://[2001:db8::1]/x"),
        "v6_mapped": (0, "https://[::ffff:192.168.1.1]/x"),
        "loop": (0, "https://127.0.0.1/x"),
        "creds": (0, "https://user:pw@example.com/x"),
        "local": (0, "https://LOCALHOST:443/"),
        "http": (1, "http://127.0.0.1:8080/hook"),
        "decimal": (0, "https://2130706433/"),
    }.items():
        write("webhook_url", name, bytes([ins]) + u.encode())


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    for f in (jwt, webhook_url, json_body, router, auth, provider, base64_, png_probe, s3_error, config, sigv4, retry_after):
        f()


if __name__ == "__main__":
    main()
