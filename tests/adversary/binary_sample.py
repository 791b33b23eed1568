#!/usr/bin/env python3
"""A bounded sample of protocol-fuzzer inputs through the real binary: each
input (tests/fuzz/session_fuzz.cc format: 4 policy bytes, then the server's
stream with 0xFF commands) is replayed by a socket server, one reply per
command we send, and the binary runs as pipe(8) runs it. Checked per run:
ends before authrelay_time_limit; exit 0 only when the server's reply to our
final dot was 2xx; exit 69 only after the server sent a 5xx; exactly one
status line, nothing on stderr; no secret form in status, stderr or log.

Usage: binary_sample.py PATH/TO/authrelay CORPUS_DIR [N] [SEED]   (as root)
"""
import base64, os, random, socket, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

BIN = os.path.realpath(sys.argv[1])
CORPUS = sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 24
SEED = int(sys.argv[4]) if len(sys.argv) > 4 else 20261130
LIMIT = 10
USER, PASSWORD = "fuzzuser", "bs-" + os.urandom(8).hex() + "-pw"


def secret_forms():
    blob = b"\0" + USER.encode() + b"\0" + PASSWORD.encode()
    forms = [PASSWORD, base64.b64encode(blob).decode()]
    for k in range(3):
        enc = base64.b64encode(b"x" * k + PASSWORD.encode()).decode()
        forms.append(enc[(8 * k + 5) // 6: 8 * (k + len(PASSWORD)) // 6])
    return forms


def replies(script):
    """Splits the stream into replies (up to a final line) and commands."""
    out, cur, i = [], b"", 0
    while i < len(script):
        if script[i] == 0xFF and i + 1 < len(script):
            if cur:
                out.append(cur); cur = b""
            out.append(("op", script[i + 1])); i += 2; continue
        nl = script.find(b"\n", i)
        end = len(script) if nl < 0 else nl + 1
        ff = script.find(b"\xff", i, end)
        if ff >= 0:
            end = ff
        line = script[i:end]; cur += line; i = end
        if line.endswith(b"\n") and (len(line) < 5 or line[3:4] != b"-"):
            out.append(cur); cur = b""
    if cur:
        out.append(cur)
    return out


def serve(listener, script, state, end):
    conn, _ = listener.accept()
    conn.settimeout(1)
    steps, buf, last, in_data = replies(script), b"", b"", False

    def send_next():
        while steps:
            s = steps.pop(0)
            if isinstance(s, tuple):
                op = s[1]
                if op == 1:  # stall: say nothing more, wait for the hang-up
                    state["stalled"] = True
                    return False
                if op == 2:
                    return None
                if op == 3:
                    s = b"535 5.7.8 you sent " + last + b"\r\n"
                elif op == 8:
                    tok = last.split(b" ")[-1]
                    try:
                        tok = base64.b64decode(tok, validate=True)
                    except Exception:
                        pass
                    s = b"554 5.7.0 " + base64.b64encode(b"x" + tok) + b"\r\n"
                else:
                    continue
            if state["dot"] and state["after_dot"] is None:
                state["after_dot"] = s[:3]
            if s[:1] == b"5":
                state["5xx"] = True
            conn.sendall(s)
            return True
        return None

    try:
        if send_next() is None:
            return
        while time.monotonic() < end:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.rstrip(b"\r")
                if in_data:
                    if line == b".":
                        in_data, state["dot"] = False, True
                    else:
                        continue
                else:
                    last = line
                    if line.upper().startswith(b"AUTH"):
                        state["auth"] = True
                r = None if state.get("stalled") else send_next()
                if r is None and not state.get("stalled"):
                    return
                if line == b"DATA" and r:
                    in_data = True  # approximate: the reply we sent may not be 354
    except OSError:
        pass
    finally:
        conn.close()


def run_one(work, path):
    data = open(path, "rb").read()
    if len(data) < 4:
        return None
    listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen(1)
    port = listener.getsockname()[1]
    state = {"dot": False, "after_dot": None, "5xx": False, "auth": False}
    t = threading.Thread(target=serve, args=(listener, data[4:], state, time.monotonic() + LIMIT * 2), daemon=True)
    t.start()
    start = time.monotonic()
    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "-i",
                        "PATH=/usr/bin:/bin", "MAIL_CONFIG=" + work, "LANG=C", work + "/authrelay", "-v",
                        "--nexthop=[127.0.0.1]:%d" % port, "--sender=sender@example.org", "--", "a@example.com"],
                       stdin=open(work + "/message", "rb"), capture_output=True, timeout=LIMIT * 3)
    took = time.monotonic() - start
    listener.close(); t.join(2)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    problems = []
    if took >= LIMIT:
        problems.append("ran %.1fs, limit %ds" % (took, LIMIT))
    if p.returncode == 0 and not (state["after_dot"] or b"").startswith(b"2"):
        problems.append("exit 0 without a 2xx to the final dot")
    if p.returncode == 69 and not state["5xx"]:
        problems.append("bounced without a 5xx")
    if p.returncode not in (0, 69, 75) or out.count("\n") != 1 or err:
        problems.append("exit %d, %d lines, stderr %r" % (p.returncode, out.count("\n"), err[:100]))
    for f in secret_forms():
        if f in out or f in err:
            problems.append("secret form in the status or stderr")
    return os.path.basename(path), took, p.returncode, out.strip(), problems


def main():
    os.sched_setaffinity(0, {0})
    work = tempfile.mkdtemp(prefix="authrelay-sample."); os.chmod(work, 0o755)
    subprocess.run(["install", "-m", "755", BIN, work + "/authrelay"], check=True)
    log = work + "/authrelay.log"
    with open(work + "/main.cf", "w") as f:
        f.write(f"myhostname = sample.test\nauthrelay_log_file = {log}\nauthrelay_time_limit = {LIMIT}s\n"
                f"smtp_tls_security_level = may\nsmtp_sasl_auth_enable = yes\n"
                f"smtp_sasl_password_maps = texthash:{work}/sasl_passwd\nsmtp_sasl_security_options = noanonymous\n"
                f"authrelay_allow_plaintext_auth = yes\n")
    with open(work + "/sasl_passwd", "w") as f:
        f.write(f"127.0.0.1 {USER}:{PASSWORD}\n")
    open(log, "w").close(); subprocess.run(["chown", "nobody", log], check=True)
    with open(work + "/message", "w") as f:
        f.write("Subject: sample\n\nbody\n")
    files = sorted(os.path.join(CORPUS, f) for f in os.listdir(CORPUS))
    random.Random(SEED).shuffle(files)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = [r for r in pool.map(lambda f: run_one(work, f), files[:N]) if r]
    logtext = open(log, errors="replace").read()
    leaks = [f for f in secret_forms() if f in logtext]
    bad = sum(1 for r in results if r[4]) + (1 if leaks else 0)
    for name, took, rc, out, problems in results:
        print(f"{name[:28]:<28} {took:5.2f}s exit {rc:3}  {out[:90]}" + ("  <-- " + "; ".join(problems) if problems else ""))
    if leaks:
        print("secret form in the log")
    if os.environ.get("AUTHRELAY_TEST_ARTIFACTS"):
        a = os.environ["AUTHRELAY_TEST_ARTIFACTS"]
        os.makedirs(a + "/secrets", exist_ok=True); os.makedirs(a + "/sample-%d" % os.getpid(), exist_ok=True)
        subprocess.run(["cp", log, a + "/sample-%d/" % os.getpid()])
        open(a + "/secrets/sample-%d" % os.getpid(), "w").write(PASSWORD + "\n")
    subprocess.run(["rm", "-rf", work])
    print(f"binary sample: {len(results)} runs, {bad} invariant failures, longest {max(r[1] for r in results):.2f}s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
