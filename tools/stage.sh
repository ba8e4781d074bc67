#!/usr/bin/env bash
# Run one stage of a pipeline and say how long it took: `stage.sh NAME COMMAND...`.
set -u
name=$1; shift
start=$(date +%s)
echo "==> $name"
"$@"
rc=$?
echo "<== $name: $([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $(( $(date +%s) - start ))s"
exit $rc
