#!/usr/bin/env bash
# docker/Dockerfile.serve's recipe, run without a Docker engine (none runs on the development machines): a clean
# Debian bookworm root (debootstrap; the image's base, python:3.11-slim, is Debian bookworm with Python 3.11), the
# Dockerfile's own COPY sources and RUN line, its USER, ENTRYPOINT + CMD and HEALTHCHECK, the bundle mounted
# read-only at /bundle as `docker run -v ...:/bundle:ro` does. It checks what the image promises: wheels only, no
# torch/transformers/tensorflow, /readyz healthy as the unprivileged user, an answer from outside, SIGTERM drains and
# exits 0. What it does not check: the python:3.11-slim layer itself and Docker's own networking.
#   sudo bash scripts/check-serve-image.sh BUNDLE [ROOTFS]      (root: debootstrap, chroot, mounts)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bundle=$(cd "${1:?usage: check-serve-image.sh BUNDLE [ROOTFS]}" && pwd)
root=${2:-/tmp/edgebert-serve-rootfs}
dockerfile="$repo/docker/Dockerfile.serve"
say() { echo "check-serve-image: $*"; }

# the Dockerfile's own lines (continuations joined), so this cannot drift from it
joined=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$dockerfile")
run_line=$(grep '^RUN ' <<<"$joined" | sed 's/^RUN //')
user=$(grep '^USER ' <<<"$joined" | awk '{print $2}')
workdir=$(grep '^WORKDIR ' <<<"$joined" | awk '{print $2}')
entry=$(grep '^ENTRYPOINT ' <<<"$joined" | sed 's/^ENTRYPOINT //' | python3 -c 'import json,sys,shlex; print(shlex.join(json.load(sys.stdin)))')
cmd=$(grep '^CMD ' <<<"$joined" | sed 's/^CMD //' | python3 -c 'import json,sys,shlex; print(shlex.join(json.load(sys.stdin)))')
health=$(grep '^HEALTHCHECK ' <<<"$joined" | sed -e 's/.* CMD //' -e 's/ || exit 1$//')
port=$(grep '^EXPOSE ' <<<"$joined" | awk '{print $2}')
[ -n "$run_line" ] && [ -n "$user" ] && [ -n "$entry" ] && [ -n "$health" ] || { say "could not read $dockerfile"; exit 1; }

if [ ! -f "$root/etc/debian_version" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null
  say "building a Debian bookworm root in $root"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
fi
[ -x "$root/usr/bin/python3" ] || chroot "$root" sh -c "apt-get update -q && apt-get install -y -q \
  --no-install-recommends python3 python3-venv ca-certificates" >/dev/null
cleanup() {
  [ -n "${server:-}" ] && kill -9 "$server" 2>/dev/null || true
  for m in bundle proc dev/pts dev; do mountpoint -q "$root/$m" && umount -l "$root/$m" || true; done
}
trap cleanup EXIT
mkdir -p "$root/bundle" "$root/dev" "$root/proc"
mount --bind /dev "$root/dev"; mount -t proc proc "$root/proc"
mount --bind "$bundle" "$root/bundle"; mount -o remount,bind,ro "$root/bundle"
cp /etc/resolv.conf "$root/etc/resolv.conf"  # pip reaches PyPI as `docker build` would
# a network that re-signs TLS (these machines' egress does) needs its CA at build time, as `docker build` would
pip_cert=""
if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
  cp "$PIP_CERT" "$root/etc/ssl/certs/host-ca-bundle.crt"; pip_cert=PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt
fi

# FROM python:3.11-slim puts its python and pip first on PATH; a venv at the same place does the same here
rm -rf "$root$workdir" "$root/usr/local/py"
mkdir -p "$root$workdir"
cp "$repo/pyproject.toml" "$repo/README.md" "$root$workdir/"; cp -r "$repo/edgebert" "$root$workdir/edgebert"
chroot "$root" python3 -m venv /usr/local/py
path=/usr/local/py/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
id -u "$user" >/dev/null 2>&1 && say "note: host has a user named $user (the chroot has its own /etc/passwd)"
chroot "$root" userdel "$user" 2>/dev/null || true
say "RUN $run_line"
chroot "$root" env -i PATH=$path HOME=/root $pip_cert sh -c "cd $workdir && $run_line" > "$root/../serve-image-pip.log" 2>&1 \
  || { tail -5 "$root/../serve-image-pip.log"; say "FAIL: the RUN line failed"; exit 1; }
heavy=$(chroot "$root" /usr/local/py/bin/pip list 2>/dev/null | grep -i -E '^(torch|transformers|tensorflow|jax) ' || true)
[ -z "$heavy" ] || { say "FAIL: the image pulled $heavy"; exit 1; }
say "installed: $(chroot "$root" /usr/local/py/bin/pip list 2>/dev/null | grep -i -E '^(edgebert|onnxruntime|uvicorn|httptools|uvloop|tokenizers|numpy) ' | awk '{printf "%s %s, ", $1, $2}')"
if ss -ltn | grep -q ":$port "; then say "FAIL: port $port is taken on this machine (the chroot shares its network)"; exit 1; fi

say "USER $user: $entry $cmd"
chroot --userspec="$user:$user" "$root" env -i PATH=$path HOME=/tmp sh -c "cd $workdir && exec $entry $cmd" \
  > "$root/../serve-image-server.log" 2>&1 &
server=$!
healthy=""
for _ in $(seq 1 120); do
  if chroot --userspec="$user:$user" "$root" env -i PATH=$path sh -c "$health" 2>/dev/null; then healthy=1; break; fi
  kill -0 "$server" 2>/dev/null || break
  sleep 1
done
[ -n "$healthy" ] || { tail -5 "$root/../serve-image-server.log"; say "FAIL: HEALTHCHECK never passed"; exit 1; }
say "HEALTHCHECK passed (/readyz: bundle loaded, golden check passed)"
answer=$(python3 - "$port" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/predict", data=json.dumps(
    {"texts": ["the image answers from outside the container"]}).encode(), headers={"content-type": "application/json"})
body = json.load(urllib.request.urlopen(req, timeout=10))
r = body["results"][0]
print(f"model {body['model']}: " + (f"{len(r['embedding'])}-d embedding" if "embedding" in r else f"label {r['label']}"))
PY
) || { say "FAIL: /predict did not answer"; exit 1; }
say "POST /predict -> $answer"
kill -TERM "$server"
rc=0; wait "$server" || rc=$?
server=""
grep -q "stopped (drained)" "$root/../serve-image-server.log" || { tail -3 "$root/../serve-image-server.log"; say "FAIL: no drain line"; exit 1; }
[ "$rc" = 0 ] || { say "FAIL: SIGTERM exit code $rc"; exit 1; }
say "SIGTERM: drained, exit 0"
say "PASS"
