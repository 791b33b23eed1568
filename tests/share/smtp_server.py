#!/usr/bin/env python3
"""A small SMTP server for the connection sharing tests: STARTTLS, AUTH
PLAIN, PIPELINING; records every connection and transaction as JSON lines
so a test can count connections, transactions and messages.

  smtp_server.py PORTFILE EVENTS CERT KEY USER PASSWORD [--stall STAGE]
                 [--stall-seconds N] [--idle-close N]

--stall STAGE: on the second and later transaction of a connection (a
  reused session), wait N seconds before answering STAGE (rset, mail, rcpt,
  data, dot), after logging {"event": "stall", "stage": STAGE}.
--idle-close N: a connection idle for N seconds after a transaction gets
  "421 idle" and is closed (as a provider's server does).
"""
import argparse
import base64
import hashlib
import json
import socket
import ssl
import threading
import time

p = argparse.ArgumentParser()
for a in ("portfile", "events", "cert", "key", "user", "password"):
    p.add_argument(a)
p.add_argument("--stall", default="")
p.add_argument("--stall-seconds", type=float, default=4.0)
p.add_argument("--idle-close", type=float, default=0.0)
args = p.parse_args()

lock = threading.Lock()
counter = [0]


def record(**ev):
    ev["t"] = time.time()
    with lock:
        with open(args.events, "a") as f:
            f.write(json.dumps(ev) + "\n")


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.cert, args.key)


def serve(sock, conn_id):
    record(event="connect", conn=conn_id)
    f = sock.makefile("rb")
    tls = False
    authed = False
    transactions = 0
    in_tx = False

    def send(line):
        sock.sendall((line + "\r\n").encode())

    def stall(stage):
        if args.stall == stage and transactions >= 1:
            record(event="stall", conn=conn_id, stage=stage)
            time.sleep(args.stall_seconds)

    send("220 share.test ESMTP test")
    try:
        while True:
            if args.idle_close and not in_tx:
                sock.settimeout(args.idle_close)
            else:
                sock.settimeout(60)
            try:
                raw = f.readline()
            except (socket.timeout, TimeoutError):
                send("421 4.4.2 share.test idle too long, closing")
                record(event="idle_close", conn=conn_id)
                break
            if not raw:
                break
            line = raw.decode(errors="replace").rstrip("\r\n")
            cmd = line.split(" ", 1)[0].upper()
            if cmd in ("EHLO", "HELO"):
                caps = ["250-share.test", "250-PIPELINING", "250-8BITMIME", "250-SIZE 10000000"]
                if not tls:
                    caps.append("250-STARTTLS")
                else:
                    caps.append("250-AUTH PLAIN")
                caps.append("250 ENHANCEDSTATUSCODES")
                sock.sendall(("\r\n".join(caps) + "\r\n").encode())
            elif cmd == "STARTTLS":
                send("220 2.0.0 go ahead")
                sock = ctx.wrap_socket(sock, server_side=True)
                f = sock.makefile("rb")
                tls = True
            elif cmd == "AUTH":
                parts = line.split()
                resp = parts[2] if len(parts) > 2 else None
                if resp is None:
                    send("334 ")
                    resp = f.readline().decode().strip()
                try:
                    _, u, pw = base64.b64decode(resp).split(b"\0")
                except Exception:
                    send("501 5.5.2 bad")
                    continue
                if u.decode() == args.user and pw.decode() == args.password:
                    authed = True
                    record(event="auth", conn=conn_id, user=u.decode())
                    send("235 2.7.0 ok")
                else:
                    record(event="auth_refused", conn=conn_id)
                    send("535 5.7.8 bad credentials")
            elif cmd == "RSET":
                stall("rset")
                in_tx = False
                send("250 2.0.0 reset")
            elif cmd == "MAIL":
                stall("mail")
                if not authed:
                    send("530 5.7.0 auth first")
                    continue
                in_tx = True
                send("250 2.1.0 ok")
            elif cmd == "RCPT":
                stall("rcpt")
                send("250 2.1.5 ok")
            elif cmd == "DATA":
                stall("data")
                send("354 go")
                body = []
                while True:
                    b = f.readline()
                    if not b:
                        record(event="data_aborted", conn=conn_id)
                        return
                    if b in (b".\r\n", b".\n"):
                        break
                    body.append(b)
                digest = hashlib.sha256(b"".join(body)).hexdigest()
                # Committed here: a real server has queued it before its 250.
                record(event="message", conn=conn_id, sha=digest, tx=transactions + 1)
                stall("dot")
                transactions += 1
                in_tx = False
                send("250 2.0.0 queued as T%d-%d" % (conn_id, transactions))
            elif cmd == "QUIT":
                send("221 2.0.0 bye")
                record(event="quit", conn=conn_id)
                break
            elif cmd == "NOOP":
                send("250 ok")
            else:
                send("502 5.5.1 unknown")
    except (OSError, ssl.SSLError) as e:
        record(event="error", conn=conn_id, error=str(e))
    finally:
        record(event="close", conn=conn_id, transactions=transactions)
        try:
            sock.close()
        except OSError:
            pass


lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", 0))
lsock.listen(64)
with open(args.portfile + ".tmp", "w") as pf:
    pf.write(str(lsock.getsockname()[1]))
import os
os.rename(args.portfile + ".tmp", args.portfile)
while True:
    s, _ = lsock.accept()
    counter[0] += 1
    threading.Thread(target=serve, args=(s, counter[0]), daemon=True).start()
