#!/usr/bin/env bash
# The test runner, as `npm test` runs it: tap with any arguments given. When a run fails, its
# failures are reported once more at the very end, from tap's saved results: a run prints
# thousands of lines, and a log cut to its tail (CI's) must still name what failed.
npx tap "$@" && exit 0
rc=$?
echo "== tap: the failures of this run, again"
# CI=1: the terse reporter without its progress redraws, which a log does not need.
CI=1 npx tap replay --reporter=terse "$@" || true
exit "$rc"
