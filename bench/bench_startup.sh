#!/usr/bin/env bash
# Benchmark (not a test) of cbs's start-up (issue 18, item 4): whole-process wall time and peak
# memory (max RSS) of `cbs --version` and of a 1000-step `cbs simulate` (the default recursion),
# each the median over RUNS runs after one unmeasured warm-up run. Goals: --version <= 20 ms and
# <= 40 MB; simulate <= 30 ms.
#
# How it measures: Debian's python3 starts each run as `/usr/bin/time -f %M cbs ...` (stdout to
# /dev/null) and reaps it with os.wait4. Wall time: time.perf_counter() from spawn to reap; CPU
# time: user + system time from that rusage (which counts the reaped cbs); both include GNU time's
# own start (~1 ms, ~1 ms CPU: `/usr/bin/time true`). Peak memory: GNU time's %M, the max RSS of
# cbs alone (not the rusage of a process spawned from python: on exec Linux keeps the spawning
# process's RSS high-water mark, ~10 MB of python's). On a busy machine wall times move more
# than CPU times; the load average is printed with the numbers. There, `chrt -f 1
# bench/bench_startup.sh` (root) runs it at real-time priority, so that wall time is the
# process's own cost rather than its wait for a core (about 1 s of CPU in all).
# Usage: bench/bench_startup.sh [CBS] [RUNS]   (defaults: build/cbs, 20)
set -euo pipefail
cbs=${1:-build/cbs}
runs=${2:-20}
[ -x "$cbs" ] || { echo "bench_startup: no executable '$cbs' (build first)" >&2; exit 2; }
echo "cbs: $cbs ($("$cbs" --version)), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "NEEDED CUDA/MPI libraries of the executable:" \
    "$(readelf -d "$cbs" | grep NEEDED | grep -Eo 'lib(cuda|cudart|cublas|cublasLt|mpi|mpi_cxx)\.so[^]]*' | tr '\n' ' ' || true)"
/usr/bin/python3 - "$cbs" "$runs" <<'PY'
import os, statistics, sys, tempfile, time

cbs, runs = sys.argv[1], int(sys.argv[2])
cases = [
    ("cbs --version", [cbs, "--version"], 20.0, 40.0),
    ("cbs simulate (1000 steps)", [cbs, "simulate", "--set", "steps=1000"], 30.0, None),
]
devnull = os.open(os.devnull, os.O_WRONLY)
actions = [(os.POSIX_SPAWN_DUP2, devnull, 1)]

def once(argv):
    with tempfile.NamedTemporaryFile("r") as rss_file:
        wrapped = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name] + argv
        start = time.perf_counter()
        pid = os.posix_spawn(wrapped[0], wrapped, os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        wall_ms = (time.perf_counter() - start) * 1e3
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.exit(f"bench_startup: {' '.join(argv)} failed (exit {code})")
        rss_mb = int(rss_file.read().split()[-1]) / 1024.0  # %M: KiB
    return wall_ms, (usage.ru_utime + usage.ru_stime) * 1e3, rss_mb

print(f"{'command':26} {'runs':>4} {'wall ms: median':>15} {'min':>6} {'max':>6} "
      f"{'CPU ms: median':>14} {'max RSS MB: median':>18}  goal (on median wall, RSS)")
for name, argv, goal_ms, goal_mb in cases:
    once(argv)  # warm-up: page cache, dynamic loader cache
    samples = [once(argv) for _ in range(runs)]
    wall = [w for w, _, _ in samples]
    cpu = [c for _, c, _ in samples]
    rss = [r for _, _, r in samples]
    med_ms, med_mb = statistics.median(wall), statistics.median(rss)
    goal = f"<= {goal_ms:g} ms" + (f", <= {goal_mb:g} MB" if goal_mb else "")
    met = med_ms <= goal_ms and (goal_mb is None or med_mb <= goal_mb)
    print(f"{name:26} {runs:>4} {med_ms:>15.1f} {min(wall):>6.1f} {max(wall):>6.1f} "
          f"{statistics.median(cpu):>14.1f} {med_mb:>18.1f}  {goal}: {'met' if met else 'NOT met'}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
