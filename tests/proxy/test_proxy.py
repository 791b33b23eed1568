#!/usr/bin/env python3
"""A test egress proxy: SOCKS5 (RFC 1928, user/password RFC 1929) or HTTP
CONNECT, on 127.0.0.1, threads relaying bytes both ways.

  test_proxy.py socks5|http [--user U --password P] [--resolve NAME=ADDR]...

Prints "PORT n PID p" once listening (the pid to end it by). Logs one line per request to stderr:
"CONNECT name:port atyp=domain" (SOCKS) / "CONNECT name:port" (HTTP), so a
test can see that the server's *name* reached the proxy. --resolve is the
proxy's own view of DNS (names not listed fail to resolve: unreachable)."""
import argparse
import base64
import os
import socket
import sys
import threading


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def relay(client, upstream):
    t = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    t.start()
    pump(client, upstream)
    t.join(5)
    client.close()
    upstream.close()


def open_upstream(args, host, port):
    """Returns (socket or None, SOCKS reply code)."""
    addr = args.resolve.get(host, host if host.replace(".", "").isdigit() else None)
    if addr is None:
        return None, 4  # host unreachable: the proxy cannot resolve it
    try:
        up = socket.create_connection((addr, port), timeout=5)
        up.settimeout(None)  # the timeout was for connecting; an SMTP session may idle
        return up, 0
    except ConnectionRefusedError:
        return None, 5
    except OSError:
        return None, 4


def socks5(args, c):
    ver, n = recv_exact(c, 2)
    methods = recv_exact(c, n)
    want = 2 if args.user else 0
    if ver != 5 or want not in methods:
        c.sendall(b"\x05\xff")
        return
    c.sendall(bytes([5, want]))
    if want == 2:
        _, ulen = recv_exact(c, 2)
        user = recv_exact(c, ulen).decode()
        plen = recv_exact(c, 1)[0]
        password = recv_exact(c, plen).decode()
        ok = user == args.user and password == args.password
        log("AUTH user=%s %s" % (user, "ok" if ok else "refused"))
        c.sendall(b"\x01\x00" if ok else b"\x01\x01")
        if not ok:
            return
    ver, cmd, _, atyp = recv_exact(c, 4)
    if atyp == 3:
        host = recv_exact(c, recv_exact(c, 1)[0]).decode()
        kind = "domain"
    elif atyp == 1:
        host = socket.inet_ntoa(recv_exact(c, 4))
        kind = "ipv4"
    else:
        host = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
        kind = "ipv6"
    port = int.from_bytes(recv_exact(c, 2), "big")
    log("CONNECT %s:%d atyp=%s" % (host, port, kind))
    if cmd != 1:
        c.sendall(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
        return
    up, rep = open_upstream(args, host, port)
    c.sendall(bytes([5, rep, 0, 1, 127, 0, 0, 1, 0, 0]))
    if up:
        relay(c, up)


def http(args, c):
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += recv_exact(c, 1)
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    log("CONNECT %s" % target)
    if method != "CONNECT":
        c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
        return
    if args.user:
        expect = "Basic " + base64.b64encode(("%s:%s" % (args.user, args.password)).encode()).decode()
        if headers.get("proxy-authorization") != expect:
            log("AUTH refused")
            c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\n\r\n")
            return
        log("AUTH ok")
    host, _, port = target.rpartition(":")
    up, rep = open_upstream(args, host.strip("[]"), int(port))
    if not up:
        c.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
        return
    c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    relay(c, up)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["socks5", "http"])
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--resolve", action="append", default=[])
    args = ap.parse_args()
    args.resolve = dict(r.split("=", 1) for r in args.resolve)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    print("PORT %d PID %d" % (srv.getsockname()[1], os.getpid()), flush=True)
    handler = socks5 if args.kind == "socks5" else http
    while True:
        c, _ = srv.accept()

        def serve(c=c):
            try:
                handler(args, c)
            except (OSError, ConnectionError, ValueError) as e:
                log("error: %s" % e)
            finally:
                try:
                    c.close()
                except OSError:
                    pass
        threading.Thread(target=serve, daemon=True).start()


if __name__ == "__main__":
    main()
