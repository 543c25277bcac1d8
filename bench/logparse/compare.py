#!/usr/bin/env python3
"""Template mining, Argus beside drain3 (PyPI), on every system of a Loghub-style directory.

Both parsers get the same lines and the same header format (Loghub's convention); both outputs are
scored by the one function below (GA, FGA, PA, FTA as defined in the data's FORMAT.md), and the CPU
time of each is measured (Argus: the `argus eval logparse` process; drain3: this process).

    python3 -m pip install drain3
    python3 bench/logparse/compare.py --data ../shared/data/logs --argus target/release/argus
"""
import argparse, csv, io, os, re, resource, subprocess, sys, tempfile, time
from collections import defaultdict


def formats(data):
    out = {}
    for line in open(os.path.join(data, "FORMAT.md"), encoding="utf-8"):
        cells = line.split(" | ")
        if len(cells) >= 4 and line.startswith("| ") and "`" in cells[3]:
            system = cells[0][2:].strip()
            fmt = cells[3].strip().rstrip("|").strip().strip("`")
            if os.path.exists(os.path.join(data, system, f"{system}_2k.log")):
                out[system] = fmt
    return out


def format_regex(fmt):
    parts = re.split(r"(<[^<>]+>)", fmt.strip())
    rx = ""
    for p in parts:
        if p.startswith("<") and p.endswith(">"):
            rx += f"(?P<{p[1:-1]}>.*?)"
        else:
            rx += re.sub(" +", r"\\s+", p)
    return re.compile("^" + rx + "$", re.S)


def contents(path, fmt):
    rx = format_regex(fmt)
    text = open(path, encoding="utf-8", errors="replace").read()
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    out = []
    for l in lines:
        t = l.rstrip("\r").strip()
        m = rx.match(t)
        out.append(m.group("Content") if m else t)
    return out


def norm(t):
    return " ".join(t.split())


def f1(p, r):
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def score(truth, ours):
    n = min(len(truth), len(ours))
    t = [norm(x) for x in truth[:n]]
    o = [norm(x) for x in ours[:n]]
    tg, og = defaultdict(list), defaultdict(list)
    for i in range(n):
        tg[t[i]].append(i)
        og[o[i]].append(i)
    exact_lines = exact = 0
    for lines in tg.values():
        if og[o[lines[0]]] == lines:
            exact_lines += len(lines)
            exact += 1
    right = sum(1 for tmpl, lines in og.items() if all(t[i] == tmpl for i in lines))
    return dict(
        GA=exact_lines / n,
        FGA=f1(exact / len(og), exact / len(tg)),
        PA=sum(1 for i in range(n) if t[i] == o[i]) / n,
        FTA=f1(right / len(og), right / len(tg)),
    )


def truth_of(data, system):
    p = os.path.join(data, system, f"{system}_2k.log_structured_corrected.csv")
    rows = sorted(csv.DictReader(open(p, encoding="utf-8")), key=lambda r: int(r["LineId"]))
    return [r["EventTemplate"] for r in rows]


def drain3_run(lines):
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig
    cfg = TemplateMinerConfig()
    cfg.profiling_enabled = False
    miner = TemplateMiner(config=cfg)
    t0 = time.process_time()
    ids = [miner.add_log_message(l)["cluster_id"] for l in lines]
    by_id = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    out = [by_id[i] for i in ids]
    return out, time.process_time() - t0


def argus_run(argus, path, fmt):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.csv")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([argus, "eval", "logparse", "--input", path, "--format", fmt, "--out", out], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows = sorted(csv.DictReader(open(out, encoding="utf-8")), key=lambda r: int(r["LineId"]))
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return [r["EventTemplate"] for r in rows], cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--argus", required=True)
    a = ap.parse_args()
    print(f"{'system':<11} {'parser':<7} {'GA':>6} {'FGA':>6} {'PA':>6} {'FTA':>6} {'lines/CPU-s':>12}")
    means = defaultdict(lambda: defaultdict(float))
    fm = formats(a.data)
    for system, fmt in fm.items():
        path = os.path.join(a.data, system, f"{system}_2k.log")
        truth = truth_of(a.data, system)
        for name, run in (("argus", lambda: argus_run(a.argus, path, fmt)), ("drain3", lambda: drain3_run(contents(path, fmt)))):
            ours, cpu = run()
            s = score(truth, ours)
            for k, v in s.items():
                means[name][k] += v / len(fm)
            print(f"{system:<11} {name:<7} {s['GA']:6.3f} {s['FGA']:6.3f} {s['PA']:6.3f} {s['FTA']:6.3f} {len(ours) / max(cpu, 1e-9):12.0f}")
    for name, m in means.items():
        print(f"{'mean':<11} {name:<7} {m['GA']:6.3f} {m['FGA']:6.3f} {m['PA']:6.3f} {m['FTA']:6.3f}")


if __name__ == "__main__":
    sys.exit(main())
