#!/usr/bin/env python3
"""A minimal SMTP server that checks AUTH PLAIN, for the tests only.

    auth_server.py PORT CERT KEY USERS_JSON LOG

STARTTLS (required before AUTH), then AUTH PLAIN checked against USERS_JSON
({"user": "password", ...}); 235 on a match, else 535 5.7.8. MAIL, RCPT,
DATA accepted after a successful AUTH only. LOG gets one line per
session: "auth ok USER", "auth refused USER" or "no auth", then
"delivered" after the message.
"""
import base64
import json
import socketserver
import ssl
import sys

PORT, CERT, KEY, USERS, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)


def note(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        sock, rf = self.request, self.rfile

        def send(line):
            sock.sendall((line + "\r\n").encode())

        send("220 auth-test ESMTP")
        tls, authed, said = False, False, False
        while True:
            line = rf.readline()
            if not line:
                break
            cmd = line.decode(errors="replace").rstrip("\r\n")
            verb = cmd.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                send("250-auth-test")
                send("250-AUTH PLAIN" if tls else "250-STARTTLS")
                send("250 8BITMIME")
            elif verb == "STARTTLS" and not tls:
                send("220 go ahead")
                sock = ctx.wrap_socket(sock, server_side=True)
                rf = sock.makefile("rb")
                tls = True
            elif verb == "AUTH" and tls:
                parts = cmd.split(" ")
                if len(parts) < 3:
                    send("334 ")
                    resp = rf.readline().decode().strip()
                else:
                    resp = parts[2]
                _, user, password = base64.b64decode(resp).decode().split("\0")
                users = json.load(open(USERS))
                said = True
                if users.get(user) == password:
                    authed = True
                    note("auth ok " + user)
                    send("235 2.7.0 Authentication successful")
                else:
                    note("auth refused " + user)
                    send("535 5.7.8 Authentication credentials invalid")
            elif verb == "MAIL":
                if not authed:
                    note("no auth") if not said else None
                    send("530 5.7.0 Authentication required")
                else:
                    send("250 2.1.0 ok")
            elif verb == "RCPT":
                send("250 2.1.5 ok")
            elif verb == "DATA":
                send("354 go")
                while rf.readline().rstrip(b"\r\n") != b".":
                    pass
                note("delivered")
                send("250 2.0.0 queued as TEST")
            elif verb == "QUIT":
                send("221 bye")
                break
            elif verb in ("RSET", "NOOP"):
                send("250 ok")
            else:
                send("502 5.5.2 what")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


with Server(("127.0.0.1", PORT), Handler) as server:
    print("ready", flush=True)
    server.serve_forever()
