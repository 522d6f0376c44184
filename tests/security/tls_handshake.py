#!/usr/bin/env python3
"""tls_handshake.py — one TLS handshake, for tests/security/tls.sh.

    tls_handshake.py HOST:PORT CAFILE VERSION [CIPHERS]

VERSION (1.0, 1.1, 1.2 or 1.3) is the only protocol version offered. CIPHERS, an OpenSSL cipher
string, sets what TLS 1.2 and lower offer; the default allows every cipher at security level 0, so
that a refusal is the server's, not this client's.

Completed: prints "Protocol  : TLSv1.x" and "Cipher    : NAME" (the lines of `openssl s_client`)
and exits 0. Refused or failed: prints why and exits 1. CIPHERS that this machine's OpenSSL cannot
offer at all: exits 3 without connecting (no server is tested by that).

Why not `openssl s_client </dev/null`: it gives up when its input ends, and on a loaded machine its
input can end before the handshake has finished, so a good handshake now and then reported nothing.
This blocks until the handshake is done or refused (10 s timeout).
"""
import socket
import ssl
import sys
import warnings

# Offering TLS 1.0 and 1.1 is the point here (they must be refused).
warnings.filterwarnings("ignore", category=DeprecationWarning)

VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


def main():
    if len(sys.argv) not in (4, 5) or sys.argv[3] not in VERSIONS:
        sys.stderr.write(__doc__)
        return 2
    hostport, cafile, version = sys.argv[1:4]
    ciphers = sys.argv[4] if len(sys.argv) == 5 else "ALL:@SECLEVEL=0"
    host, port = hostport.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    try:
        ctx.set_ciphers(ciphers)
    except ssl.SSLError as e:
        print("this client cannot offer %s: %s" % (ciphers, e))
        return 3
    ctx.minimum_version = VERSIONS[version]
    ctx.maximum_version = VERSIONS[version]
    try:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
                print("Protocol  : %s" % tls.version())
                print("Cipher    : %s" % tls.cipher()[0])
    except (OSError, ssl.SSLError) as e:
        print("handshake failed: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
