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
Enrolment (client_ids starting "public-" need no client_secret):
POST /devicecode client_id, scope -> RFC 8628 device authorization
  (interval 1 s, user_code "WDJB-MJHT"); GET /approve?user_code=C lets the
  sign-in through, GET /deny?user_code=C declines it. Polling POST /token
  grant_type=urn:ietf:params:oauth:grant-type:device_code answers
  authorization_pending, then slow_down once, until approved or denied.
GET /authorize (response_type=code, PKCE S256 required) -> 302 to
  redirect_uri?code=...&state=...; POST /token grant_type=authorization_code
  checks the code_verifier against the challenge and the redirect_uri.
Grants without a person (RFC 7523), checked against TRUST, a JSON file
named by the environment variable TOKEN_ENDPOINT_TRUST and read at each
request: {"service_accounts": {CLIENT_EMAIL: PUBLIC_KEY_PEM_FILE},
"certificates": {CLIENT_ID: CERT_PEM_FILE}}:
POST /token grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer,
  assertion=JWT (Google service account): RS256 signature verified with
  the account's public key; iss known, aud = this token endpoint, scope
  https://mail.google.com/, a sub, iat <= now < exp, exp - iat <= 3600.
  Refusals in Google's words (400 invalid_grant "Invalid JWT Signature.").
POST /token grant_type=client_credentials with client_assertion_type
  urn:ietf:params:oauth:client-assertion-type:jwt-bearer and
  client_assertion=JWT (Microsoft certificate credential): x5t#S256 (or
  x5t) names the registered certificate, RS256 verified with its public
  key, iss = sub = client_id, aud = this endpoint, a jti never seen before,
  unexpired. Refusals in Microsoft's words (401 invalid_client AADSTS...).
Tokens issued to client_id "client-noscope" are never active (as a token
without the SMTP scope: the smarthost refuses it).
Every access token issued is for USER (argv[5], default relay@example.com).
Every request is counted (one line in COUNTER_FILE) and answered after
0.3 s, so concurrent clients overlap.
"""
import base64
import hashlib
import http.server
import json
import os
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
devices = {}   # device_code -> {"user_code", "state": pending|approved|denied, "polls"}
codes = {}     # authorization code -> (challenge, redirect_uri, client_id)


def issue_tokens(n, client_id):
    with lock:
        issued.add(f"at-fresh-{n}")
    return {"access_token": f"at-fresh-{n}", "expires_in": 3599, "token_type": "Bearer",
            "refresh_token": f"rt-enrolled-{n}"}


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_rs256(jwt, public_key):
    """The header and claims of jwt if its RS256 signature verifies, else None."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    try:
        head, body, sig = jwt.split(".")
        header = json.loads(b64url_decode(head))
        if header.get("alg") != "RS256":
            return None
        public_key.verify(b64url_decode(sig), (head + "." + body).encode(), padding.PKCS1v15(), hashes.SHA256())
        return header, json.loads(b64url_decode(body))
    except (ValueError, InvalidSignature):
        return None


def trust():
    path = os.environ.get("TOKEN_ENDPOINT_TRUST")
    return json.load(open(path)) if path and os.path.exists(path) else {}


seen_jti = set()


def check_service_account(form):
    """None when the JWT bearer grant is good, else (status, error, description)."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    jwt = form.get("assertion", [""])[0]
    try:
        claims = json.loads(b64url_decode(jwt.split(".")[1]))
    except (ValueError, IndexError):
        return 400, "invalid_grant", "Invalid JWT."
    pem = trust().get("service_accounts", {}).get(claims.get("iss"))
    if pem is None:
        return 400, "invalid_grant", "Invalid JWT: unknown issuer."
    verified = verify_rs256(jwt, load_pem_public_key(open(pem, "rb").read()))
    if verified is None:
        return 400, "invalid_grant", "Invalid JWT Signature."
    _, claims = verified
    now = time.time()
    if claims.get("aud") != f"https://127.0.0.1:{PORT}/token":
        return 400, "invalid_grant", "Invalid JWT: aud is not this token endpoint."
    if claims.get("scope") != "https://mail.google.com/" or not claims.get("sub"):
        return 400, "invalid_scope", "Bad scope or no sub."
    if not (claims.get("iat", now + 100) <= now + 5 < claims.get("exp", 0)) or claims["exp"] - claims["iat"] > 3600:
        return 400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes)."
    return None


def check_client_assertion(form, client_id):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    if form.get("client_assertion_type", [""])[0] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
        return 400, "invalid_request", "AADSTS50027: bad client_assertion_type."
    jwt = form.get("client_assertion", [""])[0]
    pem = trust().get("certificates", {}).get(client_id)
    if pem is None:
        return 401, "invalid_client", "AADSTS700027: no certificate registered for the application."
    cert = x509.load_pem_x509_certificate(open(pem, "rb").read())
    try:
        header = json.loads(b64url_decode(jwt.split(".")[0]))
    except (ValueError, IndexError):
        return 401, "invalid_client", "AADSTS50027: Invalid JWT token."
    s256 = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).decode().rstrip("=")
    sha1 = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).decode().rstrip("=")
    if header.get("x5t#S256", header.get("x5t")) not in (s256, sha1) or \
            ("x5t#S256" in header and header["x5t#S256"] != s256):
        return 401, "invalid_client", "AADSTS700027: The certificate with identifier used to sign the client " \
                                      "assertion is not registered on application."
    verified = verify_rs256(jwt, cert.public_key())
    if verified is None:
        return 401, "invalid_client", "AADSTS700027: Client assertion contains an invalid signature."
    _, claims = verified
    now = time.time()
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        return 401, "invalid_client", "AADSTS700023: iss and sub must be the client_id."
    if claims.get("aud") != f"https://127.0.0.1:{PORT}/token":
        return 401, "invalid_client", "AADSTS700024: aud is not this token endpoint."
    if not claims.get("exp", 0) > now or claims.get("nbf", 0) > now + 5:
        return 401, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range."
    with lock:
        if not claims.get("jti") or claims["jti"] in seen_jti:
            return 401, "invalid_client", "AADSTS700025: the jti was used before."
        seen_jti.add(claims["jti"])
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        if url.path in ("/approve", "/deny"):
            with lock:
                for d in devices.values():
                    if d["user_code"] == q.get("user_code") and d["state"] == "pending":
                        d["state"] = "approved" if url.path == "/approve" else "denied"
                        return self.reply(200, {"ok": True})
            return self.reply(404, {"error": "no such user_code"})
        if url.path == "/authorize":
            if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" \
                    or not q.get("code_challenge") or not q.get("redirect_uri") or not q.get("state"):
                return self.reply(400, {"error": "invalid_request"})
            with lock:
                code = f"4/code-{len(codes) + 1}"
                codes[code] = (q["code_challenge"], q["redirect_uri"], q.get("client_id"))
            location = q["redirect_uri"] + "/?" + urllib.parse.urlencode(
                {"state": q["state"], "code": code, "scope": q.get("scope", "")})
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        return self.reply(404, {"error": "not_found"})

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
        client_id = form.get("client_id", [""])[0]
        if self.path == "/devicecode":
            with lock:
                dc = f"dc-{n}"
                devices[dc] = {"user_code": "WDJB-MJHT", "state": "pending", "polls": 0}
            return self.reply(200, {"device_code": dc, "user_code": "WDJB-MJHT",
                                    "verification_uri": f"https://127.0.0.1:{PORT}/device",
                                    "expires_in": 60, "interval": 1, "message": "go there"})
        if self.path != "/token":
            return self.reply(404, {"error": "not_found"})
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            with lock:
                d = devices.get(form.get("device_code", [""])[0])
                if d is None:
                    return self.reply(400, {"error": "invalid_grant"})
                d["polls"] += 1
                state, polls = d["state"], d["polls"]
            if state == "denied":
                return self.reply(400, {"error": "access_denied", "error_description": "The user declined."})
            if state == "pending":
                return self.reply(400, {"error": "slow_down" if polls == 2 else "authorization_pending"})
            return self.reply(200, issue_tokens(n, client_id))
        if grant == "authorization_code":
            with lock:
                entry = codes.pop(form.get("code", [""])[0], None)
            verifier = form.get("code_verifier", [""])[0]
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if entry is None or entry[0] != digest or entry[1] != form.get("redirect_uri", [""])[0]:
                return self.reply(400, {"error": "invalid_grant", "error_description": "Bad code or verifier."})
            return self.reply(200, issue_tokens(n, client_id))
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            refused = check_service_account(form)
            if refused:
                return self.reply(refused[0], {"error": refused[1], "error_description": refused[2]})
            with lock:
                issued.add(f"at-sa-{n}")
            return self.reply(200, {"access_token": f"at-sa-{n}", "expires_in": 3599, "token_type": "Bearer"})
        if grant == "client_credentials" and "client_assertion" in form:
            refused = check_client_assertion(form, client_id)
            if refused:
                return self.reply(refused[0], {"error": refused[1], "error_description": refused[2]})
            with lock:
                issued.add(f"at-cert-{n}")
            return self.reply(200, {"access_token": f"at-cert-{n}", "expires_in": 3599, "token_type": "Bearer"})
        if not client_id.startswith("public-") and form.get("client_secret", [""])[0] != "cs-test-secret":
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
