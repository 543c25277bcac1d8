#!/usr/bin/env bash
# Compares the agent's GPU series with nvidia-smi on a host WITH an NVIDIA GPU.
#
#   scripts/gpu-check.sh            # builds argus (release), runs `argus agent` briefly
#   ARGUS=/path/to/argus scripts/gpu-check.sh   # uses that binary instead of building
#
# It scrapes /metrics, runs `nvidia-smi -q -x`, scrapes again, and prints one
# table per GPU (matched by UUID): each figure, Argus's value(s) and
# nvidia-smi's. A figure fails when nvidia-smi's value lies outside
# [min(argus1, argus2) - tol, max(argus1, argus2) + tol]. Tolerances:
#   utilisation    10 percentage points   (moves between readings)
#   power          10 W or 15 %           (moves between readings)
#   SM/graphics clock 15 %, memory clock 2 %  (boost and idle move them)
#   temperature    3 °C
#   memory used    2 % of total (allocations move); memory total 1 MiB
#   ECC counts, PCIe width, PCIe replays: exact
# PCIe link generation and throttle reasons are shown but never fail: an idle
# GPU lowers its link generation and the reasons flip with load.
# Exits 0 when every compared figure agrees, 1 when one differs, 2 on setup errors.
set -euo pipefail

cd "$(dirname "$0")/.."
PORT="${PORT:-19798}"
command -v nvidia-smi >/dev/null || { echo "nvidia-smi not found" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 2; }
if [[ -z "${ARGUS:-}" ]]; then
  cargo build --release -p argus >&2
  ARGUS="${CARGO_TARGET_DIR:-target}/release/argus"
fi

work="$(mktemp -d)"
agent_pid=""
cleanup() {
  if [[ -n "$agent_pid" ]]; then kill "$agent_pid" 2>/dev/null || true; wait "$agent_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

printf 'listen: 127.0.0.1:%s\n' "$PORT" >"$work/agent.yml"
"$ARGUS" agent --config "$work/agent.yml" --buffer-dir "$work/buffer" >"$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$PORT/metrics" -o "$work/m1.txt" 2>/dev/null && break
  sleep 0.2
done
[[ -s "$work/m1.txt" ]] || { echo "the agent did not serve /metrics:" >&2; cat "$work/agent.log" >&2; exit 2; }
sleep 1
curl -fsS "http://127.0.0.1:$PORT/metrics" -o "$work/m1.txt"
nvidia-smi -q -x >"$work/smi.xml"
curl -fsS "http://127.0.0.1:$PORT/metrics" -o "$work/m2.txt"

python3 - "$work/m1.txt" "$work/m2.txt" "$work/smi.xml" <<'PY'
import re, sys
import xml.etree.ElementTree as ET

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

def scrape(path):
    out = []
    for line in open(path):
        if line.startswith('#'):
            continue
        m = LINE.match(line)
        if m and m.group(1).startswith('argus_gpu_'):
            labels = dict(LABEL.findall(m.group(2) or ''))
            out.append((m.group(1), labels, float(m.group(3))))
    return out

def get(samples, name, uuid, **want):
    for n, l, v in samples:
        if n == name and l.get('uuid') == uuid and all(l.get(k) == x for k, x in want.items()):
            return v
    return None

def num(node, path):
    """The leading number of an nvidia-smi text ("1980 MHz", "16x"), None for N/A."""
    if node is None:
        return None
    e = node.find(path)
    if e is None or e.text is None:
        return None
    m = re.match(r'\s*(-?[0-9.]+)', e.text)
    return float(m.group(1)) if m else None

def first(node, *paths):
    for p in paths:
        v = num(node, p)
        if v is not None:
            return v
    return None

def ecc(gpu, scope, kind):
    """Corrected (kind='c') or uncorrected ('u') ECC total, old or new XML layout."""
    old = num(gpu, f'ecc_errors/{scope}/{"single_bit" if kind == "c" else "double_bit"}/total')
    if old is not None:
        return old
    # Newer drivers: sram_/dram_ (un)correctable, the SRAM ones maybe split
    # (sram_uncorrectable_parity, sram_uncorrectable_secded).
    name = 'correctable' if kind == 'c' else 'uncorrectable'
    block = gpu.find(f'ecc_errors/{scope}')
    if block is None:
        return None
    parts = []
    for e in block:
        for mem in ('sram_', 'dram_'):
            if e.tag == mem + name or e.tag.startswith(mem + name + '_'):
                v = num(block, e.tag)
                if v is not None:
                    parts.append(v)
    return sum(parts) if parts else None

REASONS = ['gpu_idle', 'applications_clocks_setting', 'sw_power_cap', 'hw_slowdown', 'sync_boost',
           'sw_thermal_slowdown', 'hw_thermal_slowdown', 'hw_power_brake_slowdown', 'display_clock_setting']

def reason(gpu, r):
    for block, prefix in (('clocks_event_reasons', 'clocks_event_reason_'),
                          ('clocks_throttle_reasons', 'clocks_throttle_reason_')):
        e = gpu.find(f'{block}/{prefix}{r}')
        if e is not None and e.text:
            t = e.text.strip()
            if t == 'Active':
                return 1.0
            if t == 'Not Active':
                return 0.0
    return None

m1, m2 = scrape(sys.argv[1]), scrape(sys.argv[2])
root = ET.parse(sys.argv[3]).getroot()
MIB = 1024 * 1024
failed = 0
compared = 0
for gpu in root.findall('gpu'):
    uuid = (gpu.findtext('uuid') or '').strip()
    total_mib = num(gpu, 'fb_memory_usage/total') or 0
    rows = []  # (figure, argus name, labels, scale to nvidia-smi's unit, smi value, tolerance fn or None)
    pct = lambda a, s: 10.0
    rows.append(('utilisation %', 'argus_gpu_utilization_ratio', {}, 100.0, num(gpu, 'utilization/gpu_util'), pct))
    rows.append(('memory used MiB', 'argus_gpu_memory_used_bytes', {}, 1 / MIB, num(gpu, 'fb_memory_usage/used'),
                 lambda a, s: max(1.0, 0.02 * total_mib)))
    rows.append(('memory total MiB', 'argus_gpu_memory_total_bytes', {}, 1 / MIB, total_mib or None, lambda a, s: 1.0))
    rows.append(('temperature C', 'argus_gpu_temperature_celsius', {}, 1.0, num(gpu, 'temperature/gpu_temp'),
                 lambda a, s: 3.0))
    rows.append(('memory temperature C', 'argus_gpu_memory_temperature_celsius', {}, 1.0,
                 num(gpu, 'temperature/memory_temp'), lambda a, s: 3.0))
    rows.append(('power W', 'argus_gpu_power_watts', {}, 1.0,
                 first(gpu, 'gpu_power_readings/power_draw', 'power_readings/power_draw'),
                 lambda a, s: max(10.0, 0.15 * s)))
    for clock, path, tol in (('sm', 'clocks/sm_clock', 0.15), ('graphics', 'clocks/graphics_clock', 0.15),
                             ('memory', 'clocks/mem_clock', 0.02)):
        rows.append((f'{clock} clock MHz', 'argus_gpu_clock_hertz', {'clock': clock}, 1e-6, num(gpu, path),
                     lambda a, s, tol=tol: max(1.0, tol * s)))
    for scope in ('volatile', 'aggregate'):
        for kind, ty in (('c', 'corrected'), ('u', 'uncorrected')):
            rows.append((f'ECC {ty} {scope}', 'argus_gpu_ecc_errors_total', {'type': ty, 'scope': scope}, 1.0,
                         ecc(gpu, scope, kind), lambda a, s: 0.0))
    rows.append(('PCIe link width', 'argus_gpu_pcie_link_width', {}, 1.0,
                 num(gpu, 'pci/pci_gpu_link_info/link_widths/current_link_width'), lambda a, s: 0.0))
    rows.append(('PCIe link gen (info)', 'argus_gpu_pcie_link_generation', {}, 1.0,
                 num(gpu, 'pci/pci_gpu_link_info/pcie_gen/current_link_gen'), None))
    rows.append(('PCIe replays', 'argus_gpu_pcie_replays_total', {}, 1.0, num(gpu, 'pci/replay_counter'),
                 lambda a, s: 0.0))
    for r in REASONS:
        rows.append((f'throttle {r} (info)', 'argus_gpu_throttle_reason_active', {'reason': r}, 1.0,
                     reason(gpu, r), None))

    print(f'\nGPU {uuid} ({(gpu.findtext("product_name") or "").strip()})')
    print(f'{"figure":44} {"argus":>24} {"nvidia-smi":>12} {"tolerance":>10}  result')
    for figure, name, labels, scale, smi, tol in rows:
        a1, a2 = get(m1, name, uuid, **labels), get(m2, name, uuid, **labels)
        vals = [v * scale for v in (a1, a2) if v is not None]
        shown = ' / '.join(f'{v:.6g}' for v in vals) or '-'
        smis = '-' if smi is None else f'{smi:.6g}'
        if not vals or smi is None:
            result, tols = 'not both', '-'
        elif tol is None:
            result = 'info (same)' if smi in vals else 'info (differs)'
            tols = '-'
        else:
            t = tol(vals[0], smi)
            tols = f'{t:.6g}'
            compared += 1
            if min(vals) - t <= smi <= max(vals) + t:
                result = 'ok'
            else:
                result = 'DIFFERS'
                failed += 1
        print(f'{figure:44} {shown:>24} {smis:>12} {tols:>10}  {result}')

print(f'\n{compared} figures compared, {failed} differ.')
if compared == 0:
    print('No figure could be compared: does the agent report argus_gpu_* series?', file=sys.stderr)
    sys.exit(2)
sys.exit(1 if failed else 0)
PY
