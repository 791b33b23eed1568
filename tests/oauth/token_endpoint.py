#!/usr/bin/env python3
"""A local OAuth 2.0 token endpoint over HTTPS, for the tests only.

    token_endpoint.py PORT CERT KEY COUNTER_FILE

POST /token with grant_type=refresh_token:
  refresh_token "rt-revoked"  -> 400 invalid_grant (as Google words it)
  refresh_token "rt-aad"      -> 400 invalid_grant with AADSTS700082 (as Microsoft)
  anything else               -> 200, a new access token and a rotated refresh token
POST /token with grant_type=client_credentials -> 200, an access token.
POST /introspect token=T (RFC 7662, as Dovecot's oauth2 passdb asks) ->
  {"active": true, "username": USER} for a token this endpoint issued,
  {"active": false} for any other (an expired or forged one).
Tokens issued to client_id "client-noscope" are never active (as a token
without the SMTP scope: the smarthost refuses it).
Every access token issued is for USER (argv[5], default relay@example.com).
Every request is counted (one line in COUNTER_FILE) and answered after
0.3 s, so concurrent clients overlap.
"""
import http.server
import json
import ssl
import sys
import threading
import time
import urllib.parse

PORT, CERT, KEY, COUNTER = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
USER = sys.argv[5] if len(sys.argv) > 5 else "relay@example.com"
lock = threading.Lock()
count = [0]
issued = set()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        if self.path == "/introspect":
            token = form.get("token", [""])[0]
            with lock:
                active = token in issued
            return self.reply(200, {"active": True, "username": USER} if active else {"active": False})
        with lock:
            count[0] += 1
            n = count[0]
            with open(COUNTER, "a") as f:
                f.write(f"{form.get('grant_type', ['?'])[0]} {form.get('client_id', ['?'])[0]}\n")
        time.sleep(0.3)
        grant = form.get("grant_type", [""])[0]
        rt = form.get("refresh_token", [""])[0]
        if self.path != "/token":
            return self.reply(404, {"error": "not_found"})
        if form.get("client_secret", [""])[0] != "cs-test-secret":
            return self.reply(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        if grant == "refresh_token" and rt == "rt-revoked":
            return self.reply(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        if grant == "refresh_token" and rt == "rt-aad":
            return self.reply(400, {"error": "invalid_grant", "error_description":
                                    "AADSTS700082: The refresh token has expired due to inactivity."})
        if grant in ("refresh_token", "client_credentials") and form.get("client_id", [""])[0] != "client-noscope":
            with lock:
                issued.add(f"at-fresh-{n}" if grant == "refresh_token" else f"at-app-{n}")
        if grant == "refresh_token":
            return self.reply(200, {"access_token": f"at-fresh-{n}", "expires_in": 3599, "token_type": "Bearer",
                                    "refresh_token": f"rt-rotated-{n}"})
        if grant == "client_credentials":
            return self.reply(200, {"access_token": f"at-app-{n}", "expires_in": 3599, "token_type": "Bearer"})
        return self.reply(400, {"error": "unsupported_grant_type"})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
