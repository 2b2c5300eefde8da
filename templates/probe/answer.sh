#!/bin/sh
# Answers a probe connection: which pid listens here ($1), and whether it is done checking (the file $2).
# Not run since the probe answers with gomel-probe listen (probe/main.go, the same line, with no
# process forked per question: issue 35); it stays as the probe image's payload, which must not be
# empty (the Dockerfile copies payload/).
echo "gomelctl-probe pid=$1 state=$(cat "${2:-/tmp/probe-state}" 2>/dev/null || echo starting)"
