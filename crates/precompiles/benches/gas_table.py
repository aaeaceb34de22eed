#!/usr/bin/env python3
"""Joins the `gas-row <id> <gas>` lines that benches/gas.rs prints with criterion's medians
(target/criterion/precompile/<op>/<param>/new/estimates.json) into the markdown table of
docs/PERFORMANCE.md ("Precompile gas"). Usage: gas_table.py BENCH_STDOUT [TARGET_DIR]"""
import json, os, sys

out, target = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else os.environ.get("CARGO_TARGET_DIR", "target"))
rows = []
for line in open(out):
    parts = line.split()
    if len(parts) == 3 and parts[0] == "gas-row":
        rows.append((parts[1], int(parts[2])))

def median_ns(bench_id):
    group, rest = bench_id.split("::", 1)
    # criterion flattens `/` in bench_function names to `_`, and nests BenchmarkId parameters.
    for parts in ([rest.replace("/", "_")], rest.split("/")):
        path = os.path.join(target, "criterion", group, *parts, "new", "estimates.json")
        if os.path.exists(path):
            return json.load(open(path))["median"]["point_estimate"]
    raise SystemExit(f"no criterion estimate for {bench_id} under {target}")

table = [(i, g, median_ns(i)) for i, g in rows]
ec = next(g / ns * 1000 for i, g, ns in table if i.endswith("ecrecover/128"))
print("| op / input bytes | gas | median | Mgas/s | ratio to ecrecover |")
print("|---|---:|---:|---:|---:|")
ratios = []
for i, g, ns in table:
    mgas = g / ns * 1000
    ratio = mgas / ec
    if not i.endswith("ecrecover/128"):
        ratios.append((ratio, i))
    t = f"{ns/1000:.1f} µs" if ns >= 1000 else f"{ns:.0f} ns"
    print(f"| `{i.split('::',1)[1]}` | {g} | {t} | {mgas:.1f} | {ratio:.2f} |")
low, at = min(ratios)
print(f"\nlowest ratio: {low:.2f} ({at.split('::', 1)[1]})")
