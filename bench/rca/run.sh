#!/usr/bin/env bash
# Multi-dimensional localisation on every folder of a case set (default: the
# shared development set): F1 and time per case, per folder and overall, and
# the penalty chosen by leaving one folder out at a time.
#   bench/rca/run.sh [DATA_DIR]
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
DATA=${1:-$ROOT/../shared/data/rca}
(cd "$ROOT" && cargo build --release -q -p argus) || { echo "argus build failed" >&2; exit 1; }
OUT=$WORK/rca
mkdir -p "$OUT"
PENALTIES=${PENALTIES:-"1.5 3 4.5 6 8"}
folders=()
for d in "$DATA"/*/; do [ -f "$d/injection_info.csv" ] && folders+=("$(basename "$d")"); done
# counts[penalty,folder] = "tp fp fn"
declare -A counts
for p in $PENALTIES; do
  for f in "${folders[@]}"; do
    line=$("$ARGUS" eval rca --input "$DATA/$f" --out "$OUT/$f.$p.csv" --penalty "$p" | tail -1)
    tp=$(sed -E 's/.*TP ([0-9]+).*/\1/' <<<"$line"); fp=$(sed -E 's/.*FP ([0-9]+).*/\1/' <<<"$line"); fn=$(sed -E 's/.*FN ([0-9]+).*/\1/' <<<"$line")
    counts[$p,$f]="$tp $fp $fn"
    echo "penalty $p  $line"
  done
done
f1() { awk -v t="$1" -v p="$2" -v n="$3" 'BEGIN{d=2*t+p+n; printf "%.3f", d? 2*t/d : 1}'; }
echo
echo "Leaving one folder out: the penalty best on the others, scored on the one left out"
TT=0; TP=0; TN=0
for held in "${folders[@]}"; do
  best=""; bestf=-1
  for p in $PENALTIES; do
    t=0; fp=0; fn=0
    for f in "${folders[@]}"; do
      [ "$f" = "$held" ] && continue
      read -r a b c <<<"${counts[$p,$f]}"; t=$((t+a)); fp=$((fp+b)); fn=$((fn+c))
    done
    s=$(f1 $t $fp $fn)
    if awk -v s="$s" -v b="$bestf" 'BEGIN{exit !(s>b)}'; then best=$p; bestf=$s; fi
  done
  read -r a b c <<<"${counts[$best,$held]}"
  TT=$((TT+a)); TP=$((TP+b)); TN=$((TN+c))
  echo "  $held: penalty $best (F1 $bestf on the others) -> F1 $(f1 $a $b $c) (TP $a, FP $b, FN $c)"
done
echo "  cross-validated overall F1 $(f1 $TT $TP $TN) (TP $TT, FP $TP, FN $TN)"
