# Sourced by the scripts that run a tool from PyPI (scripts/schemathesis.sh,
# scripts/dockerfile-check.sh). `pip_tool VENV PACKAGE VERSION`: that exact version in a venv
# of its own, left alone when VENV already holds it; on a clean Debian, as root, python3-venv
# is installed first.
pip_tool () {
  local venv=$1 package=$2 version=$3 python
  [ "$("$venv/bin/python" -m pip show "$package" 2>/dev/null | sed -n 's/^Version: //p')" != "$version" ] || return 0
  python=$(command -v python3.11 || command -v python3 || true)
  if [ -z "$python" ] || ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    echo "== installing Debian's python3 and python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \
      || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv; }
    python=$(command -v python3.11 || command -v python3)
  fi
  echo "== installing $package==$version into $venv/ with $("$python" --version)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$package==$version"
}
