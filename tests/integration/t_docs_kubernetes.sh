#!/bin/bash
# docs/kubernetes.md and examples/kubernetes/drover.ini agree: the manifest (the yaml block
# of the page) runs droverd as PID 1 on the example config's path, mounts one writable
# emptyDir where the config puts the control socket and log_dir, probes /healthz and /readyz
# on the port of metrics_listen, exposes the work port of the pool's listen, gives
# terminationGracePeriodSeconds = shutdown_delay + shutdown_timeout + a 5-30 s margin,
# notices readiness loss within shutdown_delay, and sets a CPU limit for workers = auto.
# The config has on_fatal = exit on every pool and passes `drover check`. No network.
. "$(dirname "$0")/lib.sh"

DOC="$SRC/docs/kubernetes.md"
INI="$SRC/examples/kubernetes/drover.ini"
python3 -c 'import yaml' 2>/dev/null || { log "SKIP: python3-yaml is not installed"; exit 77; }

# `drover check` on the example; the worker is where `cmake --install` puts it, or the
# build's own when this machine has no installed copy.
WORKER=$(sed -n 's/^command *= *\([^ ]*\).*/\1/p' "$INI" | head -n 1)
cp "$INI" "$T/k.ini"
[ -x "$WORKER" ] || sed -i "s|$WORKER|$ECHO_WORKER|" "$T/k.ini"
expect_exit 0 "drover check of the example config" "$DROVER" check -c "$T/k.ini"

python3 - "$DOC" "$INI" <<'PY' || fail "docs/kubernetes.md does not match examples/kubernetes/drover.ini"
import configparser, os, re, sys, yaml

doc, ini = sys.argv[1], sys.argv[2]
errors = []
def check(cond, msg):
    if not cond:
        errors.append(msg)

text = open(doc).read()
blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
check(len(blocks) == 1, "expected one yaml block in the page, found %d" % len(blocks))
docs = [d for d in yaml.safe_load_all(blocks[0]) if d]
deploy = next(d for d in docs if d["kind"] == "Deployment")
pod = deploy["spec"]["template"]["spec"]
c = pod["containers"][0]

cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None)
cp.read(ini)
daemon = cp["daemon"]
pools = [cp[s] for s in cp.sections() if s.startswith("pool:")]

def seconds(v):
    m = re.fullmatch(r"(\d+)(ms|s|m)?", v.strip())
    n, unit = int(m.group(1)), m.group(2) or "s"
    return n / 1000 if unit == "ms" else n * 60 if unit == "m" else n

# droverd is the entrypoint (PID 1), on the config the ConfigMap mounts.
cmd = c.get("command", [])
check(cmd[:1] == ["/usr/sbin/droverd"], "command must start droverd itself: %s" % cmd)
check("-c" in cmd, "command must name the config: %s" % cmd)
conf_path = cmd[cmd.index("-c") + 1]
mounts = {m["name"]: m for m in c["volumeMounts"]}
vols = {v["name"]: v for v in pod["volumes"]}
conf_mount = [m for m in mounts.values() if conf_path.startswith(m["mountPath"].rstrip("/") + "/")]
check(len(conf_mount) == 1 and "configMap" in vols[conf_mount[0]["name"]],
      "the config %s is not on a ConfigMap mount" % conf_path)
check(os.path.basename(conf_path) == os.path.basename(ini), "the config file name differs")
check(re.search(r"--from-file=%s=examples/kubernetes/drover.ini" % os.path.basename(conf_path), text),
      "the page does not make the ConfigMap from the example config")

# One writable directory holds the control socket and log_dir.
sec = c.get("securityContext", {})
check(sec.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "runAsNonRoot is not true")
writable = [m["mountPath"] for m in mounts.values() if "emptyDir" in vols[m["name"]]]
check(len(writable) == 1, "expected one emptyDir mount, got %s" % writable)
for key in ("control_socket", "log_dir"):
    check(writable and daemon[key].startswith(writable[0].rstrip("/") + "/"),
          "%s = %s is outside the writable %s" % (key, daemon[key], writable))

# Probes on the metrics port.
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
mhost, mport = daemon["metrics_listen"].removeprefix("tcp:").rsplit(":", 1)
check(mhost in ("0.0.0.0", "[::]"), "metrics_listen must listen on the pod's addresses, not %s" % mhost)
check(ports.get("metrics") == int(mport), "port metrics %s != metrics_listen port %s" % (ports.get("metrics"), mport))
def probe_port(p):
    port = p["httpGet"]["port"]
    return ports.get(port) if isinstance(port, str) else port
live, ready = c["livenessProbe"], c["readinessProbe"]
check(live["httpGet"]["path"] == "/healthz", "liveness path %s" % live["httpGet"]["path"])
check(ready["httpGet"]["path"] == "/readyz", "readiness path %s" % ready["httpGet"]["path"])
check(probe_port(live) == int(mport) and probe_port(ready) == int(mport), "probes not on the metrics port")
ann = deploy["spec"]["template"]["metadata"].get("annotations", {})
check(ann.get("prometheus.io/port") == mport and ann.get("prometheus.io/path") == "/metrics",
      "scrape annotations do not match metrics_listen")

# Timeouts.
delay, timeout = seconds(daemon.get("shutdown_delay", "0")), seconds(daemon["shutdown_timeout"])
grace = pod["terminationGracePeriodSeconds"]
check(delay + timeout + 5 <= grace <= delay + timeout + 30,
      "terminationGracePeriodSeconds %s does not match shutdown_delay %s + shutdown_timeout %s + 5-30 s" % (grace, delay, timeout))
check(delay > 0, "shutdown_delay is 0: the endpoints cannot update before droverd stops accepting")
check(ready.get("periodSeconds", 10) * ready.get("failureThreshold", 3) <= delay,
      "readiness notices the shutdown only after shutdown_delay has run out")

# Pools: on_fatal = exit, workers = auto with a CPU limit, work ports exposed.
check(len(pools) > 0, "no pool in the example config")
check("cpu" in c.get("resources", {}).get("limits", {}), "no CPU limit for workers = auto")
for p in pools:
    check(p.get("on_fatal") == "exit", "pool %s: on_fatal is not exit" % p.name)
    check(p.get("workers", "auto").startswith("auto"), "pool %s: workers is not auto" % p.name)
    listen = p.get("listen", "")
    if listen.startswith("tcp:"):
        port = int(listen.rsplit(":", 1)[1])
        check(port in ports.values(), "pool %s listens on %d, which the container does not expose" % (p.name, port))
    elif listen:
        check(writable and listen.startswith(writable[0]), "pool %s: socket %s outside the writable dir" % (p.name, listen))

for e in errors:
    print("t_docs_kubernetes: " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
