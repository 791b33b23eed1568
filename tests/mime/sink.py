#!/usr/bin/env python3
"""A recording SMTP server for the MIME downgrade oracle.

Usage: sink.py RECORDS.jsonl READY_FILE PORT:8BIT|PORT:7BIT ...

Listens on 127.0.0.1 at each port; a port marked 8BIT offers 8BITMIME in
its EHLO reply, a 7BIT port does not (and offers SIZE and PIPELINING only).
Every transaction that reaches the final dot is written as one JSON line:
the port, the MAIL FROM line as sent, the recipients, and the name of the
file (RECORDS.dataN) that holds the DATA bytes exactly as they came over
the wire (CRLF, dot-stuffing and all).
"""
import json
import socket
import sys
import threading

RECORDS, READY = sys.argv[1:3]
PORTS = {}
for arg in sys.argv[3:]:
    port, kind = arg.split(":")
    PORTS[int(port)] = kind == "8BIT"
count = 0
lock = threading.Lock()
out = open(RECORDS, "a", buffering=1)


def serve(conn, port):
    f = conn.makefile("rb")

    def send(line):
        conn.sendall(line.encode() + b"\r\n")

    send("220 sink.mime.test ESMTP")
    mail, rcpts = None, []
    try:
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.rstrip(b"\r\n").decode("latin-1")
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                words = ["sink.mime.test", "PIPELINING", "SIZE 200000000"]
                if PORTS[port]:
                    words.append("8BITMIME")
                for w in words[:-1]:
                    send("250-" + w)
                send("250 " + words[-1])
            elif verb == "MAIL":
                mail, rcpts = cmd, []
                send("250 2.1.0 ok")
            elif verb == "RCPT":
                rcpts.append(cmd)
                send("250 2.1.5 ok")
            elif verb == "DATA":
                send("354 go ahead")
                global count
                with lock:
                    count += 1
                    path = f"{RECORDS}.data{count}"
                with open(path, "wb") as data:
                    while True:
                        chunk = f.readline()
                        if not chunk:
                            return
                        if chunk == b".\r\n":
                            break
                        data.write(chunk)
                with lock:
                    out.write(json.dumps({"port": port, "mail": mail, "rcpts": rcpts, "data": path}) + "\n")
                send("250 2.0.0 queued")
            elif verb == "RSET":
                mail, rcpts = None, []
                send("250 2.0.0 ok")
            elif verb == "QUIT":
                send("221 2.0.0 bye")
                return
            else:
                send("250 2.0.0 ok")
    except OSError:
        pass
    finally:
        conn.close()


def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    return s


def accept_loop(s, port):
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, port), daemon=True).start()


socks = [(listen(p), p) for p in PORTS]
for s, p in socks:
    threading.Thread(target=accept_loop, args=(s, p), daemon=True).start()
open(READY, "w").close()
threading.Event().wait()
