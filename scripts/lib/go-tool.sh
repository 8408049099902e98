# Sourced: builds a Go program once from the Go module proxy and caches the binary under
# /var/tmp/bookstore-tools (BOOKSTORE_TOOLS), the way Jaeger, FerretDB and mailpit are built.
# `go install module/cmd@version` refuses a module whose go.mod has replace directives (Jaeger's
# has one), so the module's source is downloaded and built as the main module instead, which
# honours them.
#   go_tool NAME MODULE VERSION PACKAGE [OPTION...]   -> prints the cached binary's path (building it first)
# The binary is $BOOKSTORE_TOOLS/NAME-VERSION/NAME; the build log is always beside that path.
# Options, for the programs that need more than a plain build:
#   --bin PATH     keep the binary at PATH instead (FerretDB and mailpit have lived in
#                  /usr/local/bin, on the PATH the tests spawn them from, since before this
#                  helper: a new path would rebuild them on every machine that has them)
#   --current FN   `FN BINARY` succeeds when BINARY is VERSION and runs. It decides whether the
#                  binary at the path is kept (an unversioned --bin path may hold an older
#                  one), and the new build must pass it before it is installed. Default: it is
#                  executable.
#   --prepare FN   `FN SRC` runs in the module's writable copy before the build (a file the
#                  module zip lacks)
#   --ldflags S    go build -ldflags S
go_tool () {
  local name=$1 module=$2 version=$3 package=$4
  shift 4
  local dir="${BOOKSTORE_TOOLS:-/var/tmp/bookstore-tools}/$name-$version"
  local bin="$dir/$name" current=go_tool_executable prepare='' ldflags=''
  while [ "$#" -gt 0 ]; do
    case $1 in
      --bin) bin=$2 ;;
      --current) current=$2 ;;
      --prepare) prepare=$2 ;;
      --ldflags) ldflags=$2 ;;
      *) echo "go_tool: unknown option $1" >&2; return 2 ;;
    esac
    shift 2
  done
  local blog="$dir/build.log" go src work
  if "$current" "$bin" >/dev/null 2>&1; then echo "$bin"; return 0; fi
  go="$(command -v go 2>/dev/null || true)"
  if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go; fi
  [ -n "$go" ] || { echo "go_tool: no Go toolchain to build $name $version (looked on PATH and /usr/local/go/bin/go)" >&2; return 1; }
  mkdir -p "$dir"
  echo "go_tool: building $name $version with $("$go" version | cut -d' ' -f3) (minutes on 2 cores, once; log: $blog)" >&2
  work="$(mktemp -d "$dir/build.XXXXXX")"
  src="$(cd "$work" && GOFLAGS= "$go" mod download -json "$module@$version" 2>>"$blog" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n 1)" || true
  if [ -z "$src" ] || [ ! -d "$src" ]; then
    rm -rf "$work"; tail -n 20 "$blog" >&2; echo "go_tool: could not download $module@$version" >&2; return 1
  fi
  cp -R "$src" "$work/src" && chmod -R u+w "$work/src"
  if [ -n "$prepare" ] && ! "$prepare" "$work/src" >>"$blog" 2>&1; then
    rm -rf "$work"; tail -n 20 "$blog" >&2; echo "go_tool: $prepare failed on $module@$version's source" >&2; return 1
  fi
  if ! (cd "$work/src" && GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 10 "$go" build -buildvcs=false -trimpath \
        ${ldflags:+-ldflags "$ldflags"} -o "$work/$name" "$package") >>"$blog" 2>&1 3>&- 8>&-; then
    rm -rf "$work"; tail -n 20 "$blog" >&2; echo "go_tool: go build of $module@$version $package failed" >&2; return 1
  fi
  if ! "$current" "$work/$name" >>"$blog" 2>&1; then
    rm -rf "$work"; tail -n 20 "$blog" >&2; echo "go_tool: the $name just built fails $current" >&2; return 1
  fi
  # /usr/local/bin wants root; the services script runs as root, or with sudo where it may.
  if [ -w "$(dirname "$bin")" ]; then install -m 0755 "$work/$name" "$bin"; else sudo -n install -m 0755 "$work/$name" "$bin"; fi || {
    rm -rf "$work"; echo "go_tool: could not install $name at $bin" >&2; return 1
  }
  rm -rf "$work"
  echo "$bin"
}

go_tool_executable () { [ -x "$1" ]; }
