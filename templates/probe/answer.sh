#!/bin/sh
# Answers a probe connection: which pid listens here ($1), and whether it is done checking (the file $2).
echo "gomelctl-probe pid=$1 state=$(cat "${2:-/tmp/probe-state}" 2>/dev/null || echo starting)"
