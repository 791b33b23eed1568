#!/usr/bin/env python3
"""The recording SMTP server of the differential harness.

One process listens on one port per generated configuration (all addresses,
so that 127.0.0.1 and 127.0.0.2 are two MX hosts on the same port). Each
port has a profile: which certificate it serves, whether TLS is implicit,
whether STARTTLS is offered (and what it answers), which AUTH mechanisms it
offers before and after TLS, the highest TLS version it speaks, and whether
it asks for a client certificate, whether it offers 8BITMIME, and whether its
TLS is broken ("garbage": the client hello is answered with bytes that are not
TLS, so the client's handshake fails; "inject": a plaintext line follows the
220 to STARTTLS in the same packet, then the handshake goes on as usual). A port may instead carry one profile per local
address ("by_addr"; port 465, where every configuration needs the same port).
It accepts any credentials and any mail.

Per connection it writes one JSON line to the record file when the
connection ends: the port, the address the client connected to, the phase
(the harness switches phase by creating PHASE_FILE), the SNI the client sent,
the TLS version, whether the client went on after the handshake (so
accepted the certificate), whether the TLS session was resumed, the AUTH
mechanism the client used, whether MAIL and a complete DATA came, the MAIL
FROM BODY= parameter, the message as received (dot-stuffing undone), and
whether the client presented a certificate.

Usage: recording_server.py SPEC.json RECORDS.jsonl PHASE_FILE READY_FILE
"""
import base64
import json
import os
import selectors
import socket
import ssl
import sys
import threading
import time

SPEC, RECORDS, PHASE_FILE, READY_FILE = sys.argv[1:5]
with open(SPEC) as f:
    spec = json.load(f)
CERTDIR = spec["certdir"]
write_lock = threading.Lock()
open_count = 0  # connections not yet recorded; the harness waits for 0 before comparing
records = open(RECORDS, "a", buffering=1)

VERSIONS = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
            "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
contexts = {}


def context_for(profile):
    key = (profile["cert"], profile.get("max_tls", "TLSv1.3"), profile.get("client_cert", False))
    if key in contexts:
        return contexts[key]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that old protocols are the client's choice
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = VERSIONS[key[1]]
    ctx.load_cert_chain(os.path.join(CERTDIR, key[0] + ".pem"), os.path.join(CERTDIR, key[0] + ".key"))
    if key[2]:
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(os.path.join(CERTDIR, "ca.pem"))
    ctx.sni_callback = lambda s, n, c: setattr(s, "sni_seen", n) or None
    contexts[key] = ctx
    return ctx


class Conn:
    def __init__(self, sock, port, profile):
        self.raw = sock
        self.sock = sock
        self.port = port
        self.p = profile
        self.buf = b""
        self.rec = {"port": port, "dst": sock.getsockname()[0],
                    "phase": "B" if os.path.exists(PHASE_FILE) else "A", "t": time.time(),
                    "sni": None, "tls": None, "cert": None, "went_on": False, "auth": None,
                    "mail": False, "data": False, "client_cert": False, "plain_cmds": [], "tls_cmds": [],
                    "resumed": False, "body": None, "content": None}

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def readline_bytes(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def readline(self):
        return self.readline_bytes().decode("utf-8", "replace")

    def start_tls(self):
        if self.p.get("tls_broken") == "garbage":
            # A failed handshake: the client hello is answered with bytes that are not TLS.
            self.raw.recv(4096)
            self.raw.sendall(b"this is not a TLS server hello\r\n")
            self.rec["tls_error"] = "broken on purpose"
            raise EOFError
        ctx = context_for(self.p)
        self.rec["cert"] = self.p["cert"]
        s = ctx.wrap_socket(self.raw, server_side=True, do_handshake_on_connect=False)
        self.sock = s
        s.settimeout(12)
        try:
            s.do_handshake()
        except (ssl.SSLError, OSError) as e:
            self.rec["tls_error"] = str(e)[:120]
            self.rec["sni"] = getattr(s, "sni_seen", None)
            raise EOFError
        self.rec["sni"] = getattr(s, "sni_seen", None)
        self.rec["tls"] = s.version()
        self.rec["resumed"] = bool(s.session_reused)
        self.rec["client_cert"] = s.getpeercert(binary_form=True) is not None
        self.buf = b""

    def ehlo_reply(self):
        tls = self.rec["tls"] is not None
        lines = ["mx.test Hello", "PIPELINING"]
        if self.p.get("eightbitmime", True):
            lines.append("8BITMIME")
        if not tls and self.p.get("starttls"):
            lines.append("STARTTLS")
        mechs = self.p.get("auth_tls" if tls else "auth_plain", [])
        if mechs:
            lines.append("AUTH " + " ".join(mechs))
        for i, l in enumerate(lines):
            self.send(("250 " if i == len(lines) - 1 else "250-") + l)

    def run(self):
        try:
            if self.p.get("implicit"):
                self.start_tls()
            self.send("220 mx.test ESMTP recording server")
            while True:
                line = self.readline()
                cmd = line.split(" ", 1)[0].upper()
                if self.rec["tls"] is not None:
                    self.rec["went_on"] = self.rec["went_on"] or cmd != "QUIT"
                    self.rec["tls_cmds"].append(cmd)
                else:
                    self.rec["plain_cmds"].append(cmd)
                if cmd in ("EHLO", "HELO"):
                    self.ehlo_reply() if cmd == "EHLO" else self.send("250 mx.test")
                elif cmd == "STARTTLS" and self.p.get("starttls") and self.rec["tls"] is None:
                    code = self.p.get("starttls_reply", "220")
                    if code == "220" and self.p.get("tls_broken") == "inject":
                        self.sock.sendall(b"220 2.0.0 go ahead\r\n250 2.0.0 injected\r\n")
                        self.start_tls()
                    elif code == "220":
                        self.send("220 2.0.0 go ahead")
                        self.start_tls()
                    elif code == "421":
                        self.send("421 4.3.2 shutting down")
                        break
                    else:
                        self.send(code + " 4.7.0 TLS not available now")
                elif cmd == "AUTH":
                    self.auth(line)
                elif cmd == "MAIL":
                    self.rec["mail"] = True
                    for arg in line.split()[2:]:
                        if arg.upper().startswith("BODY="):
                            self.rec["body"] = arg[5:].upper()
                    self.send("250 2.1.0 ok")
                elif cmd == "RCPT":
                    self.send("250 2.1.5 ok")
                elif cmd == "DATA":
                    self.send("354 go on")
                    content = []
                    while True:
                        raw = self.readline_bytes()
                        if raw == b".":
                            break
                        content.append(raw[1:] if raw.startswith(b".") else raw)
                    # Bytes above 127 kept as \u00XX (latin-1), so that 8-bit data compares exactly.
                    self.rec["content"] = b"\n".join(content)[:20000].decode("latin-1")
                    self.rec["data"] = True
                    self.send("250 2.0.0 queued as RECORDED")
                elif cmd == "RSET" or cmd == "NOOP":
                    self.send("250 2.0.0 ok")
                elif cmd == "QUIT":
                    self.send("221 2.0.0 bye")
                    break
                else:
                    self.send("502 5.5.2 unknown command")
        except (EOFError, OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            with write_lock:
                records.write(json.dumps(self.rec) + "\n")
                global open_count
                open_count -= 1
                write_open_count()

    def auth(self, line):
        parts = line.split()
        mech = parts[1].upper() if len(parts) > 1 else ""
        offered = self.p.get("auth_tls" if self.rec["tls"] else "auth_plain", [])
        if mech not in offered:
            self.send("504 5.5.4 mechanism not available")
            return
        self.rec["auth"] = mech
        if mech == "PLAIN":
            if len(parts) < 3:
                self.send("334 ")
                self.readline()
        elif mech == "LOGIN":
            if len(parts) < 3:
                self.send("334 " + base64.b64encode(b"Username:").decode())
                self.readline()
            self.send("334 " + base64.b64encode(b"Password:").decode())
            self.readline()
        elif mech == "CRAM-MD5":
            self.send("334 " + base64.b64encode(b"<1.2@mx.test>").decode())
            self.readline()
        if self.p.get("auth_reply", "235") == "235":
            self.send("235 2.7.0 authenticated")
        else:
            self.send(self.p["auth_reply"] + " 5.7.8 authentication failed")


def write_open_count():
    with open(RECORDS + ".open.tmp", "w") as f:
        f.write(str(open_count))
    os.replace(RECORDS + ".open.tmp", RECORDS + ".open")


def main():
    global open_count
    sel = selectors.DefaultSelector()
    for port, profile in spec["ports"].items():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(port)))
        s.listen(64)
        sel.register(s, selectors.EVENT_READ, (int(port), profile))
    for profile in spec["ports"].values():
        for p in profile["by_addr"].values() if "by_addr" in profile else [profile]:
            context_for(p)
    open(READY_FILE, "w").close()
    while True:
        for key, _ in sel.select():
            try:
                c, _ = key.fileobj.accept()
            except OSError:
                continue
            c.settimeout(12)
            port, profile = key.data
            if "by_addr" in profile:
                profile = profile["by_addr"].get(c.getsockname()[0])
                if profile is None:
                    c.close()
                    continue
            with write_lock:
                open_count += 1
                write_open_count()
            threading.Thread(target=Conn(c, port, profile).run, daemon=True).start()


main()
