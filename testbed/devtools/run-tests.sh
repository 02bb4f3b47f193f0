#!/usr/bin/env bash
# `make test` / `make test-cluster`: the suite as two pytest sessions at once.
#
#   bash testbed/devtools/run-tests.sh [PATH...]     # default: tests
#
# The real node's module (tests/cluster/real_node/) spends most of its ~25 min waiting: for a
# drain, an alert's `for`, the HPA's windows, pods to pull and start. It has its own control plane
# (build/test-real-node, ports 16700+), so it runs as one lane while everything else (the program
# under mocks, the servers on loopback, the kwok control plane on 16500+) runs as the other. Serial,
# the two took 47 min in CI (12781c4). TEST_LANES=1 runs one session instead, as before.
#
# Each lane's output goes to the terminal with its name in front and, whole, to
# build/test-logs/<lane>.log. The exit status is the first failing lane's.
set -uo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON_BIN:-venv/bin/python}"
real=tests/cluster/real_node
pytest=("$python" -m pytest -q -rfEs --durations=15)
(( $# )) || set -- tests

if [[ "${TEST_LANES:-2}" == 1 ]]; then
  exec "${pytest[@]}" "$@"
fi

# Whether PATHs include the real node's module (a folder above it, or the module itself).
with_real=0
for path in "$@"; do
  [[ "$real" == "${path%/}" || "$real" == "${path%/}"/* ]] && with_real=1
done

logs=build/test-logs
mkdir -p "$logs"
lane() {  # lane NAME PYTEST-ARGS...: one pytest session, its own temporary directory
  local name="$1"; shift
  "${pytest[@]}" --basetemp="build/pytest-$name" "$@" 2>&1 | tee "$logs/$name.log" | sed -u "s/^/[$name] /"
  return "${PIPESTATUS[0]}"
}

start=$SECONDS
names=() pids=()
if (( with_real )); then
  lane real-node "$real" & pids+=($!); names+=(real-node)
fi
lane rest "$@" --ignore="$real" & pids+=($!); names+=(rest)

count() {  # count WORD LINE: the number before WORD in pytest's closing line (0 if absent)
  local n
  n=$(grep -oE "[0-9]+ $1" <<<"$2" | head -n 1 | cut -d' ' -f1)
  echo "${n:-0}"
}

status=0 passed=0 failed=0 skipped=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}"; rc=$?
  # pytest: 5 = nothing collected (PATHs that hold only the real node's module).
  (( rc == 5 )) && [[ "${names[$i]}" == rest ]] && rc=0
  closing=$(grep -E '[0-9]+ (passed|failed|errors?)' "$logs/${names[$i]}.log" | tail -n 1)
  printf '==> %-9s exit %d: %s\n' "${names[$i]}" "$rc" "$closing"
  (( passed += $(count passed "$closing") ))
  (( failed += $(count failed "$closing") + $(count error "$closing") ))
  (( skipped += $(count skipped "$closing") ))
  (( status == 0 && rc != 0 )) && status=$rc
done
printf '==> both lanes in %d s (logs: %s/)\n' $((SECONDS - start)) "$logs"
# Repeated last, so the end of the output (often all a CI page keeps) names what failed in either lane.
for name in "${names[@]}"; do
  grep -E '^(FAILED|ERROR) ' "$logs/$name.log" | cut -c1-400 | sed "s/^/==> [$name] /"
done
# One plain closing line for both lanes (each lane's own is prefixed with its name above).
line="tests: $passed passed, $failed failed"
(( skipped )) && line+=", $skipped skipped"
echo "$line"
exit "$status"
