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
import grp
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
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNAS = "authrelay-test"
PORT_BASE = 22000          # this harness's own range: 22000-22999
CHUNK = min(900, int(os.environ.get("AUTHRELAY_DIFF_CHUNK", "900")))  # per Postfix instance and server
SENDER = "sender@diff.test"
HOLD_SUBJECT = "differential hold-ref"  # header_checks hold these: the age references
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


def has_credentials(case):
    # SASL on and a password map with an entry for every next hop (sasl_passwd_none has none).
    p = case["params"]
    return p.get("smtp_sasl_auth_enable") == "yes" and not p.get("smtp_sasl_password_maps", "").endswith("_none")


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
    if has_credentials(case):
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
    if not unset(case, "smtp_tls_security_level") or not has_credentials(case):
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


@deliberate("implicit-465")
def _implicit_465(case, oracle):
    # Port 465 means implicit TLS at encrypt or above, without smtp_tls_wrappermode: smtp(8) is
    # given wrapper mode, and a level below encrypt (none, may, smtp_use_tls, or dane turned may
    # by no-dane above) becomes encrypt.
    if not any(hop.endswith(":465") for hop in case["nexthop"].split(",")):
        return False
    hit = False
    if oracle.get("smtp_tls_wrappermode") != "yes":
        oracle["smtp_tls_wrappermode"] = "yes"
        hit = True
    if oracle.get("smtp_tls_security_level") in (None, "", "none", "may"):
        oracle["smtp_tls_security_level"] = "encrypt"
        oracle.pop("smtp_use_tls", None)
        oracle.pop("smtp_enforce_tls", None)
        hit = True
    return hit


@deliberate("session-per-policy")
def _session_per_policy(case, oracle):
    # authrelay keys a cached TLS session by the whole TLS policy, so after the policy entry
    # changed it makes a full handshake checked against the new policy; smtp(8) resumes the
    # session of the old one, and takes its verification for the new names. smtp(8)'s own key
    # has the master.cf service name in it: its second delivery goes through a second service
    # with the same settings, so it too starts afresh.
    if case.get("second") and case["policy2"] != case["policy"]:
        case["fresh_service"] = True
        return True
    return False


def second_domain(case):
    return f"c{case['i']}n.test" if case.get("fresh_service") else f"c{case['i']}.test"


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
            result["conns"] = result["conns"][:i] + [dict(c, auth=None, mail=False, data=False, body=None,
                                                          message=None)]
            result["verdict"] = "deferred"
            result["cut"] = i + 1
            return True
    return False


RESULT_RULES["no-plaintext-auth"] = no_plaintext_auth


def body_8bitmime(case, result):
    # pipe(8) does not pass the queue file's content encoding: to a server that offers 8BITMIME
    # authrelay declares BODY=8BITMIME for every message, where smtp(8) declares it only for mail
    # marked 8-bit (BODY=7BIT for mail marked 7-bit, nothing when unmarked).
    if not case["server"].get("eightbitmime", True):
        return False
    hit = False
    for c in result["conns"]:
        if c["mail"] and c["body"] != "8BITMIME":
            c["body"] = "8BITMIME"
            hit = True
    return hit


RESULT_RULES["body-8bitmime"] = body_8bitmime
# Rows of the table no configuration can reach (printed in the summary). quota-defers is about a
# provider's quota reply to MAIL/RCPT/DATA, not a TLS or SASL decision:
# tests/protocol/throttle_test.cc covers it.
NOT_EXERCISED = ["quota-defers"]

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


# Messages: the 8BITMIME dimension. 8-bit bytes are written as \\xNN escapes here; the harness
# sends them as bytes (latin-1 round trip).
MESSAGES = {
    "hello": f"From: {SENDER}\nSubject: differential\n\nhello\n",
    "8bit-mime": f"From: {SENDER}\nSubject: differential 8bit\nMIME-Version: 1.0\n"
                 "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                 "Gr\xc3\xbc\xc3\x9fe, na\xc3\xafve caf\xc3\xa9 = 100 \xe2\x82\xac\nplain line\n",
    "8bit-multipart": f"From: {SENDER}\nSubject: differential multipart\nMIME-Version: 1.0\n"
                      "Content-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n--b1\n"
                      "Content-Type: text/plain; charset=us-ascii\n\nseven bit part\n--b1\n"
                      "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n"
                      "eight bit: \xe9t\xe9 \xfcber\n--b1--\nepilogue\n",
    "8bit-nomime": f"From: {SENDER}\nSubject: differential 8bit, no MIME\n\nno MIME: caf\xc3\xa9\n",
    "7bit-mime": f"From: {SENDER}\nSubject: differential 7bit\nMIME-Version: 1.0\n"
                 "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\nseven bit\n",
}
OLD_AGE = 7200  # seconds: an "old" message arrived this long ago (the instance's minimal_backoff_time is 3600s)


def message_bytes(name):
    return MESSAGES[name].encode("latin-1")


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
    case = {"i": i, "seed": seed, "port": port, "nexthop": nexthop, "params": params, "policy": policy,
            "server": server, "fp_note": fp_note.strip(), "dir": d}
    later_dimensions(case, random.Random(f"{seed}-{i}-later"))
    return case


def later_dimensions(case, r):
    # Drawn from their own generator, so that adding them left every earlier draw (and so each
    # configuration's TLS and SASL settings at a given seed) as it was.
    params, server = case["params"], case["server"]
    i = case["i"]
    # Message age against minimal_backoff_time, for the may plaintext fallback after a failed
    # handshake: an old message arrived OLD_AGE seconds ago (smtp(8): the queue file's arrival
    # time; authrelay: a held message of that age whose queue ID it is given).
    case["age"] = "old" if r.random() < 0.3 else "young"
    if r.random() < 0.25:
        params["minimal_backoff_time"] = pick(r, ["10800s", "60s", "1h"])  # above, below, below OLD_AGE
    if not server.get("implicit") and r.random() < 0.12:
        server["tls_broken"] = pick(r, ["garbage", "inject"], [4, 1])
        if r.random() < 0.6:
            params["smtp_tls_security_level"] = "may"
        if r.random() < 0.5:
            case["age"] = "old"
        # Credentials: as drawn, none, or SASL on with no entry for this server (no credentials
        # either, for smtp(8)'s fallback rule).
        creds = pick(r, ["drawn", "off", "no-entry"])
        if creds == "off":
            params.pop("smtp_sasl_auth_enable", None)
            params.pop("smtp_sasl_password_maps", None)
        elif creds == "no-entry":
            params["smtp_sasl_auth_enable"] = "yes"
            params["smtp_sasl_password_maps"] = f"texthash:{case['dir']}/sasl_passwd_none"
    # 8BITMIME: 8-bit messages (MIME, multipart, none), to servers with and without 8BITMIME.
    case["msg"] = pick(r, list(MESSAGES), [12, 3, 2, 2, 1])
    if case["msg"] != "hello" or r.random() < 0.1:
        server["eightbitmime"] = r.random() < 0.5
        if r.random() < 0.7:
            params["disable_mime_output_conversion"] = pick(r, ["yes", "no"])
    # Port 465 without wrapper mode: authrelay's implicit TLS. One address each (the port is shared).
    if r.random() < 0.06:
        addr = f"127.3.{(i // 250) % 250}.{i % 250 + 1}"
        case["nexthop"], case["port"], case["addr"] = f"[{addr}]:465", 465, addr
        params.pop("smtp_tls_wrappermode", None)
        case["policy"] = None
        level = pick(r, [None, "none", "may", "encrypt"])
        if level is None and has_credentials(case):
            level = "encrypt"  # else secure-default at an address, which no certificate here names
        params.pop("smtp_tls_security_level", None)
        if level:
            params["smtp_tls_security_level"] = level
        server["implicit"] = r.random() < 0.9
        server.pop("tls_broken", None)
    # TLS session resumption: a second delivery to the same server after the first, either with
    # the same policy, or after the policy entry changed to one the server's certificate cannot
    # satisfy (a resumed session must not carry the first policy's verdict over).
    if case["port"] != 465 and not server.get("tls_broken") and r.random() < 0.12:
        key = case["nexthop"].split(",")[0]
        case["second"] = pick(r, ["same", "stricter", "renamed"])
        # no-plaintext-auth would cut the result after the first delivery's AUTH in the clear.
        params["authrelay_allow_plaintext_auth"] = "yes"
        if case["second"] == "renamed" and case["nexthop"] == f"[{CN_HOST}]:{case['port']}":
            # A session verified for one name, then a policy that names another: a resumed
            # session carries the first verification's result, which must not count.
            server.update(cert="good", starttls=True, starttls_reply="220")
            case["policy"] = f"{key} secure match={CN_HOST}"
            case["policy2"] = f"{key} secure match=nomatch.test"
            return
        case["second"] = "stricter" if case["second"] == "renamed" else case["second"]
        case["policy2"] = case["policy"] if case["second"] == "same" else pick(r, [
            f"{key} secure match=nomatch.test", f"{key} verify match=nomatch.test",
            f"{key} fingerprint match=00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33",
            f"{key} encrypt protocols=TLSv1.2"])


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


NS_PREFIX = "authrelay-diff-"  # + the harness's pid
TMP_PREFIX = "authrelay-diff."  # + the harness's pid + "."


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def pids_using(path):
    # Processes whose command line or environment names path (a Postfix instance there: MAIL_CONFIG).
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != os.getpid():
            try:
                if any(path.encode() in open(f"/proc/{p}/{f}", "rb").read() for f in ("cmdline", "environ")):
                    out.append(int(p))
            except OSError:
                pass
    return out


def leftovers(pid, d=None):
    # What a run of pid may leave behind: its namespace (and the mount behind it), its
    # /etc/netns directory, its temporary directory, processes in either.
    ns = f"{NS_PREFIX}{pid}"
    left = []
    if ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split():
        left.append(f"namespace {ns}")
        left += [f"process {p} in {ns}" for p in
                 subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()]
    if any(f"/netns/{ns} " in line for line in open("/proc/mounts")):
        left.append(f"mount /run/netns/{ns}")
    if os.path.exists(f"/etc/netns/{ns}"):
        left.append(f"/etc/netns/{ns}")
    tmp = tempfile.gettempdir()
    dirs = [d] if d else [f"{tmp}/{x}" for x in os.listdir(tmp) if x.startswith(f"{TMP_PREFIX}{pid}.")]
    for x in dirs:
        if os.path.exists(x):
            left.append(x)
        left += [f"process {p} using {x}" for p in pids_using(x)]
    return left


def clean(ns, dirs, remove=True):
    for _ in range(3):
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
        pids += [str(p) for x in dirs for p in pids_using(x)]
        if not pids:
            break
        for p in pids:
            try:
                os.kill(int(p), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        time.sleep(0.2)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
    for x in dirs if remove else []:
        shutil.rmtree(x, ignore_errors=True)


def sweep():
    # What runs killed outright (SIGKILL, no teardown) left: only those whose harness process is gone.
    gone = set()
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    names += os.listdir("/etc/netns") if os.path.isdir("/etc/netns") else []
    for name in names:
        m = re.fullmatch(re.escape(NS_PREFIX) + r"(\d+)", name)
        if m and not alive(int(m.group(1))):
            gone.add(int(m.group(1)))
    tmp = tempfile.gettempdir()
    for x in os.listdir(tmp):
        m = re.match(re.escape(TMP_PREFIX) + r"(\d+)\.", x)
        if m and not alive(int(m.group(1))) and not os.path.exists(f"{tmp}/{x}/kept"):
            gone.add(int(m.group(1)))
    for pid in sorted(gone):
        clean(f"{NS_PREFIX}{pid}", [f"{tmp}/{x}" for x in os.listdir(tmp) if x.startswith(f"{TMP_PREFIX}{pid}.")])
        print(f"differential: removed what an earlier run (pid {pid}, killed) left behind", file=sys.stderr)
    return gone


class World:
    def __init__(self, args):
        self.args = args
        self.ns = f"{NS_PREFIX}{os.getpid()}"
        self.d = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}.")
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
        # The namespace's own /etc/postfix (ip netns exec mounts it over the real one): its main.cf
        # names the throwaway instances in alternate_config_directories, as a multi-instance host
        # does, so that postqueue -c INSTANCE -j, run by authrelay as the unprivileged pipe user
        # to learn a message's age, accepts the instance.
        shutil.copytree("/etc/postfix", f"{etc}/postfix", symlinks=True)
        self.instances = []
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
        spec = {"certdir": f"{d}/certs", "ports": {str(c["port"]): c["server"] for c in cases if c["port"] != 465}}
        at465 = {c["addr"]: c["server"] for c in cases if c["port"] == 465}
        if at465:
            spec["ports"]["465"] = {"by_addr": at465}
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
        open(f"{d}/sasl_passwd_none", "w").close()
        for f in ("sasl_passwd", "sasl_passwd_none"):
            sh("chgrp", RUNAS, f"{d}/{f}")
            os.chmod(f"{d}/{f}", 0o640)
        for c in cases:
            if c["policy"] or c.get("second"):
                path = f"{d}/policy/c{c['i']}"
                with open(path, "w") as f:
                    f.write((c["policy"] or "") + "\n")
                os.chmod(path, 0o644)
                c["params"]["smtp_tls_policy_maps"] = f"texthash:{path}"

    def set_policy(self, c, second):
        # Before the second delivery the configuration's policy entry becomes policy2, and back
        # to the first before the other client's first delivery.
        path = f"{self.d}/policy/c{c['i']}"
        with open(path, "w") as f:
            f.write(((c["policy2"] if second else c["policy"]) or "") + "\n")
        if c["oracle"].get("smtp_tls_policy_maps") == f"texthash:{path}.oracle":
            if not second:
                entries = c["oracle_policy"]
            else:
                key = c["nexthop"].split(",")[0]
                added = c["oracle_policy"][1 if c["policy"] else 0:]
                entries = ([c["policy2"]] if c["policy2"] else []) + [e for e in added if not e.startswith(key + " ")]
            with open(f"{path}.oracle", "w") as f:
                f.write("\n".join(entries) + "\n")

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
service_throttle_time = 1s
transport_maps = texthash:{d}/transport
smtp_tls_session_cache_database = btree:{pf}/data/smtp_scache
header_checks = regexp:{d}/header_checks
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
        with open(f"{d}/header_checks", "w") as f:
            f.write(f"/^Subject: {HOLD_SUBJECT}/ HOLD\n")
        with open(f"{d}/transport", "w") as f:
            for c in cases:
                f.write(f"c{c['i']}.test c{c['i']}:{c['nexthop']}\n")
                if c.get("fresh_service"):
                    f.write(f"c{c['i']}n.test c{c['i']}n:{c['nexthop']}\n")
        with open(f"{pf}/master.cf", "a") as f:
            for c in cases:
                opts = " ".join(f"-o {{ {k} = {v} }}" for k, v in c["oracle"].items())
                for name in [f"c{c['i']}"] + ([f"c{c['i']}n"] if c.get("fresh_service") else []):
                    f.write(f"{name} unix - - n - - smtp -o syslog_name=diff/{name} {opts}\n")
        sh("postconf", "-c", pf, "-F", "*/*/chroot = n")
        self.instances.append(pf)
        with open(f"/etc/netns/{self.ns}/postfix/main.cf", "w") as f:
            f.write(f"compatibility_level = 3.6\nalternate_config_directories = {' '.join(self.instances)}\n")
        sh("postconf", "-c", pf, "-MX", "smtp/inet")
        sh("postconf", "-c", pf, "-P", "pickup/unix/max_use=10000")  # not max_use = 1: a restart loses a wakeup
        sh("chown", "-R", "root:root", pf)
        sh("chown", "postfix:postfix", f"{pf}/data")
        os.chmod(pf, 0o755)
        self.pf = pf

    def submit(self, recipients, content, arrival=None, sender=SENDER):
        # sendmail, or for a message that arrived in the past (the may fallback's age), the same
        # records written into the maildrop as postdrop writes them, with that arrival time;
        # pickup keeps the time record it finds.
        pf = self.pf
        if arrival is None:
            subprocess.run(self.nsx("sendmail", "-i", "-C", pf, "-f", sender, *recipients), input=content,
                           check=True)
            return

        def rec(kind, data):
            n, size = len(data), b""
            while True:
                size += bytes([(n & 0x7f) | (0x80 if n > 0x7f else 0)])
                n >>= 7
                if not n:
                    break
            return kind + size + data
        out = rec(b"T", f"{int(arrival)} 0".encode()) + rec(b"A", b"rewrite_context=local") + rec(b"F", b"")
        out += rec(b"S", sender.encode()) + b"".join(rec(b"R", r.encode()) for r in recipients) + rec(b"M", b"")
        out += b"".join(rec(b"N", line) for line in content.rstrip(b"\n").split(b"\n"))
        out += rec(b"X", b"") + rec(b"E", b"")
        self.maildrop_seq = getattr(self, "maildrop_seq", 0) + 1
        path = f"{pf}/queue/maildrop/aged{self.maildrop_seq}"
        with open(path + ".part", "wb") as f:
            f.write(out)
        os.chown(path + ".part", 0, grp.getgrnam("postdrop").gr_gid)
        os.chmod(path + ".part", 0o744)
        os.rename(path + ".part", path)
        sh(*self.nsx("postkick", "-c", pf, "public", "pickup", "W"))

    def queue(self):
        out = sh(*self.nsx("postqueue", "-c", self.pf, "-j"))
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def held(self, sender, since):
        # The queue ID of the newest held message from sender that arrived at or after since.
        for _ in range(100):
            found = sorted((m["arrival_time"], m["queue_id"]) for m in self.queue()
                           if m["queue_name"] == "hold" and m["sender"] == sender and m["arrival_time"] >= since)
            if found:
                return found[-1][1]
            time.sleep(0.1)
        raise SystemExit(f"differential: the held reference message from {sender} did not appear in postqueue -j")

    def run_oracle(self, cases, batch=24, batch_timeout=60):
        # In batches: a few hundred smtp(8) processes at once swamp tlsmgr and postlogd. One
        # message per batch: the configurations of a batch share the message and its age.
        pf = self.pf
        sh(*self.nsx("postfix", "-c", pf, "start"))
        self.postfix = True
        # The old message authrelay will be pointed at, held (header_checks) until the end.
        self.submit(["ref@diff.test"], f"Subject: {HOLD_SUBJECT} old\n\nref\n".encode(), time.time() - OLD_AGE,
                    sender="ref-old@diff.test")
        got = {}
        groups = {}
        for c in cases:
            groups.setdefault((c["age"], c["msg"]), []).append(c)
        batches = [(key, [f"r@c{c['i']}.test" for c in part[k:k + batch]])
                   for key, part in groups.items() for k in range(0, len(part), batch)]
        # The second deliveries (session resumption) come after every first one.
        seconds = {}
        for c in cases:
            if c.get("second"):
                seconds.setdefault((c["age"], c["msg"]), []).append(f"r2@{second_domain(c)}")
        batches.append(("policy2", None))
        batches += [(key, part[k:k + batch]) for key, part in seconds.items() for k in range(0, len(part), batch)]
        # smtp(8) refusing its configuration exits at startup; the message then waits in the
        # queue (deferred) and nothing reaches the server.
        fatal_re = re.compile(r" diff/c(\d+n?)/smtp\[\d+\]: fatal: (.*)$")
        line_re = re.compile(r"to=<(r2?@c\d+n?\.test)>,.* dsn=([\d.]+), status=(sent|deferred|bounced) \((.*)\)$")
        offset = 0
        for key, want in batches:
            if key == "policy2":
                for c in cases:
                    if c.get("second"):
                        self.set_policy(c, second=True)
                continue
            age, msg = key
            want = set(want)
            self.submit(sorted(want), message_bytes(msg), time.time() - OLD_AGE if age == "old" else None)
            t0 = time.time()
            deadline = t0 + batch_timeout
            while time.time() < deadline and not want <= got.keys():
                time.sleep(0.2)
                if int((time.time() - t0) / 0.2) % 10 == 9:  # a pickup wakeup lost costs 60s: another one
                    subprocess.run(self.nsx("postkick", "-c", pf, "public", "pickup", "W"), capture_output=True)
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
                    if m:
                        for rcpt in want:
                            if rcpt.endswith(f"@c{m.group(1)}.test") and rcpt not in got:
                                got[rcpt] = ("deferred", "fatal", m.group(2))
            if self.args.verbose:
                print(f"differential: smtp(8) batch {key} of {len(want)}: {time.time() - t0:.1f}s", file=sys.stderr)
        # Postfix keeps running for authrelay's postqueue -j; what smtp(8) deferred stays put.
        subprocess.run(self.nsx("postsuper", "-c", pf, "-h", "ALL", "deferred"), capture_output=True)
        for c in cases:
            for k, rcpt in (("pf_status", f"r@c{c['i']}.test"), ("pf_status2", f"r2@{second_domain(c)}")):
                if k == "pf_status" or c.get("second"):
                    c[k] = got.get(rcpt,
                                   ("pending", "", "no status line from smtp(8) within the time limit"))

    def run_authrelay(self, cases, jobs):
        open(f"{self.d}/phaseB", "w").close()
        # A young message and the old one (run_oracle) in the hold queue: authrelay learns a
        # message's age from postqueue -j by queue ID, as it would for the message pipe(8) gives it.
        # The young one is replaced every YOUNG_FOR seconds, so that it stays well below the
        # smallest minimal_backoff_time drawn (60s) however long this phase takes.
        young_for = 20
        refs = {"old": self.held("ref-old@diff.test", 0)}
        young = {"t": 0.0}
        lock = threading.Lock()

        def ref(age):
            if age == "old":
                return refs["old"]
            with lock:
                if time.time() - young["t"] > young_for:
                    young["t"] = time.time()
                    self.submit(["ref@diff.test"], f"Subject: {HOLD_SUBJECT} young\n\nref\n".encode(),
                                sender="ref-young@diff.test")
                    young["id"] = self.held("ref-young@diff.test", young["t"] - 1)
                return young["id"]
        for name in MESSAGES:
            with open(f"{self.d}/message.{name}", "wb") as f:
                f.write(message_bytes(name))
            os.chmod(f"{self.d}/message.{name}", 0o644)

        def one(c, rcpt="r", key="ar_status"):
            opts = []
            for k, v in c["params"].items():
                opts += ["-o", f"{k}={v}"]
            # A session cache per configuration, as each one stands for a host of its own (the
            # cache keeps the newest 100 sessions: hundreds of configurations would evict the
            # first delivery's session before the second one).
            opts += ["-o", f"authrelay_tls_session_cache={self.d}/cache/c{c['i']}"]
            cmd = self.nsx("setpriv", f"--reuid={RUNAS}", f"--regid={RUNAS}", "--clear-groups", "env", "-i",
                           "PATH=/usr/bin:/bin", f"MAIL_CONFIG={self.pf}", "LANG=C", "timeout", "90",
                           self.args.binary, *opts, f"--nexthop={c['nexthop']}", f"--sender={SENDER}",
                           f"--queue-id={ref(c['age'])}", f"--size={len(message_bytes(c['msg']))}", "--",
                           f"{rcpt}@c{c['i']}.test")
            with open(f"{self.d}/message.{c['msg']}") as stdin:
                p = subprocess.run(cmd, stdin=stdin, capture_output=True, text=True)
            verdict = {0: "sent", 75: "deferred", 69: "bounced"}.get(p.returncode, f"exit {p.returncode}")
            c[key] = (verdict, p.stdout.strip()[:300] + (" / stderr: " + p.stderr.strip()[:200] if p.stderr.strip() else ""))
            c["ar_argv"] = opts

        for c in cases:
            if c.get("second"):
                self.set_policy(c, second=False)
        ex = concurrent.futures.ThreadPoolExecutor(jobs)
        try:
            list(ex.map(one, cases))
            for c in cases:
                if c.get("second"):
                    self.set_policy(c, second=True)
            list(ex.map(lambda c: one(c, "r2", "ar_status2"), [c for c in cases if c.get("second")]))
        finally:
            # Stopped by a signal: the configurations not started yet are dropped, not run.
            ex.shutdown(wait=True, cancel_futures=True)
        time.sleep(0.5)
        subprocess.run(self.nsx("postfix", "-c", self.pf, "stop"), capture_output=True, timeout=60)
        self.postfix = False

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
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        clean(self.ns, [self.d], remove=False)
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
        else:
            open(f"{self.d}/kept", "w").close()  # asked for: sweep() leaves it alone


# --- comparison ----------------------------------------------------------------------------------
# Headers the queue adds on the way to smtp(8) (pipe(8) would give authrelay them too, but the
# harness gives authrelay the message as submitted): not compared.
ADDED_HEADERS = {"received", "message-id", "date", "to", "return-path"}


def received_message(content):
    # The message the server got, minus ADDED_HEADERS; 8-bit bytes kept as latin-1 characters.
    if content is None:
        return None
    lines = content.split("\n")
    head, body, skipping = [], [], False
    for k, line in enumerate(lines):
        if line == "":
            body = lines[k:]
            break
        if line[:1] in (" ", "\t"):
            if not skipping:
                head.append(line)
            continue
        skipping = line.split(":", 1)[0].strip().lower() in ADDED_HEADERS
        if not skipping:
            head.append(line)
    return "\n".join(head + body)


def connections(records, case, phase):
    out = []
    port, addr = case["port"], case.get("addr")
    for rec in sorted((r for r in records if r["port"] == port and r["phase"] == phase
                       and (addr is None or r["dst"] == addr)), key=lambda r: r["t"]):
        # A refused certificate shows as "no TLS session used", whether the client hung up
        # during the handshake (authrelay) or right after it (smtp(8)).
        out.append({"dst": rec["dst"], "tls": rec["tls"] if rec["went_on"] else None, "sni": rec["sni"],
                    "cert": rec["cert"] if rec["went_on"] else None, "auth": rec["auth"],
                    "mail": rec["mail"], "data": rec["data"], "client_cert": rec["client_cert"],
                    # Resumption counts where the client went on with the session; a session the
                    # client then refused is "no TLS session used", as above.
                    "resumed": rec.get("resumed", False) and rec["went_on"], "body": rec.get("body"),
                    "message": received_message(rec.get("content"))})
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
        if c.get("resumed"):
            bits.append("resumed")
        if c.get("body"):
            bits.append(f"BODY={c['body']}")
        if c["data"]:
            m = c.get("message") or ""
            bits.append(f"DATA {hashlib.sha256(m.encode('latin-1', 'replace')).hexdigest()[:8]} "
                        f"{'8bit' if any(ord(ch) > 127 for ch in m) else '7bit'}"
                        f"{' qp' if 'quoted-printable' in m.lower() else ''}")
        parts.append("[" + " ".join(bits) + "]")
    return " ".join(parts)


def compare(case, records):
    pf = {"verdict": case["pf_status"][0], "conns": connections(records, case, "A")}
    ar = {"verdict": case["ar_status"][0], "conns": connections(records, case, "B")}
    if case.get("second"):
        pf["verdict"] += ", then " + case["pf_status2"][0]
        ar["verdict"] += ", then " + case["ar_status2"][0]
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
    ap.add_argument("--sweep-only", action="store_true",
                    help="remove what runs killed outright left behind, and exit")
    ap.add_argument("--only", default="")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--report", help="write every mismatch here (stdout shows the first 40)")
    args = ap.parse_args()
    args.binary = os.path.abspath(args.binary)
    if os.geteuid() != 0:
        raise SystemExit("differential: must run as root (network namespace, Postfix instance)")
    if args.sweep_only:
        sweep()
        return 0
    world = World(args)
    started = time.time()

    def on_signal(signum, _frame):
        raise SystemExit(f"differential: interrupted by signal {signum}")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    sweep()
    try:
        world.setup()
        install = f"{world.d}/authrelay"
        shutil.copy(args.binary, install)
        os.chmod(install, 0o755)
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
                          f"  message: {c['msg']}, age {c['age']}\n"
                          + (f"  second delivery ({c['second']}), policy then: {c['policy2']}\n" if c.get("second") else "")
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
              f"(seed {args.seed}, {time.time() - started:.0f}s"
              + (f"; not exercised: {', '.join(NOT_EXERCISED)})" if NOT_EXERCISED else ")"))
        return 1 if mismatches else 0
    finally:
        world.teardown()
        # Nothing outlives the run: no namespace, mount, process or directory (--keep keeps the directory).
        left = [x for x in leftovers(os.getpid()) if not (args.keep and x == world.d)]
        if left:
            print(f"differential: left behind after teardown: {'; '.join(left)}")
            sys.exit(1)


if __name__ == "__main__":
    sys.exit(main())
