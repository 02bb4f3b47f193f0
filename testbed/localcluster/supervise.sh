#!/usr/bin/env bash
# supervise.sh NAME CMD...: run CMD, and run it again whenever it exits, until this script is sent
# TERM (lib.sh's stop). Each exit is logged with its status; a command that exits within 10 s of
# starting waits 5 s before the next try, so a broken one does not spin.
name="$1"; shift
child=""
ending() { [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0; }
trap ending TERM INT
while true; do
  began=$SECONDS
  "$@" &
  child=$!
  wait "$child"
  rc=$?
  child=""  # reaped: its pid may be reused
  echo "supervise: $name exited with status $rc; starting it again"
  if (( SECONDS - began < 10 )); then sleep 5 & else sleep 1 & fi
  wait $!
done
