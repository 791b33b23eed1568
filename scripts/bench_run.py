#!/usr/bin/env python3
"""Runs commands one process per message and measures each run exactly.

    bench_run.py ROUNDS PER_ROUND INPUT -- NAME CMD... [:: NAME CMD...]...

Each round runs every named command PER_ROUND times, one after the other,
so slow drift of a shared machine falls on all of them alike. Per run:
wall time, user+sys CPU from wait4() (microseconds, not clock ticks) and
peak RSS. Each command is started by BENCH_SPAWN (the built
scripts/bench_spawn.c), a small launcher that reports the command's own CPU
and peak RSS: started from this Python, a command's peak RSS would read at
least Python's (Linux keeps the pre-exec peak). Prints one JSON object:
{name: {wall_ms, cpu_ms, user_ms, sys_ms, rss_kib, runs, fails, error}}.
"""
import json
import os
import subprocess
import sys
import time


def main():
    rounds, per_round, input_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    assert sys.argv[4] == "--"
    commands, cur = [], []
    for arg in sys.argv[5:] + ["::"]:
        if arg == "::":
            commands.append((cur[0], cur[1:]))
            cur = []
        else:
            cur.append(arg)
    spawn = os.environ["BENCH_SPAWN"]
    stats = {name: dict(wall=0.0, user=0.0, sys=0.0, rss=0, runs=0, fails=0, error="") for name, _ in commands}
    for _ in range(rounds):
        for name, cmd in commands:
            s = stats[name]
            for _ in range(per_round):
                # The command's own rusage, from the small launcher
                # (bench_spawn.c says why not ours).
                start = time.perf_counter()
                p = subprocess.run([spawn, input_path] + cmd, stdin=subprocess.DEVNULL, capture_output=True)
                s["wall"] += time.perf_counter() - start
                out = p.stdout
                utime, stime, maxrss, status = (int(x) for x in p.stderr.split()[-4:])
                s["user"] += utime / 1e6
                s["sys"] += stime / 1e6
                s["rss"] = max(s["rss"], maxrss)
                s["runs"] += 1
                if status != 0:
                    s["fails"] += 1
                    s["error"] = out.decode(errors="replace")[-300:]
    result = {}
    for name, s in stats.items():
        n = max(s["runs"], 1)
        result[name] = dict(wall_ms=1000 * s["wall"] / n, cpu_ms=1000 * (s["user"] + s["sys"]) / n,
                            user_ms=1000 * s["user"] / n, sys_ms=1000 * s["sys"] / n, rss_kib=s["rss"],
                            runs=s["runs"], fails=s["fails"], error=s["error"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
