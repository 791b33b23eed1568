#!/usr/bin/env python3
"""Differential harness: Postfix's own smtp(8) is the oracle for every TLS and
SASL decision authrelay makes.

For each seeded configuration (main.cf overrides, an optional TLS policy map
entry, a next hop, and the behaviour of the server) the same recording SMTP
server (recording_server.py, one port per configuration) is offered first to
smtp(8) -- one master.cf service per configuration with -o overrides in one
throwaway Postfix instance -- and then to authrelay, run as pipe(8) runs it
(unprivileged, clean environment, MAIL_CONFIG = that instance, the same -o
overrides). Compared: delivered / deferred / bounced, and per connection the
address, TLS version, SNI, the certificate the client went on with, the AUTH
mechanism and whether mail went through.

authrelay differs from smtp(8) on purpose in a few places, listed in the
README's table of deliberate differences. Each one is an exclusion rule below
that carries the table row's name and turns the oracle's configuration (or,
where Postfix has no knob for it, the oracle's result) into what authrelay
promises; nothing else is excused.

Usage (as root): differential.py PATH/TO/authrelay [N] [--seed S] [--keep] [--only I,J]
  N defaults to $AUTHRELAY_DIFF_N or 300; the seed to $AUTHRELAY_DIFF_SEED or 15.
Prints one line: "differential: N configurations, M unexplained mismatches,
excluded deliberate differences: ..." and exits 1 on any unexplained mismatch.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNAS = "authrelay-test"
PORT_BASE = 22000          # this harness's own range: 22000-22999
CHUNK = min(900, int(os.environ.get("AUTHRELAY_DIFF_CHUNK", "900")))  # per Postfix instance and server
SENDER = "sender@diff.test"
CN_HOST = "mx.test"        # 127.0.0.1, the [name] next hop
MX_DOMAIN = "example.test"  # MX 10 mx1.example.test (127.0.0.2), MX 20 mx2.example.test (127.0.0.3)

# --- the deliberate differences (README, "Deliberate differences from smtp(8)") ---------------
# Each rule: name (the README row's name), when it applies to a configuration, and how it turns
# the oracle's configuration or result into authrelay's promise.
DELIBERATE = {}


def deliberate(name):
    def register(fn):
        DELIBERATE[name] = fn
        return fn
    return register


def unset(case, p):
    return p not in case["params"]


@deliberate("system-ca")
def _system_ca(case, oracle):
    # Empty smtp_tls_CAfile and smtp_tls_CApath: authrelay trusts the system store. The
    # namespace's system store holds only the test CA, so the oracle is given that file.
    if not case["params"].get("smtp_tls_CAfile") and not case["params"].get("smtp_tls_CApath"):
        oracle["smtp_tls_CAfile"] = "/etc/ssl/certs/ca-certificates.crt"
        return True
    return False


@deliberate("capath-file")
def _capath_file(case, oracle):
    # smtp_tls_CApath naming a file: authrelay uses it as a CA bundle.
    p = case["params"].get("smtp_tls_CApath", "")
    if p and os.path.isfile(p):
        oracle["smtp_tls_CAfile"] = p
        oracle["smtp_tls_CApath"] = ""
        return True
    return False


@deliberate("secure-default")
def _secure_default(case, oracle):
    # No TLS level configured: toward a next hop with credentials authrelay uses secure (and
    # smtp_use_tls / smtp_enforce_tls no longer count); otherwise may, unless smtp_use_tls or
    # smtp_enforce_tls say otherwise (Postfix 3.7 at compatibility level 3.6 would use none).
    if not unset(case, "smtp_tls_security_level"):
        return False
    if case["params"].get("smtp_sasl_auth_enable") == "yes":
        oracle["smtp_tls_security_level"] = "secure"
        oracle.pop("smtp_use_tls", None)
        oracle.pop("smtp_enforce_tls", None)
        return True
    if "smtp_use_tls" not in oracle and "smtp_enforce_tls" not in oracle:
        oracle["smtp_tls_security_level"] = "may"
        return True
    return False


@deliberate("ip-san-default")
def _ip_san_default(case, oracle):
    # Under secure-default's implicit secure, a server given by address must carry that address
    # as an IP SAN (the admin's names still count besides), which smtp(8) cannot check. In this
    # harness's world exactly one certificate carries 127.0.0.1, and its only DNS name is
    # IP_SAN_NAME: the oracle gets a policy entry for each address hop (unless the configuration
    # has one for it) that accepts that name besides the admin's.
    if not unset(case, "smtp_tls_security_level") or case["params"].get("smtp_sasl_auth_enable") != "yes":
        return False
    user_match = case["params"].get("smtp_tls_secure_cert_match")
    hit = False
    for hop in case["nexthop"].split(","):
        if re.fullmatch(r"\[[0-9.]+\]:\d+", hop) and not (case["policy"] or "").startswith(hop + " ") \
                and user_match != "":
            names = [n for n in re.split(r"[\s,:]+", user_match or "") if n] + [IP_SAN_NAME]
            case["oracle_policy"].append(f"{hop} secure match={':'.join(names)}")
            hit = True
    return hit


@deliberate("no-dane")
def _no_dane(case, oracle):
    # No DNSSEC lookups: dane is may.
    hit = False
    if oracle.get("smtp_tls_security_level") == "dane":
        oracle["smtp_tls_security_level"] = "may"
        hit = True
    pol = case["oracle_policy"]
    if pol and re.match(r"\S+ dane(\s|$)", pol[0]):
        pol[0] = re.sub(r"^(\S+) dane", r"\1 may", pol[0])
        hit = True
    return hit


@deliberate("sni-default")
def _sni_default(case, oracle):
    # smtp_tls_servername empty (its default): authrelay sends the server host name as SNI.
    # (A policy entry's servername= still wins over it, on both sides.)
    if not case["params"].get("smtp_tls_servername"):
        oracle["smtp_tls_servername"] = "hostname"
        return True
    return False


@deliberate("tls12-minimum")
def _tls12_minimum(case, oracle):
    # smtp_tls_(mandatory_)protocols not set, or set empty: TLS 1.2 at least.
    hit = False
    for p in ("smtp_tls_protocols", "smtp_tls_mandatory_protocols"):
        if not case["params"].get(p):
            oracle[p] = ">=TLSv1.2"
            hit = True
    return hit


RESULT_RULES = {}


def sni_address(case, result):
    # No SNI for a server given by address (an address is not a valid SNI name), where smtp(8)
    # told to use "hostname" (by the admin or by sni-default) sends the address.
    hit = False
    for c in result["conns"]:
        if c["sni"] and re.fullmatch(r"[0-9.]+", c["sni"]):
            c["sni"] = None
            hit = True
    return hit


RESULT_RULES["sni-address"] = sni_address


def no_plaintext_auth(case, result):
    # AUTH never goes over a plaintext session unless authrelay_allow_plaintext_auth = yes:
    # where smtp(8) authenticated in the clear, authrelay stops there and defers.
    if case["params"].get("authrelay_allow_plaintext_auth") == "yes":
        return False
    # authrelay then moves on as after any failure before MAIL (to the next host, where it
    # refuses the same way); smtp(8) had no reason to, so those later connections are checked
    # for AUTH in the clear and mail, and not compared further.
    for i, c in enumerate(result["conns"]):
        if c["auth"] and not c["tls"]:
            result["conns"] = result["conns"][:i] + [dict(c, auth=None, mail=False, data=False)]
            result["verdict"] = "deferred"
            result["cut"] = i + 1
            return True
    return False


RESULT_RULES["no-plaintext-auth"] = no_plaintext_auth
NOT_EXERCISED = ["implicit-465"]  # every configuration has its own port, never 465

# --- configurations ----------------------------------------------------------------------------
IP_SAN_NAME = "ipcert.test"
CERTS = {  # name: (subject CN, subjectAltName or None, how)
    "good": ("mx.test", "DNS:mx.test", "ca"),
    "wrong": ("other.test", "DNS:other.test", "ca"),
    "wild": ("*.example.test", "DNS:*.example.test", "ca"),
    "cnonly": ("mx.test", None, "ca"),
    "ipsan": (IP_SAN_NAME, f"DNS:{IP_SAN_NAME},IP:127.0.0.1", "ca"),
    "domain": ("example.test", "DNS:example.test", "ca"),
    "mxhost": ("mx1.example.test", "DNS:mx1.example.test,DNS:mx2.example.test", "ca"),
    "multi": ("mx.test", "DNS:mx.test,DNS:example.test,DNS:mx1.example.test", "ca"),
    "expired": ("mx.test", "DNS:mx.test", "expired"),
    "selfsigned": ("mx.test", "DNS:mx.test", "self"),
}
LEVELS = ["none", "may", "encrypt", "verify", "secure", "fingerprint", "dane"]
MATCH_MAIN = [None, "", "hostname", "nexthop", "dot-nexthop", "nexthop, dot-nexthop", "nexthop:dot-nexthop",
              "mx.test", ".test", "example.test", ".example.test", "hostname, nexthop", "other.test",
              "hostname:mx.test"]
MATCH_POLICY = ["", "hostname", "nexthop", "dot-nexthop", "nexthop:dot-nexthop", "mx.test", ".example.test",
                "example.test", "other.test", "hostname:nexthop"]
PROTOCOLS_MAIN = [None, ">=TLSv1.2", ">=TLSv1.3", "<=TLSv1.2", "TLSv1.3", "TLSv1.2", "!TLSv1.2",
                  "!SSLv2, !SSLv3", "!SSLv2:!SSLv3", "!TLSv1.3", "TLSv1.2 TLSv1.3", ">=TLSv1.1",
                  "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", ""]
PROTOCOLS_POLICY = ["!SSLv2:!SSLv3", ">=TLSv1.2", "TLSv1.3", "!TLSv1.2", "TLSv1.2:TLSv1.3", "<=TLSv1.2"]
SERVERNAMES = [None, "hostname", "nexthop", "sni.example", ""]
SASL_OPTIONS = [None, "noanonymous", "", "noplaintext", "noanonymous, noplaintext", "noactive"]
MECH_FILTERS = [None, "plain", "login", "!plain", "!plain, login", "cram-md5", "plain, login", "PLAIN",
                "static:plain", "static:login", "@FILE", "texthash:@TABLE", "", "!login, !cram-md5"]
AUTH_OFFERS = [[], ["PLAIN", "LOGIN"], ["PLAIN"], ["LOGIN"], ["CRAM-MD5", "PLAIN"], ["CRAM-MD5"],
               ["LOGIN", "PLAIN", "CRAM-MD5"]]


def pick(r, choices, weights=None):
    return r.choices(choices, weights=weights)[0]


def generate(i, seed, fingerprints, d):
    r = random.Random(f"{seed}-{i}")
    port = PORT_BASE + i % CHUNK
    params = {}
    server = {"cert": pick(r, list(CERTS)), "starttls": r.random() < 0.9,
              "starttls_reply": pick(r, ["220", "454", "421"], [18, 2, 1]),
              "auth_reply": pick(r, ["235", "535", "454"], [18, 2, 1]),
              "auth_plain": pick(r, AUTH_OFFERS, [4, 3, 1, 1, 1, 1, 1]),
              "auth_tls": pick(r, AUTH_OFFERS, [1, 4, 2, 1, 1, 1, 1]),
              "max_tls": pick(r, ["TLSv1.3", "TLSv1.2", "TLSv1.1"], [6, 3, 1]),
              "client_cert": r.random() < 0.15}
    form = pick(r, ["name", "addr", "mx", "list"], [6, 2, 2, 1])
    if form == "name":
        nexthop = f"[{CN_HOST}]:{port}"
    elif form == "addr":
        nexthop = f"[127.0.0.1]:{port}"
    elif form == "mx":
        nexthop = f"{MX_DOMAIN}:{port}"
        if server["cert"] in ("good", "cnonly"):
            server["cert"] = pick(r, ["wild", "domain", "mxhost", "multi"])
    else:
        nexthop = f"[{CN_HOST}]:{port},[127.0.0.1]:{port}"
    if r.random() < 0.1:
        params["smtp_tls_wrappermode"] = "yes"
        server["implicit"] = r.random() < 0.9
    if r.random() < 0.7:
        params["smtp_sasl_auth_enable"] = "yes"
        params["smtp_sasl_password_maps"] = f"texthash:{d}/sasl_passwd"
    if r.random() < 0.85:
        level = pick(r, LEVELS, [1, 3, 2, 3, 4, 2, 0.3])
        params["smtp_tls_security_level"] = level
    else:
        level = None
        if r.random() < 0.3:
            params[pick(r, ["smtp_use_tls", "smtp_enforce_tls"])] = "yes"
    ca = pick(r, ["file", "empty", "dir", "capath-file"], [14, 2, 2, 1])
    if ca == "file":
        params["smtp_tls_CAfile"] = f"{d}/certs/ca.pem"
    elif ca == "dir":
        params["smtp_tls_CApath"] = f"{d}/certs/capath"
    elif ca == "capath-file":
        params["smtp_tls_CApath"] = f"{d}/certs/ca.pem"
    m = pick(r, MATCH_MAIN)
    if m is not None:
        params[pick(r, ["smtp_tls_secure_cert_match", "smtp_tls_verify_cert_match"])] = m
    for p in ("smtp_tls_protocols", "smtp_tls_mandatory_protocols"):
        v = pick(r, PROTOCOLS_MAIN, [6] + [1] * (len(PROTOCOLS_MAIN) - 1))
        if v is not None:
            params[p] = v
    sn = pick(r, SERVERNAMES, [5, 2, 1, 1, 1])
    if sn is not None:
        params["smtp_tls_servername"] = sn
    fp_kind = None
    fp_note = ""
    if level == "fingerprint" or r.random() < 0.1:
        digest = pick(r, ["md5", "sha1", "sha256", None])
        if digest:
            params["smtp_tls_fingerprint_digest"] = digest
        use_digest = digest or "sha256"  # Postfix 3.7's default digest
        if r.random() < 0.2:
            use_digest = pick(r, ["md5", "sha1", "sha256"])
        fp_kind = pick(r, ["cert", "pkey", "other"])
        cert = server["cert"] if fp_kind != "other" else ("wrong" if server["cert"] != "wrong" else "good")
        fp = fingerprints[cert][("cert" if fp_kind == "other" else fp_kind, use_digest)]
        params["smtp_tls_fingerprint_cert_match"] = fp if r.random() < 0.7 else f"{fp}, 00:11:22"
        fp_note = f"main.cf fingerprint: {fp_kind} {use_digest} of {cert}"
    for p in ("smtp_sasl_security_options", "smtp_sasl_tls_security_options",
              "smtp_sasl_tls_verified_security_options"):
        v = pick(r, SASL_OPTIONS, [3, 4, 1, 1, 1, 1] if p == "smtp_sasl_security_options" else [6, 2, 1, 1, 1, 1])
        if v is not None:
            params[p] = v
    mf = pick(r, MECH_FILTERS, [6] + [1] * (len(MECH_FILTERS) - 1))
    if mf is not None:
        params["smtp_sasl_mechanism_filter"] = mf.replace("@FILE", f"{d}/mechs").replace("@TABLE", f"{d}/mechtable")
    if server["client_cert"] and r.random() < 0.7:
        params["smtp_tls_cert_file"] = f"{d}/certs/client.pem"
        params["smtp_tls_key_file"] = f"{d}/certs/client.key"
    if r.random() < 0.8:
        params["authrelay_allow_plaintext_auth"] = "yes"
    policy = None
    if r.random() < 0.3:
        plevel = pick(r, LEVELS, [1, 2, 2, 3, 4, 2, 0.3])
        attrs = []
        if plevel in ("verify", "secure", "encrypt", "may") and r.random() < 0.6:
            attrs.append("match=" + pick(r, MATCH_POLICY))
        if plevel == "fingerprint":
            dg = params.get("smtp_tls_fingerprint_digest", "sha256")
            fpk = pick(r, ["cert", "pkey"])
            attrs.append("match=" + fingerprints[server["cert"]][(fpk, dg)])
            fp_note += f" policy fingerprint: {fpk} {dg} of {server['cert']}"
        if r.random() < 0.3:
            attrs.append("protocols=" + pick(r, PROTOCOLS_POLICY))
        if r.random() < 0.3:
            attrs.append("servername=" + pick(r, ["hostname", "nexthop", "sni.example"]))
        key = nexthop.split(",")[0] if r.random() < 0.8 else pick(r, [CN_HOST, MX_DOMAIN, "[127.0.0.1]"])
        policy = f"{key} {' '.join([plevel] + attrs)}"
    return {"i": i, "seed": seed, "port": port, "nexthop": nexthop, "params": params, "policy": policy,
            "server": server, "fp_note": fp_note.strip(), "dir": d}


# To show that an exclusion is load-bearing: AUTHRELAY_DIFF_WITHOUT=sni-default,... turns rules
# off (more mismatches, never fewer).
WITHOUT = set(filter(None, os.environ.get("AUTHRELAY_DIFF_WITHOUT", "").split(",")))


def oracle_config(case):
    oracle = {k: v for k, v in case["params"].items() if not k.startswith("authrelay_")}
    original = [case["policy"]] if case["policy"] else []
    case["oracle_policy"] = list(original)
    applied = [name for name, rule in DELIBERATE.items() if name not in WITHOUT and rule(case, oracle)]
    if case["oracle_policy"] != original:
        path = f"{case['dir']}/policy/c{case['i']}.oracle"
        with open(path, "w") as f:
            f.write("\n".join(case["oracle_policy"]) + "\n")
        os.chmod(path, 0o644)
        oracle["smtp_tls_policy_maps"] = f"texthash:{path}"
    return oracle, applied


# --- the world: certificates, namespace, DNS, server, Postfix ----------------------------------
def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def make_certs(d):
    c = f"{d}/certs"
    os.makedirs(f"{c}/capath")
    os.makedirs(f"{c}/ca-db")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sh("openssl", "req", "-x509", *key, "-days", "2", "-subj", "/CN=authrelay differential CA",
       "-keyout", f"{c}/ca.key", "-out", f"{c}/ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    open(f"{c}/ca-db/index.txt", "w").close()
    with open(f"{c}/ca-db/serial", "w") as f:
        f.write("1000\n")
    with open(f"{c}/ca.cnf", "w") as f:
        f.write(f"[ca]\ndefault_ca = t\n[t]\ndatabase = {c}/ca-db/index.txt\nserial = {c}/ca-db/serial\n"
                f"new_certs_dir = {c}/ca-db\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n"
                "unique_subject = no\n[any]\ncommonName = supplied\n")
    for name, (cn, san, how) in CERTS.items():
        ext = ["-addext", f"subjectAltName={san}"] if san else []
        if how == "self":
            sh("openssl", "req", "-x509", *key, "-days", "2", "-subj", f"/CN={cn}", *ext,
               "-keyout", f"{c}/{name}.key", "-out", f"{c}/{name}.pem")
            continue
        sh("openssl", "req", *key, "-subj", f"/CN={cn}", *ext, "-addext", "extendedKeyUsage=serverAuth",
           "-keyout", f"{c}/{name}.key", "-out", f"{c}/{name}.csr")
        dates = ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"] if how == "expired" else ["-days", "2"]
        sh("openssl", "ca", "-batch", "-notext", "-config", f"{c}/ca.cnf", "-cert", f"{c}/ca.pem",
           "-keyfile", f"{c}/ca.key", *dates, "-in", f"{c}/{name}.csr", "-out", f"{c}/{name}.pem")
    sh("openssl", "req", *key, "-subj", "/CN=relay-client.test", "-addext", "extendedKeyUsage=clientAuth",
       "-keyout", f"{c}/client.key", "-out", f"{c}/client.csr")
    sh("openssl", "ca", "-batch", "-notext", "-config", f"{c}/ca.cnf", "-cert", f"{c}/ca.pem",
       "-keyfile", f"{c}/ca.key", "-days", "2", "-in", f"{c}/client.csr", "-out", f"{c}/client.pem")
    shutil.copy(f"{c}/ca.pem", f"{c}/capath/ca.pem")
    h = sh("openssl", "x509", "-hash", "-noout", "-in", f"{c}/ca.pem").strip()
    os.symlink("ca.pem", f"{c}/capath/{h}.0")
    for f in os.listdir(c):
        os.chmod(f"{c}/{f}", 0o644 if not f.endswith(".key") else 0o640)
    sh("chgrp", RUNAS, f"{c}/client.key")
    fps = {}
    for name in CERTS:
        fps[name] = {}
        der = subprocess.run(["openssl", "x509", "-in", f"{c}/{name}.pem", "-outform", "DER"], check=True,
                             capture_output=True).stdout
        pub = subprocess.run(["openssl", "x509", "-in", f"{c}/{name}.pem", "-noout", "-pubkey"], check=True,
                             capture_output=True).stdout
        pubder = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, check=True,
                                capture_output=True).stdout
        for dg in ("md5", "sha1", "sha256"):
            for kind, blob in (("cert", der), ("pkey", pubder)):
                fps[name][(kind, dg)] = ":".join(f"{b:02X}" for b in hashlib.new(dg, blob).digest())
    return fps


class World:
    def __init__(self, args):
        self.args = args
        self.ns = f"authrelay-diff-{os.getpid()}"
        self.d = tempfile.mkdtemp(prefix="authrelay-diff.")
        os.chmod(self.d, 0o755)
        self.procs = []
        self.postfix = False

    def nsx(self, *a):
        return ["ip", "netns", "exec", self.ns, *a]

    def setup(self):
        d = self.d
        if subprocess.run(["getent", "passwd", RUNAS], capture_output=True).returncode:
            sh("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
               "--shell", "/usr/sbin/nologin", RUNAS)
        self.fps = make_certs(d)
        sh("ip", "netns", "add", self.ns)
        sh(*self.nsx("ip", "link", "set", "lo", "up"))
        etc = f"/etc/netns/{self.ns}"
        os.makedirs(f"{etc}/ssl/certs")
        with open(f"{etc}/hosts", "w") as f:
            f.write(f"127.0.0.1 localhost {CN_HOST}\n")
        with open(f"{etc}/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\n")
        shutil.copy("/etc/ssl/openssl.cnf", f"{etc}/ssl/openssl.cnf")
        shutil.copy(f"{d}/certs/ca.pem", f"{etc}/ssl/certs/ca-certificates.crt")
        self.procs.append(subprocess.Popen(self.nsx(
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--port=53",
            "--listen-address=127.0.0.1", "--bind-interfaces", "--user=root", f"--pid-file={d}/dnsmasq.pid",
            f"--log-facility={d}/dnsmasq.log", f"--mx-host={MX_DOMAIN},mx1.{MX_DOMAIN},10",
            f"--mx-host={MX_DOMAIN},mx2.{MX_DOMAIN},20", f"--host-record=mx1.{MX_DOMAIN},127.0.0.2",
            f"--host-record=mx2.{MX_DOMAIN},127.0.0.3", f"--host-record={CN_HOST},127.0.0.1",
            "--local=/test/")))
        self.password = "pw-" + os.urandom(6).hex() + "-Diff"
        with open(f"{d}/mechs", "w") as f:
            f.write("login\n")
        with open(f"{d}/mechtable", "w") as f:
            f.write("login ok\ncram-md5 ok\n")
        for f in ("mechs", "mechtable"):
            os.chmod(f"{d}/{f}", 0o644)
        os.makedirs(f"{d}/policy")
        os.chmod(f"{d}/policy", 0o755)

    def start_server(self, cases):
        d = self.d
        if getattr(self, "server", None) and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(10)
        spec = {"certdir": f"{d}/certs", "ports": {str(c["port"]): c["server"] for c in cases}}
        with open(f"{d}/server.json", "w") as f:
            json.dump(spec, f)
        for f in ("records.jsonl", "phaseB", "ready"):
            if os.path.exists(f"{d}/{f}"):
                os.unlink(f"{d}/{f}")
        p = subprocess.Popen(self.nsx(sys.executable, f"{HERE}/recording_server.py", f"{d}/server.json",
                                      f"{d}/records.jsonl", f"{d}/phaseB", f"{d}/ready"),
                             stderr=open(f"{d}/server.err", "a"))
        self.procs.append(p)
        self.server = p
        for _ in range(200):
            if os.path.exists(f"{d}/ready"):
                return p
            if p.poll() is not None:
                raise SystemExit("differential: the recording server did not start: " + open(f"{d}/server.err").read()[-500:])
            time.sleep(0.05)
        raise SystemExit("differential: the recording server did not start in 10s")

    def write_maps(self, cases):
        d = self.d
        keys = set()
        for c in cases:
            for hop in c["nexthop"].split(","):
                keys.add(hop)
        keys |= {f"mx1.{MX_DOMAIN}", f"mx2.{MX_DOMAIN}", MX_DOMAIN, CN_HOST, "[127.0.0.1]"}
        with open(f"{d}/sasl_passwd", "w") as f:
            for k in sorted(keys):
                f.write(f"{k} relayuser:{self.password}\n")
        sh("chgrp", RUNAS, f"{d}/sasl_passwd")
        os.chmod(f"{d}/sasl_passwd", 0o640)
        for c in cases:
            if c["policy"]:
                path = f"{d}/policy/c{c['i']}"
                with open(path, "w") as f:
                    f.write(c["policy"] + "\n")
                os.chmod(path, 0o644)
                c["params"]["smtp_tls_policy_maps"] = f"texthash:{path}"

    def make_postfix(self, cases, tag):
        d = self.d
        pf = f"{d}/postfix{tag}"
        os.makedirs(f"{pf}/queue")
        os.makedirs(f"{pf}/data")
        shutil.copy("/etc/postfix/master.cf", f"{pf}/master.cf")
        os.makedirs(f"{d}/log", exist_ok=True)
        os.makedirs(f"{d}/cache", exist_ok=True)
        sh("chown", f"{RUNAS}:{RUNAS}", f"{d}/log", f"{d}/cache")
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
append_dot_mydomain = no
myhostname = relay.diff.test
maillog_file_prefixes = {pf}
maillog_file = {pf}/maillog
syslog_name = diff
queue_run_delay = 3600s
minimal_backoff_time = 3600s
maximal_backoff_time = 4000s
default_process_limit = 60
max_use = 1
max_idle = 2s
transport_maps = texthash:{d}/transport
smtp_tls_loglevel = 1
smtp_connection_cache_on_demand = no
smtp_connect_timeout = 10s
smtp_helo_timeout = 10s
smtp_starttls_timeout = 10s
smtp_mail_timeout = 10s
smtp_rcpt_timeout = 10s
smtp_data_init_timeout = 10s
smtp_data_xfer_timeout = 10s
smtp_data_done_timeout = 10s
smtp_quit_timeout = 5s
authrelay_log_file = {d}/log/authrelay.log
authrelay_tls_session_cache = {d}/cache/tls_session_cache
authrelay_time_limit = 60s
""")
        with open(f"{d}/transport", "w") as f:
            for c in cases:
                f.write(f"c{c['i']}.test c{c['i']}:{c['nexthop']}\n")
        with open(f"{pf}/master.cf", "a") as f:
            for c in cases:
                opts = " ".join(f"-o {{ {k} = {v} }}" for k, v in c["oracle"].items())
                f.write(f"c{c['i']} unix - - n - - smtp -o syslog_name=diff/c{c['i']} {opts}\n")
        sh("postconf", "-c", pf, "-F", "*/*/chroot = n")
        sh("postconf", "-c", pf, "-MX", "smtp/inet")
        sh("chown", "-R", "root:root", pf)
        sh("chown", "postfix:postfix", f"{pf}/data")
        os.chmod(pf, 0o755)
        self.pf = pf

    def run_oracle(self, cases, batch=24, batch_timeout=60):
        # In batches: a few hundred smtp(8) processes at once swamp tlsmgr and postlogd.
        pf = self.pf
        sh(*self.nsx("postfix", "-c", pf, "start"))
        self.postfix = True
        msg = f"From: {SENDER}\nSubject: differential\n\nhello\n"
        got = {}
        # smtp(8) refusing its configuration exits at startup; the message then waits in the
        # queue (deferred) and nothing reaches the server.
        fatal_re = re.compile(r" diff/c(\d+)/smtp\[\d+\]: fatal: (.*)$")
        line_re = re.compile(r"to=<(r@c\d+\.test)>,.* dsn=([\d.]+), status=(sent|deferred|bounced) \((.*)\)$")
        offset = 0
        for start in range(0, len(cases), batch):
            part = cases[start:start + batch]
            want = {f"r@c{c['i']}.test" for c in part}
            subprocess.run(self.nsx("sendmail", "-i", "-C", pf, "-f", SENDER, *sorted(want)), input=msg,
                           text=True, check=True)
            deadline = time.time() + batch_timeout
            while time.time() < deadline and not want <= got.keys():
                time.sleep(0.2)
                try:
                    with open(f"{pf}/maillog", errors="replace") as f:
                        f.seek(offset)
                        chunk = f.read()
                except FileNotFoundError:
                    continue
                complete = chunk[:chunk.rfind("\n") + 1]
                offset += len(complete.encode())
                for line in complete.splitlines():
                    m = line_re.search(line)
                    if m and m.group(1) not in got:
                        got[m.group(1)] = (m.group(3), m.group(2), m.group(4))
                    m = fatal_re.search(line)
                    if m and f"r@c{m.group(1)}.test" not in got:
                        got[f"r@c{m.group(1)}.test"] = ("deferred", "fatal", m.group(2))
        subprocess.run(self.nsx("postfix", "-c", pf, "stop"), capture_output=True, timeout=60)
        self.postfix = False
        time.sleep(0.5)
        for c in cases:
            c["pf_status"] = got.get(f"r@c{c['i']}.test",
                                     ("pending", "", "no status line from smtp(8) within the time limit"))

    def run_authrelay(self, cases, jobs):
        open(f"{self.d}/phaseB", "w").close()
        msg = f"{self.d}/message"
        with open(msg, "w") as f:
            f.write(f"From: {SENDER}\nSubject: differential\n\nhello\n")
        os.chmod(msg, 0o644)

        def one(c):
            opts = []
            for k, v in c["params"].items():
                opts += ["-o", f"{k}={v}"]
            cmd = self.nsx("setpriv", f"--reuid={RUNAS}", f"--regid={RUNAS}", "--clear-groups", "env", "-i",
                           "PATH=/usr/bin:/bin", f"MAIL_CONFIG={self.pf}", "LANG=C", "timeout", "90",
                           self.args.binary, *opts, f"--nexthop={c['nexthop']}", f"--sender={SENDER}",
                           f"--queue-id=C{c['i']}", "--size=50", "--", f"r@c{c['i']}.test")
            with open(msg) as stdin:
                p = subprocess.run(cmd, stdin=stdin, capture_output=True, text=True)
            verdict = {0: "sent", 75: "deferred", 69: "bounced"}.get(p.returncode, f"exit {p.returncode}")
            c["ar_status"] = (verdict, p.stdout.strip()[:300] + (" / stderr: " + p.stderr.strip()[:200] if p.stderr.strip() else ""))
            c["ar_argv"] = opts

        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            list(ex.map(one, cases))
        time.sleep(0.5)

    def wait_quiet(self, timeout=20):
        # Every connection recorded: a client may hang up long after its verdict.
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if open(f"{self.d}/records.jsonl.open").read().strip() == "0":
                    return
            except FileNotFoundError:
                return
            time.sleep(0.2)

    def teardown(self):
        if self.postfix:
            subprocess.run(self.nsx("postfix", "-c", self.pf, "stop"), capture_output=True, timeout=60)
        # Whatever is left in the namespace (a Postfix that would not stop, a server, dnsmasq)
        # was started here: nothing outlives the run.
        left = subprocess.run(["ip", "netns", "pids", self.ns], capture_output=True, text=True).stdout.split()
        for pid in left:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        shutil.rmtree(f"/etc/netns/{self.ns}", ignore_errors=True)
        art = os.environ.get("AUTHRELAY_TEST_ARTIFACTS")
        if art and hasattr(self, "password"):
            dst = f"{art}/differential-{os.getpid()}"
            os.makedirs(f"{art}/secrets", exist_ok=True)
            os.makedirs(dst, exist_ok=True)
            for src in ("log/authrelay.log", "postfix0/maillog", "report.txt"):
                if os.path.exists(f"{self.d}/{src}"):
                    shutil.copy(f"{self.d}/{src}", f"{dst}/{os.path.basename(src)}")
            with open(f"{art}/secrets/differential-{os.getpid()}", "w") as f:
                f.write(self.password + "\n")
        if not self.args.keep:
            shutil.rmtree(self.d, ignore_errors=True)


# --- comparison ----------------------------------------------------------------------------------
def connections(records, port, phase):
    out = []
    for rec in sorted((r for r in records if r["port"] == port and r["phase"] == phase), key=lambda r: r["t"]):
        # A refused certificate shows as "no TLS session used", whether the client hung up
        # during the handshake (authrelay) or right after it (smtp(8)).
        out.append({"dst": rec["dst"], "tls": rec["tls"] if rec["went_on"] else None, "sni": rec["sni"],
                    "cert": rec["cert"] if rec["went_on"] else None, "auth": rec["auth"],
                    "mail": rec["mail"], "data": rec["data"], "client_cert": rec["client_cert"]})
    return out


def describe(result):
    parts = [result["verdict"]]
    for c in result["conns"]:
        bits = [c["dst"]]
        bits.append(c["tls"] or "no-tls")
        if c["sni"]:
            bits.append(f"sni={c['sni']}")
        if c["cert"]:
            bits.append(f"went on with cert {c['cert']}")
        if c["auth"]:
            bits.append(f"AUTH {c['auth']}")
        if c["client_cert"]:
            bits.append("client cert")
        if c["data"]:
            bits.append("DATA")
        parts.append("[" + " ".join(bits) + "]")
    return " ".join(parts)


def compare(case, records):
    pf = {"verdict": case["pf_status"][0], "conns": connections(records, case["port"], "A")}
    ar = {"verdict": case["ar_status"][0], "conns": connections(records, case["port"], "B")}
    expected = json.loads(json.dumps(pf))
    for name, rule in RESULT_RULES.items():
        if name not in WITHOUT and rule(case, expected) and name not in case["applied"]:
            case["applied"].append(name)
    cut = expected.pop("cut", None)
    if cut is not None:
        later = ar["conns"][cut:]
        if all(not (c["auth"] and not c["tls"]) and not c["mail"] for c in later):
            ar = dict(ar, conns=ar["conns"][:cut])
    case["pf"], case["ar"], case["expected"] = pf, ar, expected
    return expected == ar


def repro(case, args):
    return f"{sys.argv[0]} {args.binary_shown} {args.n} --seed {case['seed']} --only {case['i']}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("n", nargs="?", type=int, default=int(os.environ.get("AUTHRELAY_DIFF_N", "300")))
    ap.add_argument("--seed", default=os.environ.get("AUTHRELAY_DIFF_SEED", "15"))
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--report", help="write every mismatch here (stdout shows the first 40)")
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    if os.geteuid() != 0:
        raise SystemExit("differential: must run as root (network namespace, Postfix instance)")
    world = World(args)
    started = time.time()

    def on_signal(signum, _frame):
        raise SystemExit(f"differential: interrupted by signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    try:
        world.setup()
        install = f"{world.d}/authrelay"
        shutil.copy(args.binary, install)
        os.chmod(install, 0o755)
        # The front program execs authrelay-direct from its own directory.
        shutil.copy(os.path.join(os.path.dirname(os.path.realpath(args.binary)), "authrelay-direct"), world.d)
        args.binary_shown, args.binary = args.binary, install
        cases = [generate(i, args.seed, world.fps, world.d) for i in range(args.n)]
        if args.only:
            keep = {int(x) for x in args.only.split(",")}
            cases = [c for c in cases if c["i"] in keep]
        # At most CHUNK at a time: one port each, a fresh Postfix instance and server per chunk.
        mismatches = []
        for tag, start in enumerate(range(0, len(cases), CHUNK)):
            part = cases[start:start + CHUNK]
            world.write_maps(part)
            for c in part:
                c["oracle"], c["applied"] = oracle_config(c)
            world.start_server(part)
            world.make_postfix(part, tag)
            world.run_oracle(part)
            world.wait_quiet()
            world.run_authrelay(part, args.jobs)
            world.wait_quiet()
            records = [json.loads(l) for l in open(f"{world.d}/records.jsonl")]
            mismatches += [c for c in part if not compare(c, records)]
        applied = sorted({n for c in cases for n in c["applied"]})
        report = []
        for c in mismatches:
            report.append(f"--- configuration {c['i']} (seed {c['seed']}), next hop {c['nexthop']}\n"
                          f"  main.cf -o: {json.dumps(c['params'])}\n"
                          f"  policy: {c['policy']}\n  server: {json.dumps(c['server'])}\n"
                          + (f"  {c['fp_note']}\n" if c["fp_note"] else "") +
                          f"  deliberate differences applied: {', '.join(c['applied']) or 'none'}\n"
                          f"  smtp(8):   {describe(c['pf'])}  ({c['pf_status'][1]} {c['pf_status'][2][:200]})\n"
                          f"  expected:  {describe(c['expected'])}\n"
                          f"  authrelay: {describe(c['ar'])}  ({c['ar_status'][1][:250]})\n"
                          f"  reproduce: {repro(c, args)}\n")
        for path in [f"{world.d}/report.txt"] + ([args.report] if args.report else []):
            with open(path, "w") as f:
                f.write("".join(report))
        if report:
            sys.stdout.write("".join(report[:40] if not args.verbose else report))
        if args.verbose:
            for c in cases:
                print(f"c{c['i']}: {describe(c['pf'])} | {describe(c['ar'])}")
        print(f"differential: {len(cases)} configurations, {len(mismatches)} unexplained mismatches, "
              f"excluded deliberate differences: {', '.join(applied) or 'none'} "
              f"(seed {args.seed}, {time.time() - started:.0f}s; not exercised: {', '.join(NOT_EXERCISED)})")
        return 1 if mismatches else 0
    finally:
        world.teardown()


if __name__ == "__main__":
    sys.exit(main())
