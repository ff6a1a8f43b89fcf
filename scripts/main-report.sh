#!/usr/bin/env bash
# The main job's report (scripts/main.sh): the default study's file beside every committed study
# file of data/results/ (the LM CBS study of docs/results-lm.md once it is committed), so one
# report shows theory, simulation, the published numbers and our own LM measurement.
#   scripts/main-report.sh CBS STUDY.h5 COMMITTED_DIR OUT_DIR
# Without committed files the report `cbs run` already wrote is left as it is.
set -euo pipefail
cbs="$1" study="$2" committed_dir="$3" out="$4"
shopt -s nullglob
committed=("$committed_dir"/*.h5)
if ((${#committed[@]} == 0)); then
    echo "main-report: no committed study files in $committed_dir; report of $study only" >&2
    exit 0
fi
echo "main-report: adding ${committed[*]} to the report" >&2
"$cbs" report "$study" "${committed[@]}" --out "$out"
