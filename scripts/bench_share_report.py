#!/usr/bin/env python3
"""Writes docs/bench/share.md from scripts/bench_share's results directory.

    bench_share_report.py RESULTS_DIR OUT_MD N
"""
import json
import os
import platform
import subprocess
import sys
import time

res, out_path, n = sys.argv[1], sys.argv[2], sys.argv[3]


def load(name):
    with open(os.path.join(res, name)) as f:
        return json.load(f)


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


cpu = sh("lscpu | sed -n 's/^Model name: *//p' | head -1")
machine = (f"{sh('nproc')} cores ({cpu}), {platform.system()} {platform.release()}, "
           f"{sh('openssl version')}, Postfix {sh('postconf -d -h mail_version')}, "
           f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; other builds were running on the machine")
a_new, a_re = load("a_new.json"), load("a_reused.json")
b_new, b_re = load("b_new.json"), load("b_reused.json")
c = load("c_cpu.json")
d = {k: load(f"d_{k}.json") for k in ("smtp", "smtp_reuse", "authrelay_share", "authrelay_noshare")}
e = {k: load(f"e_{k}.json") for k in ("smtp", "smtp_reuse", "authrelay_share", "authrelay_noshare")}
L = []
w = L.append
w("# Connection sharing: benchmark\n")
w(f"Machine: {machine}.\n")
w("Regenerate with `scripts/bench share` (as root). Proxy: `tests/share/delay_proxy.py`, 25 ms each way; "
  "round trips are the client's waits for the server as the proxy sees them, plus one per TCP connection.\n")
w("## Per message through the delay proxy (one authrelay process each)\n")
w("| session | round trips | wall ms |")
w("|---|---|---|")
w(f"| new (TLS session resumed, AUTH, QUIT pipelined) | {a_new['round_trips']:.1f} | {a_new['wall_ms']:.0f} |")
w(f"| reused (held session: RSET, MAIL..DATA, body) | {a_re['round_trips']:.1f} | {a_re['wall_ms']:.0f} |")
w(f"| ratio reused/new | {a_re['round_trips'] / a_new['round_trips']:.2f} | {a_re['wall_ms'] / a_new['wall_ms']:.2f} |\n")
w("## Concurrency 3 through the delay proxy (three workers, 30 messages)\n")
w("| session | msgs/s |")
w("|---|---|")
w(f"| new | {b_new['msgs_per_s']:.1f} |")
w(f"| reused | {b_re['msgs_per_s']:.1f} |\n")
w("## Per message on loopback, one process each (5 rounds x 10)\n")
w("| client | CPU ms | wall ms | peak RSS KiB | failed runs |")
w("|---|---|---|---|---|")
for k in ("reused", "new", "msmtp"):
    r = c[k]
    # A failed run is fast and cheap: its numbers would flatter the row.
    failed = f"{r['fails']} of {r['runs']} ({r['error'].strip().splitlines()[-1] if r['error'].strip() else ''})" \
        if r["fails"] else "0"
    w(f"| {k} | {r['cpu_ms']:.2f} | {r['wall_ms']:.2f} | {r['rss_kib']} | {failed} |")
w(f"| reused / msmtp | {c['reused']['cpu_ms'] / c['msmtp']['cpu_ms']:.2f} | "
  f"{c['reused']['wall_ms'] / c['msmtp']['wall_ms']:.2f} | | |\n")
w(f"## Through Postfix, {n} messages released at once (loopback)\n")
w("| transport | msgs/s | connections opened | vs smtp(8) default | vs smtp(8) reuse |")
w("|---|---|---|---|---|")
names = {"smtp": "relayhost + smtp(8), default", "smtp_reuse": "smtp(8), smtp_tls_connection_reuse = yes",
         "authrelay_share": "pipe(8) + authrelay, sharing on", "authrelay_noshare": "pipe(8) + authrelay, sharing off"}
for tbl in (d,):
    for k, v in tbl.items():
        w(f"| {names[k]} | {v['msgs_per_s']:.1f} | {v['connections']} | {v['msgs_per_s'] / tbl['smtp']['msgs_per_s']:.2f} | "
          f"{v['msgs_per_s'] / tbl['smtp_reuse']['msgs_per_s']:.2f} |")
cpu = {k: (load(f"cpu_{k}_{n}.json") if os.path.exists(os.path.join(res, f"cpu_{k}_{n}.json")) else None)
       for k in ("smtp_default", "smtp_reuse", "authrelay_share", "authrelay_noshare")}
if all(cpu.values()):
    w(f"\nCPU per message during those rows, ms, by process (both Postfix instances: relay and smarthost; "
      "utime+stime deltas of the processes alive at the end, 10 ms ticks; \"reaped children\": what a "
      "process's exited children used, for pipe(8) the authrelay processes it ran):\n")
    procs = []
    for v in cpu.values():
        for p in v:
            if p not in procs and max(c.get(p, 0) for c in cpu.values()) >= 0.2:
                procs.append(p)
    w("| process | " + " | ".join(names[k if k != "smtp_default" else "smtp"] for k in cpu) + " |")
    w("|---|" + "---|" * len(cpu))
    for p in procs:
        w(f"| {p} | " + " | ".join(f"{c.get(p, 0):.2f}" for c in cpu.values()) + " |")
    w("| total | " + " | ".join(f"{sum(c.values()):.2f}" for c in cpu.values()) + " |")
w("\n## Through Postfix and the delay proxy, concurrency 3, 30 messages\n")
w("| transport | msgs/s | connections opened | round trips per message | vs smtp(8) default | vs smtp(8) reuse |")
w("|---|---|---|---|---|---|")
for k, v in e.items():
    w(f"| {names[k]} | {v['msgs_per_s']:.1f} | {v['connections']} | {v.get('round_trips', 0):.1f} | "
      f"{v['msgs_per_s'] / e['smtp']['msgs_per_s']:.2f} | {v['msgs_per_s'] / e['smtp_reuse']['msgs_per_s']:.2f} |")
w("")
# The hand-written notes (profiles, what limits a missed target) below the
# marker survive a regeneration.
MARK = "<!-- notes: kept by scripts/bench_share_report.py -->"
notes = ""
if os.path.exists(out_path):
    old = open(out_path).read()
    if MARK in old:
        notes = "\n" + old[old.index(MARK):]
with open(out_path, "w") as f:
    f.write("\n".join(L) + "\n" + notes)
