# Sourced: builds a Go program once from the Go module proxy and caches the binary under
# /var/tmp/bookstore-tools (BOOKSTORE_TOOLS), the way helm, FerretDB and mailpit are built.
# `go install module/cmd@version` refuses a module whose go.mod has replace directives (Jaeger's
# has one), so the module's source is downloaded and built as the main module instead, which
# honours them.
#   go_tool NAME MODULE VERSION PACKAGE   -> prints the cached binary's path (building it first)
# The binary is $BOOKSTORE_TOOLS/NAME-VERSION/NAME; the build log beside it.
go_tool () {
  local name=$1 module=$2 version=$3 package=$4
  local dir="${BOOKSTORE_TOOLS:-/var/tmp/bookstore-tools}/$name-$version"
  local bin="$dir/$name" blog="$dir/build.log" go src work
  if [ -x "$bin" ]; then echo "$bin"; return 0; fi
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
  if ! (cd "$work/src" && GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 10 "$go" build -buildvcs=false -trimpath \
        -o "$work/$name" "$package") >>"$blog" 2>&1 3>&- 8>&-; then
    rm -rf "$work"; tail -n 20 "$blog" >&2; echo "go_tool: go build of $module@$version $package failed" >&2; return 1
  fi
  install -m 0755 "$work/$name" "$bin"
  rm -rf "$work"
  echo "$bin"
}
