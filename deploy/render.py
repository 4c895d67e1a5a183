#!/usr/bin/env python3
"""Render deploy/nginx/viewsite.conf.template with the values of a viewsite environment file.

    python deploy/render.py nginx --env-file /etc/viewsite/viewsite.env \\
        > /etc/nginx/sites-available/viewsite

nginx cannot read environment variables, so its site file is rendered from the same env file
that gunicorn, Django and `retrain` read (deploy/viewsite.env.example lists them all). Variables
set in the environment override the file. Standard library only: it runs before any virtualenv.
"""

import argparse
import os
import re
import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
PLACEHOLDER = re.compile(r"\{\{\s*([A-Z_]+)\s*\}\}")


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise SystemExit(f"{path}: line {number} is not NAME=value: {line!r}")
        values[name.strip()] = value.strip().strip("'\"")
    return values


def nginx_values(env: dict[str, str]) -> dict[str, str]:
    def get(name: str, default: str = "") -> str:
        return env.get(name) or default

    hosts = [h.strip() for h in get("DJANGO_ALLOWED_HOSTS", "localhost").split(",") if h.strip()]
    upstreams = [
        u.strip() for u in get("VIEWSITE_UPSTREAMS", "127.0.0.1:8000").split(",") if u.strip()
    ]
    https_listen = get("VIEWSITE_HTTPS_LISTEN", "443")
    https_port = https_listen.rsplit(":", 1)[-1]
    return {
        "SERVER_NAME": get("VIEWSITE_SERVER_NAME", " ".join(hosts)),
        "HTTP_LISTEN": get("VIEWSITE_HTTP_LISTEN", "80"),
        "HTTPS_LISTEN": https_listen,
        "HTTPS_PORT_SUFFIX": "" if https_port == "443" else f":{https_port}",
        "UPSTREAM_SERVERS": "\n".join(f"    server {upstream};" for upstream in upstreams),
        "STATIC_ROOT": get("DJANGO_STATIC_ROOT", "/srv/viewsite/staticfiles").rstrip("/"),
        "TLS_CERTIFICATE": get("VIEWSITE_TLS_CERTIFICATE", "/etc/ssl/viewsite/fullchain.pem"),
        "TLS_CERTIFICATE_KEY": get("VIEWSITE_TLS_CERTIFICATE_KEY", "/etc/ssl/viewsite/privkey.pem"),
        "BODY_LIMIT_BYTES": get("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", "2621440"),
        "ACCESS_LOG": get("VIEWSITE_NGINX_ACCESS_LOG", "/var/log/nginx/viewsite.access.log"),
        "NGINX_RATE": get("VIEWSITE_NGINX_RATE", "20r/s"),
        "NGINX_BURST": get("VIEWSITE_NGINX_BURST", "40"),
    }


def render(template: str, values: dict[str, str]) -> str:
    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise SystemExit(f"the template needs {name}, which nothing provides")
        return values[name]

    return PLACEHOLDER.sub(substitute, template)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["nginx"], help="which configuration to render")
    parser.add_argument("--env-file", type=Path, help="a viewsite environment file")
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    args = parser.parse_args(argv)

    env = read_env_file(args.env_file) if args.env_file else {}
    env.update({k: v for k, v in os.environ.items() if k.startswith(("DJANGO_", "VIEWSITE_"))})
    template = (DEPLOY / "nginx" / "viewsite.conf.template").read_text(encoding="utf-8")
    text = render(template, nginx_values(env))
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
