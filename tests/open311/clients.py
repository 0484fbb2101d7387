#!/usr/bin/env python3
"""Existing Open311 GeoReport v2 client libraries against the real server.

Starts the built binary (`peacepatrol serve`) on a free port with a fresh data directory,
registers and signs in an envoy through the JSON API, then:
- civicbot's Open311Client lists the services, posts a request with the envoy's token as the
  api_key (checked against the live service list), and reads it back by id, by filter and by
  token;
- georeport's GeoReport, in JSON and in XML, lists the services and reads the same request by
  id and by filter.
Exits non-zero on any mismatch.

Usage: clients.py PATH/TO/peacepatrol
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from civicbot.http import HttpTransport, RateLimiter
from civicbot.open311 import Open311Client
from civicbot.registry import Endpoint
from georeport import GeoReport

TOWER = (23.1066, 113.3245)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url, body=None, token=None):
    req = urllib.request.Request(url, method="POST" if body is not None else "GET")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(req, data, timeout=10) as r:
        return json.loads(r.read())


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok  {what}")


def main(binary):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="pp-open311-") as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PEACEPATROL_")}
        server = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise SystemExit("FAILED: the server did not start")
            run(base)
        finally:
            server.terminate()
            server.wait(timeout=30)


def run(base):
    phone, password = "13900000042", "open311-clients"
    call(f"{base}/api/v1/auth/register", {"phone": phone, "name": "Open311 client", "password": password})
    token = call(f"{base}/api/v1/auth/login", {"phone": phone, "password": password})["token"]
    endpoint = f"{base}/open311/v2"

    # civicbot: list, post (validated against the live list), read back three ways
    civ = Open311Client(
        Endpoint(id="peacepatrol", name="Peace Patrol", base_url=endpoint, write=True),
        transport=HttpTransport(rate_limiter=RateLimiter(min_interval=0)))
    services = civ.list_services()
    codes = [s["service_code"] for s in services]
    check(len(services) == 8 and "bike_parking" in codes, f"civicbot lists the 8 services: {codes}")
    sent = civ.create_request(
        "sanitation", dry_run=False, confirm="SEND", api_key=token, validate_remote=True,
        lat=TOWER[0], lng=TOWER[1], description="overflowing bins by the east gate",
        media_url="https://example.org/bins.jpg", email="reporter@example.org")
    answer = sent.response
    check(isinstance(answer, list) and answer[0].get("service_request_id"), f"civicbot posts a request: {answer}")
    rid = answer[0]["service_request_id"]
    got = civ.get_request(rid)
    check(got["service_request_id"] == rid and got["status"] == "open"
          and got["service_code"] == "sanitation" and got["description"] == "overflowing bins by the east gate"
          and abs(float(got["lat"]) - TOWER[0]) < 1e-9 and abs(float(got["long"]) - TOWER[1]) < 1e-9,
          "civicbot reads it back by id")
    listed = civ.list_requests(service_request_ids=[rid])
    check([r["service_request_id"] for r in listed] == [rid], "civicbot finds it by id list")
    listed = civ.list_requests(service_code="sanitation", status="open")
    check(rid in [r["service_request_id"] for r in listed], "civicbot finds it by service and status")
    check(civ.get_token(rid) == [{"service_request_id": rid, "token": rid}], "civicbot reads its token")

    # georeport, in both formats
    for fmt in ("json", "xml"):
        geo = GeoReport(endpoint, output_format=fmt)
        listed = geo.get_service_list()
        check(len(listed) == 8 and {s["service_code"] for s in listed} == set(codes),
              f"georeport ({fmt}) lists the 8 services")
        one = geo.get_service_request(rid)
        check(one["service_request_id"] == rid and one["status"] == "open"
              and one["agency_responsible"] == "Sanitation" and one["media_url"] == "https://example.org/bins.jpg",
              f"georeport ({fmt}) reads the request by id")
        many = geo.get_service_requests(service_code="sanitation")
        many = many if isinstance(many, list) else [many]  # xmltodict: one element is not a list
        check(rid in [r["service_request_id"] for r in many], f"georeport ({fmt}) finds it by service")
    print("Open311 client libraries: all checks passed")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
