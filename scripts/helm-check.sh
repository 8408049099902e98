#!/usr/bin/env bash
# The Helm chart (deploy/helm/bookstore), offline, without a cluster:
#  1. helm v4 (built once with Go from the module proxy by scripts/lib/go-tool.sh, cached under
#     /var/tmp/bookstore-tools);
#  2. kubernetes-validate (PyPI, pinned, its Kubernetes schemas bundled; scripts/lib/pip-tool.sh);
#  3. `helm lint` and `helm lint --strict` with each values file of the chart's ci/ folder;
#  4. the chart rendered with the default values plus each of those files (one mode each:
#     MySQL + Redis, Sentinel, Cluster, read replicas, an existing Secret, one SQLite pod),
#     every manifest validated, strictly (no unknown field), against the oldest Kubernetes the
#     chart's kubeVersion admits and a recent one;
#  5. that the checks can fail: the default values alone refuse to render (no JWT secret), and
#     a manifest with a misspelt field is rejected by the validator.
# After the first run (helm's build takes a few minutes) it takes seconds.
#   bash scripts/helm-check.sh
set -Eeuo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELM_VERSION=v4.3.2
KUBERNETES_VALIDATE_VERSION=1.37.0
# The chart's kubeVersion floor (Chart.yaml) and the newest the validator bundles.
KUBE_VERSIONS="1.25.0 1.37.0"
tools=${BOOKSTORE_TOOLS:-/var/tmp/bookstore-tools}
chart=$root/deploy/helm/bookstore

say () { echo "helm-check: $*"; }
die () { echo "helm-check: FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d /tmp/helm-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# helm keeps caches and config under $HOME; nothing of the user's is read or written.
export HELM_CACHE_HOME=$tmp/helm/cache HELM_CONFIG_HOME=$tmp/helm/config HELM_DATA_HOME=$tmp/helm/data

# ---- 1. helm ----
. "$root/scripts/lib/go-tool.sh"
helm_runs () { "$1" version >/dev/null 2>&1; }
helm=$(go_tool helm helm.sh/helm/v4 "$HELM_VERSION" ./cmd/helm --current helm_runs) || die "could not build helm $HELM_VERSION (above)"
say "helm $("$helm" version --short 2>/dev/null || echo "$HELM_VERSION") at $helm"

# ---- 2. kubernetes-validate ----
. "$root/scripts/lib/pip-tool.sh"
validator_venv=$tools/kubernetes-validate
pip_tool "$validator_venv" kubernetes-validate "$KUBERNETES_VALIDATE_VERSION"
validate () { # kube-version file
  "$validator_venv/bin/kubernetes-validate" --strict --quiet -k "$1" "$2"
}

# ---- 3. lint ----
modes=("$chart"/ci/*-values.yaml)
[ "${#modes[@]}" -gt 0 ] && [ -f "${modes[0]}" ] || die "no values files in $chart/ci/"
for values in "${modes[@]}"; do
  name=$(basename "$values" -values.yaml)
  "$helm" lint "$chart" -f "$values" >"$tmp/lint.log" 2>&1 || { cat "$tmp/lint.log"; die "helm lint with ci/$name-values.yaml"; }
  "$helm" lint --strict "$chart" -f "$values" >"$tmp/lint.log" 2>&1 || { cat "$tmp/lint.log"; die "helm lint --strict with ci/$name-values.yaml"; }
done
say "helm lint, and --strict: no findings with ${#modes[@]} values files"

# ---- 4. render and validate ----
for values in "${modes[@]}"; do
  name=$(basename "$values" -values.yaml)
  for kube in $KUBE_VERSIONS; do
    out=$tmp/$name-$kube.yaml
    "$helm" template bookstore "$chart" -f "$values" --kube-version "$kube" >"$out" 2>"$tmp/render.log" \
      || { cat "$tmp/render.log"; die "helm template with ci/$name-values.yaml (Kubernetes $kube)"; }
    kinds=$(sed -n 's/^kind: //p' "$out" | sort | tr '\n' ' ')
    validate "$kube" "$out" || die "ci/$name-values.yaml renders manifests Kubernetes $kube's schemas reject (above)"
  done
  say "$name: ${kinds}valid on Kubernetes ${KUBE_VERSIONS// /, }"
done

# ---- 5. the checks can fail ----
if "$helm" template bookstore "$chart" >/dev/null 2>"$tmp/refused.log"; then
  die "the default values alone rendered: the chart must refuse to run without a JWT secret"
fi
grep -q 'no JWT secret' "$tmp/refused.log" || { cat "$tmp/refused.log"; die "the default values failed, but not with the JWT secret message"; }
say "the default values alone are refused: $(grep -o 'no JWT secret[^.]*' "$tmp/refused.log" | head -n 1)"

sed 's/terminationGracePeriodSeconds:/terminationGracePeriodSecond:/' "$tmp/mysql-redis-${KUBE_VERSIONS##* }.yaml" >"$tmp/bad.yaml"
cmp -s "$tmp/bad.yaml" "$tmp/mysql-redis-${KUBE_VERSIONS##* }.yaml" && die "could not misspell a field for the validator's own check"
if validate "${KUBE_VERSIONS##* }" "$tmp/bad.yaml" >"$tmp/bad.log" 2>&1; then
  die "kubernetes-validate accepted a Deployment with a misspelt field: the validation proves nothing"
fi
say "a misspelt field is rejected by the validator, as it must be"
say "ok"
