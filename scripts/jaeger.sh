#!/usr/bin/env bash
# Jaeger all-in-one (collector + in-memory storage + query API), the trace collector
# test/faults/tracing.test.ts reads spans back from. Built once from the Go module proxy into
# /var/tmp/bookstore-tools/jaeger-v1.75.0/jaeger (scripts/lib/go-tool.sh); later runs find it.
# Prints the binary's path. The test starts its own throwaway on free loopback ports.
#   bash scripts/jaeger.sh
set -Eeuo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAEGER_VERSION="${JAEGER_VERSION:-v1.75.0}"
. "$root/scripts/lib/go-tool.sh"
go_tool jaeger github.com/jaegertracing/jaeger "$JAEGER_VERSION" ./cmd/all-in-one
