#!/usr/bin/env python3
"""Checks docker-compose.yml (and docker-compose.tls.yml) against sandboxd's config and
.env.example, the Traefik flags against traefik/traefik.yml, and has Compose itself
validate both files (`docker-compose config`, Debian's Compose 1.29, or `docker compose
config`). Prints "N passed, N failed"; exit 1 on any failure."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)))


def read(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return f.read()


compose = yaml.safe_load(read("docker-compose.yml"))
tls = yaml.safe_load(read("docker-compose.tls.yml"))
env_example = read(".env.example")
config_cpp = read("src/config/config.cpp")
services = compose["services"]
sandboxd, traefik = services["sandboxd"], services["traefik"]

# Every variable sandboxd reads is passed through, and documented with its default; a
# removed one (which sandboxd names only to refuse it) appears in neither.
REMOVED = {"SANDBOXD_ALLOW_PUBLIC_UNAUTHENTICATED"}
# Gone with the Traefik access-log tailer and the routing labels: sandboxd no longer reads
# them, so neither the compose files nor .env.example may still name them.
GONE = {"SANDBOXD_TRAEFIK_ACCESS_LOG", "SANDBOXD_TRAEFIK_ACCESS_LOG_MAX_BYTES", "PREVIEW_ENTRYPOINT"}
# config.cpp's kOtherTools names variables that other parts read (install.sh, the
# client commands): known to sandboxd's unknown-variable warning, not read by it.
other_tools = re.search(r"kOtherTools = \{(.*?)\};", config_cpp, re.S)
OTHER = set(re.findall(r'"([A-Z_]+)"', other_tools.group(1))) if other_tools else set()
check("config.cpp's kOtherTools list is found", bool(OTHER), "")
read_keys = set(re.findall(r'"((?:SANDBOXD?|PREVIEW)_[A-Z_]+|HTTPS?_PORT)"', config_cpp)) - REMOVED - OTHER
env = sandboxd["environment"]
check("sandboxd reads at least 40 variables (the scan works)", len(read_keys) >= 40, len(read_keys))
missing = sorted(read_keys - set(env))
check("compose passes every sandboxd variable", not missing, missing)
not_through = sorted(k for k, v in env.items() if not str(v).startswith("${" + k + ":-"))
check("each passes its own .env value through", not not_through, not_through)
documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", env_example, re.M))
undocumented = sorted(k for k in read_keys if k not in documented)
check(".env.example documents every sandboxd variable", not undocumented, undocumented)
lingering = sorted(k for k in REMOVED if k in env or k in env_example)
check("no removed variable is passed or documented", not lingering, lingering)
gone = sorted(k for k in GONE
              if k in read_keys or k in env or k in env_example or k in read("docker-compose.tls.yml"))
check("no variable of the access-log tailer or the routing labels is read, passed or documented",
      not gone, gone)
check(".env.example keeps auth on (SANDBOXD_API_AUTH_DISABLED=false)",
      re.search(r"^SANDBOXD_API_AUTH_DISABLED=false$", env_example, re.M))
referenced = set()
for rel in ("docker-compose.yml", "docker-compose.tls.yml"):
    referenced |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", read(rel)))
undocumented = sorted(referenced - documented)
check(".env.example documents every variable the compose files use", not undocumented,
      undocumented)

# Services: restart policy, networks, mounts.
for name, svc in services.items():
    check(f"{name} restarts unless stopped", svc.get("restart") == "unless-stopped")
    # sandboxd's edge proxies to isolated sandboxes; Traefik reaches that edge on loopback.
    check(f"{name} uses the host's network", svc.get("network_mode") == "host")
vols = sandboxd["volumes"]
check("sandboxd mounts the Docker socket", "/var/run/docker.sock:/var/run/docker.sock" in vols)
data = [v for v in vols if isinstance(v, dict) and "SANDBOXED_DATA_DIR" in v.get("source", "")]
check("sandboxd mounts the data dir at the same path",
      len(data) == 1 and data[0]["type"] == "bind" and data[0]["source"] == data[0]["target"],
      data)
check("the data dir's mounts (the workspaces' disks) propagate to the host (rshared)",
      len(data) == 1 and (data[0].get("bind") or {}).get("propagation") == "rshared", data)
check("sandboxd may loop-mount and set iptables rules (SYS_ADMIN, NET_ADMIN, loop devices)",
      {"SYS_ADMIN", "NET_ADMIN"} <= set(sandboxd.get("cap_add", [])) and "/dev:/dev" in vols
      and {"b 7:* rmw", "c 10:237 rmw"} <= set(sandboxd.get("device_cgroup_rules", []))
      and not sandboxd.get("privileged"), sandboxd.get("cap_add"))
cgroup = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", env.get("SANDBOXD_CGROUP_ROOT", ""))
check("sandboxd reads the host's cgroups read-only where SANDBOXD_CGROUP_ROOT says",
      f"/sys/fs/cgroup:{cgroup}:ro" in vols, cgroup)
for label, svc in (("", traefik), (" (TLS override)", tls["services"]["traefik"])):
    check("Traefik mounts no Docker socket" + label,
          not any("docker.sock" in str(v) for v in svc.get("volumes", [])), svc.get("volumes"))
    check("Traefik has no Docker provider" + label,
          not any(f.lower().startswith("--providers.docker") for f in svc.get("command", [])))
    check("Traefik writes no access log (nothing reads or rotates it)" + label,
          not any(f.lower().startswith("--accesslog") for f in svc.get("command", [])))
check("Traefik is the optional edge (profile traefik)", traefik.get("profiles") == ["traefik"])
check("nothing publishes the API: no ports mapped", all("ports" not in s for s in services.values()))


# The Traefik flags say what traefik/traefik.yml says.
def flatten(node, prefix=""):
    out = {}
    for k, v in node.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def defaults(value):
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


static = {k.lower(): str(v).lower() for k, v in flatten(yaml.safe_load(read("traefik/traefik.yml"))).items()}
flags = {}
for flag in traefik["command"]:
    m = re.fullmatch(r"--([^=]+)=(.*)", flag)
    check(f"flag {flag[:40]} is --key=value", m is not None)
    if m:
        flags[m.group(1).lower()] = defaults(m.group(2)).lower()
check("the flags and traefik.yml set the same keys", set(flags) == set(static),
      sorted(set(flags) ^ set(static)))
differ = sorted(k for k in flags if k in static and flags[k] != static[k])
check("with default .env values they agree", not differ,
      [(k, flags[k], static[k]) for k in differ])
tls_cmd = tls["services"]["traefik"]["command"]
check("the TLS override repeats every base flag", set(traefik["command"]) <= set(tls_cmd),
      sorted(set(traefik["command"]) - set(tls_cmd)))
check("the TLS override adds a certificate resolver",
      any("certificatesresolvers" in f.lower() for f in tls_cmd))


def size_bytes(text):
    m = re.fullmatch(r"(\d+)([kmg]?)", str(text).lower())
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    return int(m.group(1)) * units[m.group(2)] if m else None


for name, svc in services.items():
    logging = svc.get("logging") or {}
    opts = logging.get("options") or {}
    size, files = size_bytes(opts.get("max-size", "")), str(opts.get("max-file", ""))
    check(f"{name} caps its Docker log (json-file, max-size, max-file)",
          logging.get("driver") == "json-file" and size and size <= 100 << 20
          and files.isdigit() and 1 <= int(files) <= 10, logging)
check("no service mounts the old traefik-logs volume",
      not any(str(v).startswith("traefik-logs:") for svc in services.values() for v in svc.get("volumes", []))
      and "traefik-logs" not in (compose.get("volumes") or {}))

# Compose validates both files.
if shutil.which("docker-compose"):
    cmd = ["docker-compose"]
elif subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
    cmd = ["docker", "compose"]
else:
    cmd = None
check("a Compose implementation is installed (docker-compose or docker compose)", cmd)
if cmd:
    with tempfile.TemporaryDirectory() as tmp:
        for rel in ("docker-compose.yml", "docker-compose.tls.yml", ".env.example"):
            shutil.copy(os.path.join(ROOT, rel), tmp)
        os.makedirs(os.path.join(tmp, "traefik"))
        open(os.path.join(tmp, "traefik", "acme.env"), "w").close()
        shutil.copy(os.path.join(tmp, ".env.example"), os.path.join(tmp, ".env"))
        for files in (["docker-compose.yml"], ["docker-compose.yml", "docker-compose.tls.yml"]):
            args = cmd + sum((["-f", f] for f in files), []) + ["config"]
            r = subprocess.run(args, cwd=tmp, capture_output=True, text=True,
                               env={**os.environ, "COMPOSE_PROFILES": "traefik"})
            check(f"{' '.join(cmd)} config accepts {' + '.join(files)}", r.returncode == 0,
                  r.stderr.strip()[-500:])
            if r.returncode == 0 and len(files) == 1:
                resolved = yaml.safe_load(r.stdout)
                env_out = resolved["services"]["sandboxd"]["environment"]
                check("resolved: the data dir defaults to /var/lib/sandboxed",
                      env_out.get("SANDBOXED_DATA_DIR") == "/var/lib/sandboxed", env_out.get("SANDBOXED_DATA_DIR"))

print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
sys.exit(0 if all(results) else 1)
