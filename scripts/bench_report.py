#!/usr/bin/env python3
"""Turns scripts/bench's results into a table (stdout), docs/bench/report.md
and docs/bench/chart.png (gnuplot), with the performance targets checked.

    bench_report.py RESULTS_DIR DOCS_DIR N MSMTP_VERSION POSTFIX_VERSION
"""
import json
import os
import platform
import subprocess
import sys
import time


def load(d, name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) // (1024 * 1024)
    return f"{os.cpu_count()} cores ({model}), {mem} GiB RAM, Linux {platform.release()}"


# Where the instructions of one resumed delivery go (callgrind, inclusive).
PROFILE = [
    ("_dl_start", "dynamic loading and relocation (ld.so)"),
    ("SSL_CTX_new", "OpenSSL 3 context: provider algorithm tables, cipher list"),
    ("TlsSessionCache::Load", "reading and decoding the cached TLS session"),
    ("SSL_connect", "TLS handshake (resumed)"),
    ("Session::Authenticate", "AUTH PLAIN (Cyrus, one plugin)"),
    ("LoadContext", "main.cf, settings, opening the maps"),
    ("FindCredentials", "credentials lookup"),
    ("SendBody", "streaming the message"),
]


def profile(path):
    try:
        out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, []
    total, rows = None, []
    for line in out.splitlines():
        if "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
    for pattern, what in PROFILE:
        best = 0
        for line in out.splitlines():
            if pattern + "(" in line or pattern + " " in line or line.rstrip().endswith(pattern):
                try:
                    best = max(best, int(line.split()[0].replace(",", "")))
                except ValueError:
                    pass
        rows.append((what, best))
    return total, rows


def main():
    res, docs, n, msmtp_version, postfix_version = sys.argv[1:6]
    n = int(n)
    pm = load(res, "per_message.json")
    smtp8 = load(res, "smtp8.json")
    t_smtp = load(res, "through_smtp.json")
    t_ar = load(res, "through_authrelay.json")
    big = load(res, "big_message.json")
    maps = load(res, "maps.json")
    ins = load(res, "instructions.json")

    a, full, m = pm["authrelay"], pm["authrelay_full"], pm["msmtp"]
    rate = lambda t: t["messages"] / t["seconds"] if t["seconds"] else 0.0
    # (target, authrelay's ratio, limit, "<=" or ">=")
    checks = [
        ("CPU per message <= 0.15 x msmtp", a["cpu_ms"] / m["cpu_ms"], 0.15, "<="),
        ("CPU per message <= 0.7 x smtp(8)", a["cpu_ms"] / smtp8["cpu_ms"] if smtp8["cpu_ms"] else 99, 0.7, "<="),
        ("wall per message <= 0.05 x msmtp", a["wall_ms"] / m["wall_ms"], 0.05, "<="),
        ("peak RSS <= msmtp", a["rss_kib"] / m["rss_kib"], 1.0, "<="),
        ("throughput through Postfix >= 1.0 x smtp(8)", rate(t_ar) / rate(t_smtp) if rate(t_smtp) else 0, 1.0, ">="),
        ("50 MB message >= 4x faster than msmtp (wall ratio <= 0.25)",
         big["authrelay"]["wall_ms"] / big["msmtp"]["wall_ms"], 0.25, "<="),
        ("100,000-entry map <= 1.05 x 3-entry (CPU)", maps["map100k"]["cpu_ms"] / maps["map3"]["cpu_ms"], 1.05, "<="),
        ("100,000-entry map <= 1.05 x 3-entry (instructions)", ins["map100k"] / ins["map3"], 1.05, "<="),
    ]

    lines = []
    say = lines.append
    say("# authrelay benchmark")
    say("")
    say(f"Machine: {machine()}; {time.strftime('%Y-%m-%d', time.gmtime())}. "
        f"Measured by `scripts/bench {n}`.")
    say("")
    say("Every client: STARTTLS + AUTH PLAIN to a local Postfix smarthost (Cyrus SASL, mail discarded), "
        "verifying the server against the machine's real trust store (~140 roots + the test CA). "
        "CPU is user+sys from wait4(2); RSS is the command's own peak (started by scripts/bench_spawn.c, "
        "not by the 10 MB Python whose peak Linux would carry into the child's). Per-message rows: "
        f"{a['runs']} runs each, interleaved in 10 rounds.")
    say("")
    say("## Per message, one process each (2.8 KB)")
    say("")
    say("| client | wall ms/msg | CPU ms/msg (user + sys) | peak RSS KiB |")
    say("|---|---|---|---|")
    for name, r in (("authrelay (TLS session cache on, as shipped)", a),
                    ("authrelay, cache off (full handshake)", full),
                    (f"msmtp {msmtp_version.split()[-1] if msmtp_version else ''}", m)):
        say(f"| {name} | {r['wall_ms']:.2f} | {r['cpu_ms']:.2f} ({r['user_ms']:.2f} + {r['sys_ms']:.2f}) "
            f"| {r['rss_kib']} |")
    say(f"| Postfix {postfix_version} smtp(8), long-lived, via the relay | - | {smtp8['cpu_ms']:.2f} "
        f"(smtp + tlsmgr) | {smtp8['rss_kib']} |")
    say(f"| ratio authrelay / msmtp | {a['wall_ms'] / m['wall_ms']:.3f} | {a['cpu_ms'] / m['cpu_ms']:.3f} "
        f"| {a['rss_kib'] / m['rss_kib']:.3f} |")
    if smtp8["cpu_ms"]:
        say(f"| ratio authrelay / smtp(8) | - | {a['cpu_ms'] / smtp8['cpu_ms']:.3f} | - |")
    say("")
    if "baseline" in pm:
        b = pm["baseline"]
        say("## Against the baseline binary (`BENCH_BASELINE`), interleaved in the same rounds")
        say("")
        say("| binary | CPU ms/msg | peak RSS KiB | instructions, resumed | instructions, full handshake |")
        say("|---|---|---|---|---|")
        say(f"| baseline | {b['cpu_ms']:.2f} | {b['rss_kib']} | {ins.get('baseline_resumed', 0):,} "
            f"| {ins.get('baseline_full', 0):,} |")
        say(f"| this build | {a['cpu_ms']:.2f} | {a['rss_kib']} | {ins['resumed']:,} | {ins['full']:,} |")
        say(f"| ratio this / baseline | {a['cpu_ms'] / b['cpu_ms']:.3f} | {a['rss_kib'] / b['rss_kib']:.3f} "
            f"| {ins['resumed'] / max(ins.get('baseline_resumed', 0), 1):.3f} "
            f"| {ins['full'] / max(ins.get('baseline_full', 0), 1):.3f} |")
        say("")
    say("## Through a real Postfix (no connection reuse)")
    say("")
    say("| relay transport | messages | seconds | messages/s |")
    say("|---|---|---|---|")
    say(f"| relayhost + smtp(8) | {t_smtp['messages']} | {t_smtp['seconds']:.2f} | {rate(t_smtp):.1f} |")
    say(f"| pipe(8) + authrelay | {t_ar['messages']} | {t_ar['seconds']:.2f} | {rate(t_ar):.1f} |")
    say(f"| ratio authrelay / smtp(8) | | | {rate(t_ar) / rate(t_smtp) if rate(t_smtp) else 0:.3f} |")
    say("")
    say("## One 50 MB message")
    say("")
    say("| client | wall s | CPU s | peak RSS KiB |")
    say("|---|---|---|---|")
    for name in ("authrelay", "msmtp"):
        r = big[name]
        say(f"| {name} | {r['wall_ms'] / 1000:.2f} | {r['cpu_ms'] / 1000:.2f} | {r['rss_kib']} |")
    say(f"| ratio authrelay / msmtp | {big['authrelay']['wall_ms'] / big['msmtp']['wall_ms']:.3f} | "
        f"{big['authrelay']['cpu_ms'] / big['msmtp']['cpu_ms']:.3f} | "
        f"{big['authrelay']['rss_kib'] / big['msmtp']['rss_kib']:.3f} |")
    say("")
    say("## Credentials map size")
    say("")
    say("| map | CPU ms/msg | instructions/delivery |")
    say("|---|---|---|")
    say(f"| 3 entries | {maps['map3']['cpu_ms']:.2f} | {ins['map3']:,} |")
    say(f"| 100,000 entries | {maps['map100k']['cpu_ms']:.2f} | {ins['map100k']:,} |")
    say(f"| ratio | {maps['map100k']['cpu_ms'] / maps['map3']['cpu_ms']:.3f} | {ins['map100k'] / ins['map3']:.3f} |")
    say("")
    say("## Instructions per delivery (callgrind, user space)")
    say("")
    say(f"- TLS session resumed: {ins['resumed']:,}")
    say(f"- full handshake: {ins['full']:,}")
    say("")
    total, rows = profile(os.path.join(res, "callgrind.resumed"))
    if total:
        say("## Profile of one resumed delivery (callgrind, inclusive instructions)")
        say("")
        say("| where | instructions | share |")
        say("|---|---|---|")
        for what, count in rows:
            say(f"| {what} | {count:,} | {100 * count / total:.1f}% |")
        say(f"| total | {total:,} | 100% |")
        say("")
    say("## Targets")
    say("")
    say("| target | measured | met |")
    say("|---|---|---|")
    for name, value, limit, op in checks:
        met = value <= limit if op == "<=" else value >= limit
        say(f"| {name} | {value:.3f} ({op} {limit}) | {'yes' if met else '**no**'} |")
    say("")
    say("![CPU and wall time per message](chart.png)")
    report = "\n".join(lines) + "\n"
    with open(os.path.join(docs, "report.md"), "w") as f:
        f.write(report)
    print(report)

    data = os.path.join(res, "chart.dat")
    with open(data, "w") as f:
        f.write(f'"authrelay\\n(resumed)" {a["cpu_ms"]:.3f} {a["wall_ms"]:.3f}\n')
        f.write(f'"authrelay\\n(full handshake)" {full["cpu_ms"]:.3f} {full["wall_ms"]:.3f}\n')
        f.write(f'"msmtp" {m["cpu_ms"]:.3f} {m["wall_ms"]:.3f}\n')
        f.write(f'"smtp(8)\\n(long-lived)" {smtp8["cpu_ms"]:.3f} NaN\n')
    script = f"""
set terminal png size 900,500
set output '{os.path.join(docs, "chart.png")}'
set title 'Per message, STARTTLS + AUTH PLAIN, one process each ({os.cpu_count()} cores)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'milliseconds per message'
set yrange [0:*]
set key top left
set bmargin 4
set grid ytics
plot '{data}' using 2:xtic(1) title 'CPU (user+sys)', '' using 3 title 'wall'
"""
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"bench_report: no chart ({e})", file=sys.stderr)


if __name__ == "__main__":
    main()
