#!/usr/bin/env python3
"""Checks traefik/traefik.yml and traefik/dynamic/*.yml against Traefik v3's documented
syntax and sandboxed's routing contract: Traefik sends every preview host to sandboxd's
edge, by its file provider alone. Prints "N passed, N failed"; exit 1 on failure."""
import glob
import os
import re
import sys

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))


def go_regexp_to_python(expr):
    # Go's RE2 and Python agree on the constructs used here; (?i) must lead in both.
    return re.compile(expr)


static = yaml.safe_load(open(os.path.join(ROOT, "traefik", "traefik.yml")))
providers = static.get("providers", {})
check("the file provider is the only provider (no Docker provider, no Docker socket: "
      "every preview request goes through sandboxd's edge)", list(providers) == ["file"], list(providers))
check("file provider reads the dynamic directory",
      providers.get("file", {}).get("directory") == "/etc/traefik/dynamic")
check("entrypoints web and websecure exist", {"web", "websecure"} <= set(static.get("entryPoints", {})))
check("no access log (nothing reads it, and Traefik never rotates it)", "accessLog" not in static)
check("dashboard/API of Traefik is not exposed", static.get("api", {}).get("dashboard") is False)

routers, services, transports = {}, {}, {}
for path in sorted(glob.glob(os.path.join(ROOT, "traefik", "dynamic", "*.yml"))):
    doc = yaml.safe_load(open(path)) or {}
    routers.update(doc.get("http", {}).get("routers", {}))
    services.update(doc.get("http", {}).get("services", {}))
    transports.update(doc.get("http", {}).get("serversTransports", {}))
    check(os.path.basename(path) + " parses as YAML", isinstance(doc, dict))

# One preview router per entrypoint, both to the edge; nothing else routes anywhere.
check("the routers are the preview routers", set(routers) == {"sandboxed-preview", "sandboxed-preview-tls"},
      sorted(routers))
for name, entrypoint in (("sandboxed-preview", "web"), ("sandboxed-preview-tls", "websecure")):
    router = routers.get(name)
    if not router:
        continue
    check(name + " uses the %s entrypoint" % entrypoint, router.get("entryPoints") == [entrypoint],
          router.get("entryPoints"))
    check(name + " targets the sandboxed-edge service", router.get("service") == "sandboxed-edge")
    check(name + " terminates TLS" if entrypoint == "websecure" else name + " is plain HTTP",
          ("tls" in router) == (entrypoint == "websecure"))
    m = re.fullmatch(r"HostRegexp\(`(.+)`\)", router.get("rule", ""))
    check(name + " rule is a v3 HostRegexp with a plain Go regexp (no {name:...} v2 syntax)",
          m is not None and "{host" not in router.get("rule", ""), router.get("rule", ""))
    if m:
        rx = go_regexp_to_python(m.group(1))
        for host in ["s-abc123-3000.preview.localhost", "S-ABC123-3000.Preview.Example.COM",
                     "s-01jd6v4x2c8y0000000000abcd-5173.preview.apps.example.com"]:
            check(name + " rule matches " + host, rx.search(host) is not None)
        for host in ["api.preview.localhost", "sandboxd", "s-abc-3000.example.com", "s-a_b-3000.preview.x",
                     "localhost", "s-abc-port.preview.localhost"]:
            check(name + " rule does not match " + host, rx.search(host) is None)
check("the only service is sandboxed-edge", list(services) == ["sandboxed-edge"], list(services))
edge_svc = services.get("sandboxed-edge", {})
edge_urls = [s.get("url") for s in edge_svc.get("loadBalancer", {}).get("servers", [])]
# Traefik runs with the host's network; the edge's default bind is loopback
# (SANDBOXD_WAKE_BIND=127.0.0.1:9091), where sandboxes cannot reach it.
check("edge service targets sandboxd's edge on loopback", edge_urls == ["http://127.0.0.1:9091"],
      str(edge_urls))
check("edge service passes the Host header", edge_svc.get("loadBalancer", {}).get("passHostHeader") is True)
ref = edge_svc.get("loadBalancer", {}).get("serversTransport", "")
transport = transports.get(ref.split("@")[0]) if ref.endswith("@file") else None
check("edge service uses a file-provider serversTransport (name@file)", transport is not None, ref)
idle = str((transport or {}).get("forwardingTimeouts", {}).get("idleConnTimeout", ""))
m = re.fullmatch(r"(\d+)s", idle)
check("edge transport drops idle connections before the edge's 60 s idle timeout "
      "(forwardingTimeouts.idleConnTimeout in seconds, < 60)", m is not None and int(m.group(1)) < 60, idle)
check("edge transport pools connections (maxIdleConnsPerHost > 0): the edge routes every "
      "request by its own Host", ((transport or {}).get("maxIdleConnsPerHost") or 0) > 0)
for name, svc in services.items():
    for server in svc.get("loadBalancer", {}).get("servers", []):
        check("service %s does not expose the API port 9090" % name, ":9090" not in server.get("url", ""))
for name, r in routers.items():
    check("router %s is not an API router" % name, "api." not in r.get("rule", ""))

failed = results.count(False)
print("%d passed, %d failed" % (len(results) - failed, failed))
sys.exit(1 if failed else 0)
