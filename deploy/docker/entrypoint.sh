#!/bin/sh
# Container entrypoint: `slaengine <command> ...` with a worker id unique per replica.
set -eu
# Replicas of a scaled compose service share one environment; the container hostname tells
# them apart and names each worker's local state directory.
if [ -z "${SLAENGINE_WORKER_ID:-}" ]; then
    SLAENGINE_WORKER_ID="$(hostname)"
    export SLAENGINE_WORKER_ID
fi
exec slaengine "$@"
