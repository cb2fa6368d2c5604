"""Run deploy/nginx/laoke.conf — the file docs/deployment.md installs — as an unprivileged-port
nginx on loopback, for bench/soak.py and tests/ops/test_deploy.py.

The file is used as written except for what belongs to a real machine: the listen ports, the
upstream `serve` ports, the certificate (a self-signed one made here) and the snippet's path.
Everything that matters to WeChat (timeouts, body limits, the upstream retry) is the file's own.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "deploy" / "nginx" / "laoke.conf"
SNIPPET = ROOT / "deploy" / "nginx" / "laoke-webhook.conf"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


def self_signed(workdir: Path) -> tuple[Path, Path]:
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=laoke.example.com", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
    return cert, key


def local_conf(workdir: Path, http_port: int, https_port: int, upstreams: list[int]) -> Path:
    """A complete nginx.conf in `workdir` serving laoke.conf's servers on loopback ports."""
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(workdir)
    snippet = workdir / "laoke-webhook.conf"
    shutil.copy(SNIPPET, snippet)
    site = CONF.read_text(encoding="utf-8")
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in upstreams)
    site = re.sub(r"(upstream laoke \{\n)(?:    server [^\n]*\n)+", rf"\g<1>{servers}\n", site)
    site = re.sub(r"\n\s*listen \[::\]:[^\n]*", "", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    site = site.replace("/etc/nginx/snippets/laoke-webhook.conf", str(snippet))
    (workdir / "laoke.conf").write_text(site, encoding="utf-8")
    main = workdir / "nginx.conf"
    main.write_text(
        f"""user root;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {workdir}/laoke.conf;
}}
""",
        encoding="utf-8",
    )
    return main


def check(conf: Path) -> str:
    """``nginx -t`` on `conf`: '' when it is valid, else nginx's complaint."""
    done = subprocess.run(
        [nginx_binary() or "nginx", "-t", "-c", str(conf), "-p", str(conf.parent)],
        capture_output=True, text=True,
    )  # fmt: skip
    return "" if done.returncode == 0 else done.stderr


def start(conf: Path) -> subprocess.Popen:
    """nginx in the foreground (its master is this child process; stop() it)."""
    proc = subprocess.Popen(
        [nginx_binary() or "nginx", "-c", str(conf), "-p", str(conf.parent), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    pid = conf.parent / "nginx.pid"
    for _ in range(100):
        if pid.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        raise RuntimeError(
            f"nginx did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
