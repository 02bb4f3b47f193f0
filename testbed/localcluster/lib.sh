# Shared by cluster.sh and node/node.sh: processes started and stopped by pid, readiness waits,
# certificates from the cluster's CA, its fixed facts. The caller sets DIR (the cluster's directory),
# PORT_BASE and LOG_TAG.
T0=${T0:-$SECONDS}
LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The cluster's fixed facts (address ranges, names, the restricted UID, ports as offsets from the
# caller's PORT_BASE): cluster.env, which the Python harness and the tests read too.
# shellcheck source=cluster.env
. "$LIB_DIR/cluster.env"
for offset in $(compgen -v | grep '_PORT_OFFSET$'); do printf -v "${offset%_OFFSET}" '%s' "$((PORT_BASE + ${!offset}))"; done

log() { printf '[%s %3ds] %s\n' "${LOG_TAG:-cluster}" $((SECONDS - T0)) "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Alive, and not a zombie: a killed process whose parent is gone stays one where PID 1 does not reap.
pid_alive() {
  [[ -f "$DIR/pids/$1" ]] || return 1
  local pid; pid="$(cat "$DIR/pids/$1")"
  kill -0 "$pid" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}

start() {  # start NAME CMD...: in the background, output to logs/NAME.log
  local name="$1"; shift
  if pid_alive "$name"; then return 0; fi
  nohup "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name"
}

# start_supervised NAME CMD...: as start, under supervise.sh, which starts it again whenever it exits.
# Its own session: stop ends the supervisor and the process together.
start_supervised() {
  local name="$1"; shift
  if pid_alive "$name"; then return 0; fi
  setsid nohup bash "$LIB_DIR/supervise.sh" "$name" "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name"
}

stop() {  # stop NAME...: TERM, up to 10 s, then KILL; prints the names it stopped
  local name pid leads
  for name in "$@"; do
    if pid_alive "$name"; then
      pid="$(cat "$DIR/pids/$name")"
      # A supervised process leads its own session: its group goes too (never a group it does not lead).
      leads=""; [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]] && leads=1
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
      if [[ -n "$leads" ]]; then kill -9 -- "-$pid" 2>/dev/null || true; fi
      printf '%s ' "$name"
    fi
    rm -f "$DIR/pids/$name"
  done
}

wait_for() {  # wait_for WHAT SECONDS CMD...
  local what="$1" limit="$2"; shift 2
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start > limit )); then
      die "$what not ready after ${limit}s; logs in $DIR/logs/"
    fi
    sleep 0.5
  done
}

kc() { kubectl --kubeconfig "$DIR/kubeconfig" "$@"; }

cert() {  # cert NAME CN O [SANs]: a key and a certificate from the cluster's CA in $DIR/pki
  local p="$DIR/pki" name="$1" cn="$2" org="$3" sans="${4:-}"
  local subj="/CN=$cn"; [[ -n "$org" ]] && subj="/O=$org$subj"
  openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$p/$name.key" -out "$p/$name.csr" 2>/dev/null
  local ext="$p/$name.ext"
  if [[ -n "$sans" ]]; then
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$sans" >"$ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' >"$ext"
  fi
  openssl x509 -req -in "$p/$name.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
    -days 3650 -extfile "$ext" -out "$p/$name.crt" 2>/dev/null
}

# A kubeconfig for one of the cluster's client certificates (pki/NAME.crt): the admin's, the kubelet's,
# an add-on's. Its cluster and context are named after the cluster ($NAME, else local).
kubeconfig() {  # kubeconfig FILE CERT-NAME
  local file="$1" who="$2" p="$DIR/pki" name="${NAME:-local}"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $name
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $p/ca.crt
users:
- name: $who
  user:
    client-certificate: $p/$who.crt
    client-key: $p/$who.key
contexts:
- name: $name
  context: {cluster: $name, user: $who}
current-context: $name
EOF
}

# The Kubernetes objects the cluster itself needs are files in manifests/, applied as such: each
# ${VAR} in one is replaced by that shell variable's value (an unset one is an error, not "").
manifest() {  # manifest FILE: the file, rendered, on stdout
  local text var pattern
  text="$(<"$LIB_DIR/manifests/$1")"
  for var in $(grep -o '\${[A-Za-z_][A-Za-z0-9_]*}' <<<"$text" | tr -d '${}' | sort -u); do
    [[ -v "$var" ]] || { echo "manifests/$1: \${$var} is not set" >&2; return 1; }
    pattern="\${$var}"
    text="${text//"$pattern"/"${!var}"}"
  done
  printf '%s\n' "$text"
}

apply_manifest() {  # apply_manifest FILE
  manifest "$1" | kc apply --server-side --field-manager local-cluster -f - >/dev/null
}
