# Sourced by .ci/run: a Docker engine with gVisor registered, for the container tests.
#
# Installs docker.io, runsc (gVisor), busybox-static (the shell of the minimal agent image)
# and mmdebstrap (the base of the full one) if missing; registers runsc in daemon.json
# (with `--network=none`, and `--host-uds=all` so the agent's socket in
# the bind-mounted directory works both ways); starts dockerd if none answers and waits for
# it; and, at exit, removes the containers and volumes the tests labelled, whatever a failed
# test left behind.

ci_docker_setup() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v runsc >/dev/null || missing+=(runsc)
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || missing+=(busybox-static)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  local config=/etc/docker/daemon.json changed=0
  if ! grep -q '"runsc"' "$config" 2>/dev/null; then
    $sudo mkdir -p /etc/docker
    $sudo python3 - "$config" <<'PY'
import json, os, sys
path = sys.argv[1]
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
config.setdefault("runtimes", {})["runsc"] = {
    "path": "/usr/bin/runsc",
    "runtimeArgs": ["--network=none", "--host-uds=all"],
}
json.dump(config, open(path, "w"), indent=2)
PY
    changed=1
  fi

  if ! $sudo docker version >/dev/null 2>&1; then
    echo "starting dockerd (log: /var/log/openlegion-ci-dockerd.log)"
    $sudo sh -c 'nohup dockerd >/var/log/openlegion-ci-dockerd.log 2>&1 &'
  elif [ "$changed" = 1 ]; then
    echo "reloading dockerd for the runsc runtime"
    $sudo kill -HUP "$(pidof dockerd)"
    sleep 1
  fi
  local waited=0
  until $sudo docker version >/dev/null 2>&1; do
    if [ "$waited" -ge 60 ]; then
      echo "dockerd did not answer within 60 s:" >&2
      tail -20 /var/log/openlegion-ci-dockerd.log >&2 || true
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  $sudo docker info --format 'Docker {{.ServerVersion}}, runtimes: {{range $k, $v := .Runtimes}}{{$k}} {{end}}'
  trap ci_docker_cleanup EXIT
}

ci_docker_cleanup() {
  local label=dev.openlegion.test containers volumes
  containers=$(docker ps -aq --filter "label=$label" 2>/dev/null || true)
  [ -z "$containers" ] || docker rm -f -v $containers >/dev/null 2>&1 || true
  volumes=$(docker volume ls -q --filter "label=$label" 2>/dev/null || true)
  [ -z "$volumes" ] || docker volume rm -f $volumes >/dev/null 2>&1 || true
  echo "removed the test containers and volumes (label $label)"
}
