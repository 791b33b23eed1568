#!/usr/bin/env python3
"""Oracle test for the 8-bit -> quoted-printable downgrade: Postfix's own
smtp(8) against authrelay, the same messages, the same recording server.

Each message goes once through a throwaway Postfix instance (sendmail -C)
to three smtp(8) services:
  raw8  - a server that offers 8BITMIME (smtp_line_length_limit = 0, so
          what it records is the queue file's content as smtp(8) reads it);
  conv7 - a server without 8BITMIME (smtp(8) downgrades);
  off7  - the same server with disable_mime_output_conversion = yes.
What raw8 recorded (un-dot-stuffed, LF line ends) is then what pipe(8)
would hand authrelay: authrelay delivers it to the same three servers and
the DATA bytes must be byte-equal to smtp(8)'s. MAIL FROM must agree on
SIZE (present or not) and on BODY=, except for the one deliberate
difference docs/DESIGN.md explains: authrelay cannot see the queue file's
encoding, so a server that offers 8BITMIME always gets BODY=8BITMIME.

Besides the table of hand-written messages, AUTHRELAY_MIME_N (40) random
messages are generated from AUTHRELAY_MIME_SEED (20261130).

Usage: mime_oracle.py AUTHRELAY_BINARY [PORT_BASE]   (ports PORT_BASE+1, +2)
Exit 0: every comparison equal. Anything else prints what differs.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1]
BASE = int(sys.argv[2]) if len(sys.argv) > 2 else 21000
P7, P8 = BASE + 1, BASE + 2
HERE = os.path.dirname(os.path.abspath(__file__))
RUNAS = "authrelay-test"
SENDER = "sender@mime.test"


def msg(text):
    return text.encode("latin-1")


U = "Gr\u00fc\u00dfe \u00e4\u00f6\u00fc \u00c4\u00d6\u00dc"  # 8-bit in Latin-1
LONG = ("0123456789" * 110) + "\u00e9 end"  # > 998 bytes, 8-bit at the end
CASES = {
    # A leaf text part that says 8bit: '=' signs, trailing space and TAB,
    # control characters, a line of exactly 73 and 76 characters, a dot
    # line, a very long line, empty lines, a line starting "From ".
    "single": msg(
        "Subject: single part\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        f"{U}\n= equals = and =3D\ntrailing space \ntrailing tab\t\n\n.\n..two dots\n.{U}\n"
        "From the start\n" + "a" * 73 + "\n" + "b" * 76 + "\n" + "c" * 72 + "\u00e9\n"
        + "d" * 72 + " \n" + LONG + "\n" + ("x" * 999 + "\u00fc") * 5 + "\nbell\x07 and esc\x1b and del\x7f\nlast line without 8 bits\n"),
    # multipart/mixed: 8bit text, 8bit application (also quoted-printable),
    # base64 and quoted-printable parts left alone, a part with no CTE that
    # still carries 8-bit bytes (sent as is), 8-bit preamble and epilogue,
    # and a nested multipart/alternative.
    "multipart": msg(
        "Subject: multipart\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed;\n\tboundary=\"outer=_b\"\nContent-Transfer-Encoding: 8bit\n\n"
        f"preamble {U}\n--outer=_b\nContent-Type: text/plain; charset=iso-8859-1\n"
        f"Content-Transfer-Encoding: 8bit\n\n{U} one\n--outer=_b\n"
        f"Content-Type: application/octet-stream\nContent-Transfer-Encoding: 8bit\n\n\x01\x02{U}\xff\n"
        "--outer=_b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\nR3LDvMOfZQ==\n"
        "--outer=_b\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe =\nsoft\n"
        f"--outer=_b\nContent-Type: text/plain\n\nno CTE but {U}\n"
        "--outer=_b\nContent-Type: multipart/alternative; boundary=inner\n\n"
        "--inner\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n"
        f"inner {U} =\n--inner\nContent-Type: text/html\nContent-Transfer-Encoding: 8BIT\n\n<p>{U}</p>\n"
        f"--inner--\ninner epilogue {U}\n--outer=_b--\nepilogue {U}\n"),
    # message/rfc822 that says 8bit, with an 8bit body of its own and a
    # nested multipart inside it.
    "rfc822": msg(
        "Subject: forward\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B1\n\n"
        "--B1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nsee below "
        f"{U}\n--B1\nContent-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\n"
        f"Subject: inner {U}\nMIME-Version: 1.0\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n"
        f"inner body {U}\n--B1\nContent-Type: message/rfc822\n\n"
        "Subject: nested multipart\nContent-Type: multipart/mixed; boundary=B2\n\n--B2\n"
        f"Content-Transfer-Encoding: binary\n\nbinary {U}\n--B2--\n--B1--\n"),
    # Not MIME at all: 8-bit body, no MIME headers. smtp(8) sends it as is.
    "plain8": msg(f"Subject: no mime\n\nplain {U}\n= trailing \n"),
    # 8-bit headers with an 8bit body: headers are never converted.
    "header8": msg(
        f"Subject: {U}\nX-Folded: first\n\tsecond {U}\nMIME-Version: 1.0\n"
        f"Content-Transfer-Encoding : 8bit\nX-After: after\n\nbody {U}\n"),
    # Boundary edge cases: a boundary that is a prefix of another, trailing
    # junk after the delimiter, a comment in Content-Type, a missing final
    # delimiter, CTE folded, in upper case, and given twice.
    "boundaries": msg(
        "Subject: boundaries\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed (comment); boundary=\"ab\"; x=y\n\n"
        "--abc not ours\n--ab trailing junk\nContent-Type: text/plain\nContent-Transfer-Encoding:\n 8bit\n\n"
        f"first {U}\n--abc still the first part {U}\n--ab\nContent-Transfer-Encoding: 7bit\n"
        f"Content-Transfer-Encoding: 8bit\n\ntwice {U}\n--ab\nContent-Type: multipart/digest; boundary=d\n\n"
        "--d\n\nSubject: digest part\nContent-Transfer-Encoding: 8bit\n\n"
        f"digest {U}\n--d\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n{U}\n--ab--\n"),
    # message/partial and headers only.
    "partial": msg(
        "Subject: partial\nMIME-Version: 1.0\nContent-Type: message/partial; id=x; number=1\n"
        f"Content-Transfer-Encoding: 8bit\n\nSubject: not parsed\n\n{U}\n"),
    "headers_only": msg("Subject: headers only\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n"),
    # A header block that ends without an empty line, and a bare CR inside
    # an 8bit part (quoted-printable writes it =0D).
    # An empty boundary: every line that starts with "--" and more is a
    # delimiter. A Content-Type header longer than a queue file record
    # (2048 bytes) with the boundary at its end.
    "empty_boundary": msg(
        "Subject: empty boundary\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"\"\n\n"
        f"--x\nContent-Transfer-Encoding: 8bit\n\n{U}\n--\n{U}\n---\n\n{U}\n"),
    "long_header": msg(
        "Subject: long header\nMIME-Version: 1.0\nContent-Type: multipart/mixed; x=\"" + "y" * 3000
        + "\"; boundary=lh\n\n--lh\nContent-Transfer-Encoding: 8bit\n\n"
        f"{U}\n--lh--\n"),
    # Deeper than mime_nesting_limit (100): smtp(8) refuses it (5.6.0) when it
    # would convert, and sends it when it would not.
    "nesting": msg("Subject: deep\nMIME-Version: 1.0\n" + "".join(
        f"Content-Type: multipart/mixed; boundary=n{i}\n\n--n{i}\n" for i in range(103)) + f"\n{U}\n"),
    # One level shallower: smtp(8) still sends it (it refuses only beyond
    # mime_nesting_limit + 2 levels).
    "nesting_102": msg("Subject: deep\nMIME-Version: 1.0\n" + "".join(
        f"Content-Type: multipart/mixed; boundary=n{i}\n\n--n{i}\n" for i in range(102))
        + f"Content-Transfer-Encoding: 8bit\n\n{U}\n"),
    # message/global may be encoded: smtp(8) makes it a quoted-printable leaf.
    "message_global": msg("Subject: global\nMIME-Version: 1.0\nContent-Type: message/global\n"
                          f"Content-Transfer-Encoding: 8bit\n\nSubject: {U}\nContent-Transfer-Encoding: 8bit\n\n{U}\n"),
    "no_blank": msg(f"Subject: no blank\nContent-Transfer-Encoding: 8bit\n{U} body\nCR\rinside\n"),
}


def big_message(megabytes=50):
    """A 50 MB 8bit text message (as the bench's), 8-bit bytes on most lines."""
    import random
    r = random.Random(20261130)
    block = []
    for _ in range(1000):
        words = ["".join(r.choice("abcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00fc\u00df=")
                         for _ in range(r.randint(1, 12))) for _ in range(r.randint(0, 14))]
        block.append(" ".join(words) + r.choice(["", " ", "\t"]))
    body = ("\n".join(block) + "\n").encode("latin-1")
    head = msg("Subject: big\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
               "Content-Transfer-Encoding: 8bit\n\n")
    return head + body * (megabytes * 1000000 // len(body) + 1)


CASES["big"] = big_message()


class Generator:
    """Random MIME messages from a seed: nested multipart, message/rfc822,
    every Content-Transfer-Encoding spelling, boundary quirks, folded and
    obsolete-form headers, 8-bit bytes, '=', white space, dots, control
    characters and long lines. No CR and no NUL: a bare CR outside a
    converted part is DataEncoder's business (it ends the line), not the
    converter's."""

    TYPES = ["text/plain", "text/html; charset=utf-8", "application/octet-stream", "image/x-y",
             "message/rfc822", "message/partial; id=p", "multipart/mixed", "multipart/alternative",
             "multipart/digest", "TEXT/Plain", "multipart/related (c)", "", "; x=y", "multipart",
             "message", "\"text\"/plain"]
    CTES = [None, None, "7bit", "8bit", "8BIT", "binary", "base64", "quoted-printable", "x-custom",
            "(c) 8bit", "\"8bit\"", "", "8bit; x", "bin ary"]
    BYTES = (list(b"abcdefxyz ABC0129") * 3 + list(b"=\t.-:;\"<>") + list(range(0x80, 0x100, 7))
             + [1, 7, 0x1b, 0x7f, 0x0c])

    def __init__(self, seed):
        import random
        self.r = random.Random(seed)
        self.n = 0

    def line(self):
        r = self.r
        n = r.choice([0, 1, 3, 10, 40, 71, 72, 73, 74, 75, 76, 77, 90, 200, 1100, 2100, 2500])
        b = bytes(r.choice(self.BYTES) for _ in range(n))
        if r.random() < 0.1:
            b = b"." + b
        if r.random() < 0.1:
            b = b + r.choice([b" ", b"\t", b"  "])
        return b

    def boundary(self):
        self.n += 1
        return self.r.choice(["b", "=_x", "a.b", "q q", "x" * 80, "--", "pre"]) + str(self.n)

    def headers(self, depth):
        r = self.r
        out, ctype, bnd = [], r.choice(self.TYPES), None
        if depth > 3 and ctype.startswith("multipart"):
            ctype = "text/plain"
        if ctype.startswith("multipart"):
            bnd = self.boundary()
            quoted = r.random() < 0.5 or " " in bnd
            param = f'boundary="{bnd}"' if quoted else f"boundary={bnd}"
            sep = r.choice(["; ", ";\n\t", " ;\n "])
            ctype += sep + param
        fields = []
        if r.random() < 0.85:
            fields.append(("Content-Type", ctype))
        cte = r.choice(self.CTES)
        if cte is not None:
            fields.append(("Content-Transfer-Encoding", cte))
            if r.random() < 0.1:
                fields.append(("Content-Transfer-Encoding", r.choice(self.CTES[2:])))
        if r.random() < 0.5:
            fields.append(("X-Note", "n\u00e4" + "=" * r.randint(0, 3)))
        r.shuffle(fields)
        for name, value in fields:
            colon = r.choice([": ", ":", " : ", ":\n "])
            out.append(f"{name}{colon}{value}".encode("latin-1"))
        return out, ctype if any(f[0] == "Content-Type" for f in fields) else "text/plain", bnd

    def entity(self, depth):
        r = self.r
        head, ctype, bnd = self.headers(depth)
        lines = head + ([b""] if r.random() < 0.95 else [])
        if bnd is not None:
            lines += [self.line() for _ in range(r.randint(0, 2))]
            for _ in range(r.randint(0, 3)):
                lines.append(b"--" + bnd.encode() + r.choice([b"", b"", b" junk", b"  "]))
                lines += self.entity(depth + 1)
            if r.random() < 0.85:
                lines.append(b"--" + bnd.encode() + b"--")
            lines += [self.line() for _ in range(r.randint(0, 2))]
        elif ctype.lower().startswith("message/rfc822"):
            lines += self.entity(depth + 1)
        else:
            lines += [self.line() for _ in range(r.randint(0, 6))]
        return lines

    def message(self):
        lines = [b"Subject: generated", b"MIME-Version: 1.0"] + self.entity(0)
        return b"\n".join(lines) + b"\n"


GENERATED_SEED = int(os.environ.get("AUTHRELAY_MIME_SEED", "20261130"))
GENERATED_N = int(os.environ.get("AUTHRELAY_MIME_N", "40"))
_gen = Generator(GENERATED_SEED)
for _i in range(GENERATED_N):
    CASES[f"gen{_i:03d}"] = _gen.message()

# Peak RSS allowed to authrelay converting the 50 MB message: the converter
# streams, so this stays near the program's own size.
BIG_RSS_LIMIT_KIB = 32 * 1024


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


class World:
    def __init__(self):
        self.d = tempfile.mkdtemp(prefix="authrelay-mime.")
        os.chmod(self.d, 0o755)
        self.procs, self.postfix = [], False
        self.peak_rss_kib = {}

    def setup(self):
        d = self.d
        if subprocess.run(["getent", "passwd", RUNAS], capture_output=True).returncode:
            sh("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
               "--shell", "/usr/sbin/nologin", RUNAS)
        self.sink = subprocess.Popen([sys.executable, f"{HERE}/sink.py", f"{d}/records.jsonl", f"{d}/ready",
                                      f"{P7}:7BIT", f"{P8}:8BIT"], stderr=open(f"{d}/sink.err", "w"))
        self.procs.append(self.sink)
        for _ in range(100):
            if os.path.exists(f"{d}/ready"):
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"FAIL: the recording server did not start: {open(f'{d}/sink.err').read()}")
        pf = self.pf = f"{d}/postfix"
        os.makedirs(f"{pf}/queue")
        os.makedirs(f"{pf}/data")
        os.makedirs(f"{d}/log")
        shutil.copy("/etc/postfix/master.cf", f"{pf}/master.cf")
        sh("chown", f"{RUNAS}:{RUNAS}", f"{d}/log")
        with open(f"{pf}/main.cf", "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {pf}/queue
data_directory = {pf}/data
mail_owner = postfix
setgid_group = postdrop
inet_protocols = ipv4
inet_interfaces = 127.0.0.1
mydestination =
alias_maps =
alias_database =
biff = no
myhostname = relay.mime.test
maillog_file_prefixes = {pf}
maillog_file = {pf}/maillog
syslog_name = mimeoracle
message_size_limit = 200000000
queue_run_delay = 3600s
minimal_backoff_time = 3600s
maximal_backoff_time = 4000s
max_idle = 2s
transport_maps = texthash:{pf}/transport
smtp_tls_security_level = none
smtputf8_enable = no
smtp_connection_cache_on_demand = no
authrelay_log_file = {d}/log/authrelay.log
authrelay_time_limit = 60s
""")
        with open(f"{pf}/transport", "w") as f:
            f.write(f"raw8.test raw8:[127.0.0.1]:{P8}\nconv7.test conv7:[127.0.0.1]:{P7}\n"
                    f"off7.test off7:[127.0.0.1]:{P7}\n")
        with open(f"{pf}/master.cf", "a") as f:
            f.write("raw8 unix - - n - - smtp -o smtp_line_length_limit=0\n"
                    "conv7 unix - - n - - smtp\n"
                    "off7 unix - - n - - smtp -o disable_mime_output_conversion=yes\n")
        sh("postconf", "-c", pf, "-F", "*/*/chroot = n")
        sh("postconf", "-c", pf, "-MX", "smtp/inet")
        sh("chown", "-R", "root:root", pf)
        sh("chown", "postfix:postfix", f"{pf}/data")
        os.chmod(pf, 0o755)

    def records(self):
        try:
            with open(f"{self.d}/records.jsonl") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def run_postfix(self):
        sh("postfix", "-c", self.pf, "start", capture_output=True)
        self.postfix = True
        for name, body in CASES.items():
            rcpts = [f"{name}@raw8.test", f"{name}@conv7.test", f"{name}@off7.test"]
            sh("sendmail", "-i", "-C", self.pf, "-f", SENDER, *rcpts, input=body)
        want = {f"{name}@{service}.test" for name in CASES for service in ("raw8", "conv7", "off7")}
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with open(f"{self.pf}/maillog", errors="replace") as f:
                    done = set(re.findall(r"to=<([^>]+)>,.* status=(?:sent|bounced)", f.read()))
            except FileNotFoundError:
                done = set()
            if want <= done:
                break
            time.sleep(0.2)
        subprocess.run(["postfix", "-c", self.pf, "stop"], capture_output=True, timeout=60)
        self.postfix = False
        got = {}
        for r in self.records():
            m = re.search(r"<([^@]+)@(\w+)\.test>", r["rcpts"][0])
            got[(m.group(1), m.group(2))] = r
        return got

    def pf_status(self, rcpt):
        """smtp(8)'s verdict for one recipient from the maillog: (dsn, text)."""
        pat = re.compile(r"to=<" + re.escape(rcpt) + r">,.* dsn=([\d.]+), status=\w+ \((.*)\)$")
        with open(f"{self.pf}/maillog", errors="replace") as f:
            for line in f:
                m = pat.search(line)
                if m:
                    return m.group(1), m.group(2)
        return None

    def run_authrelay(self, name, service, message):
        port = P8 if service == "raw8" else P7
        opts = ["-o", "disable_mime_output_conversion=yes"] if service == "off7" else []
        if service == "raw8":  # as the raw8 service: no line breaking
            opts = ["-o", "smtp_line_length_limit=0"]
        path = f"{self.d}/in-{name}"
        with open(path, "wb") as f:
            f.write(message)
        os.chmod(path, 0o644)
        before = len(self.records())
        cmd = ["setpriv", f"--reuid={RUNAS}", f"--regid={RUNAS}", "--clear-groups", "env", "-i",
               "PATH=/usr/bin:/bin", f"MAIL_CONFIG={self.pf}", "LANG=C", "timeout", "60",
               "/usr/bin/time", "-f", "%M", "-o", f"{self.d}/log/rss", BIN, *opts,
               f"--nexthop=[127.0.0.1]:{port}", f"--sender={SENDER}", f"--queue-id=M{name[:8]}",
               f"--size={len(message)}", "--", f"{name}@ar-{service}.test"]
        with open(path, "rb") as stdin:
            p = subprocess.run(cmd, stdin=stdin, capture_output=True, text=True)
        # time(1): authrelay's own peak RSS (its parent's would count this
        # script's memory, copied at fork).
        with open(f"{self.d}/log/rss") as f:
            self.peak_rss_kib[(name, service)] = int(f.read().split()[-1])
        if p.returncode != 0:
            return None, f"authrelay exit {p.returncode}: {p.stdout.strip()[:300]} {p.stderr.strip()[:300]}"
        for _ in range(50):
            recs = self.records()
            if len(recs) > before:
                return recs[-1], None
            time.sleep(0.05)
        return None, "authrelay exited 0 but the server recorded nothing"

    def teardown(self):
        if self.postfix:
            subprocess.run(["postfix", "-c", self.pf, "stop"], capture_output=True, timeout=60)
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        if os.environ.get("AUTHRELAY_KEEP"):
            print(f"kept {self.d}")
        else:
            shutil.rmtree(self.d, ignore_errors=True)


def data_of(record):
    with open(record["data"], "rb") as f:
        return f.read()


def unstuff(data):
    """Wire DATA bytes -> the message as pipe(8) would hand it over."""
    lines = data.split(b"\r\n")
    assert lines[-1] == b""
    return b"".join((l[1:] if l.startswith(b".") else l) + b"\n" for l in lines[:-1])


def params(mail):
    words = mail.split()[2:]
    return {"SIZE": any(w.upper().startswith("SIZE=") for w in words),
            "BODY": next((w.split("=", 1)[1].upper() for w in words if w.upper().startswith("BODY=")), None)}


def main():
    w = World()
    failures, checks = [], 0
    try:
        w.setup()
        pf = w.run_postfix()
        for name, original in CASES.items():
            raw = pf.get((name, "raw8"))
            if raw is None:
                failures.append(f"{name}: smtp(8) delivered nothing to the 8BITMIME server (see {w.pf}/maillog)")
                continue
            queued = unstuff(data_of(raw))
            for service in ("raw8", "conv7", "off7"):
                want = pf.get((name, service))
                if want is None:
                    # smtp(8) refused it: authrelay must refuse it the same way.
                    status = w.pf_status(f"{name}@{service}.test")
                    got, err = w.run_authrelay(name, service, queued)
                    checks += 1
                    if status is None or not status[0].startswith("5."):
                        failures.append(f"{name}/{service}: smtp(8) delivered nothing and bounced nothing")
                    elif got is not None or not err.startswith("authrelay exit 69") or status[0] not in err:
                        failures.append(f"{name}/{service}: smtp(8) bounced ({status[0]} {status[1]}); "
                                        f"authrelay: {err or 'delivered'}")
                    else:
                        print(f"{name}/{service}: refused by both, {status[0]} {status[1]}", flush=True)
                    continue
                got, err = w.run_authrelay(name, service, queued)
                checks += 1
                if err:
                    failures.append(f"{name}/{service}: {err}")
                    continue
                a, b = data_of(want), data_of(got)
                if a != b:
                    la, lb = a.split(b"\r\n"), b.split(b"\r\n")
                    i = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
                    failures.append(f"{name}/{service}: DATA differs at line {i + 1}: smtp(8) "
                                    f"{la[i] if i < len(la) else b'<end>'!r} authrelay "
                                    f"{lb[i] if i < len(lb) else b'<end>'!r}")
                pa, pb = params(want["mail"]), params(got["mail"])
                if service == "raw8":
                    # README deliberate difference body-8bitmime: authrelay declares
                    # BODY=8BITMIME whenever the server offers it.
                    pa["BODY"] = "8BITMIME"
                if pa != pb:
                    failures.append(f"{name}/{service}: MAIL FROM differs: smtp(8) {want['mail']!r} "
                                    f"authrelay {got['mail']!r}")
                converted = service == "conv7" and a != queued.replace(b"\n", b"\r\n")
                print(f"{name}/{service}: {len(a)} bytes, "
                      f"{'converted' if converted else 'as is'}, MAIL params {pb}", flush=True)
        rss = w.peak_rss_kib.get(("big", "conv7"))
        print(f"50 MB message converted: authrelay peak RSS {rss} KiB (limit {BIG_RSS_LIMIT_KIB}; "
              f"a small message: {w.peak_rss_kib.get(('single', 'conv7'))} KiB)")
        if rss is None or rss > BIG_RSS_LIMIT_KIB:
            failures.append(f"big/conv7: peak RSS {rss} KiB over {BIG_RSS_LIMIT_KIB} KiB: not streaming")
    finally:
        w.teardown()
    for f in failures:
        print("MISMATCH " + f)
    print(f"mime oracle: {checks} deliveries compared against smtp(8) ({len(CASES)} messages, "
          f"{GENERATED_N} generated from seed {GENERATED_SEED}), {len(failures)} mismatches")
    return 1 if failures or checks == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
