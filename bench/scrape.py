#!/usr/bin/env python3
"""What one write can make a `/metrics` scrape cost (issue 22): an admin defines a target
indicator with open-ended years and a reporter submits 8,010 observations in one request,
one for every year from 1990 to 9999. Then each scrape renders (the last render being
older than the five seconds a scrape may reuse it for), and this prints how long each
took and the server's resident memory.

    cargo build --release
    target/test-venv/bin/python3 bench/scrape.py [--demo]

Needs the Python client's packages (grpcio, grpcio-tools: examples/python/requirements.txt,
which `.ci/run` installs into target/test-venv). The server is started here on free
loopback ports with a fresh data directory, and stopped at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--demo", action="store_true", help="start the server with the demo data")
    ap.add_argument("--binary", default=str(ROOT / "target/release/tilannekuva"))
    args = ap.parse_args()

    spec = importlib.util.spec_from_file_location("client", ROOT / "examples/python/client.py")
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    stubs = client.load_stubs()
    import grpc

    grpc_port, http_port = free_port(), free_port()
    data = tempfile.mkdtemp(prefix="tilannekuva-scrape-")
    cmd = [args.binary, "serve", "--data-dir", data,
           "--grpc-listen", f"127.0.0.1:{grpc_port}", "--http-listen", f"127.0.0.1:{http_port}"]
    if args.demo:
        cmd.append("--demo")
    server = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        grpc.channel_ready_future(channel).result(timeout=120)
        catalog = stubs["catalog_pb2_grpc"].CatalogServiceStub(channel)
        ingest = stubs["ingest_pb2_grpc"].IngestServiceStub(channel)
        common, ingest_pb2, catalog_pb2 = stubs["common_pb2"], stubs["ingest_pb2"], stubs["catalog_pb2"]

        def scrape(what: str) -> None:
            time.sleep(5.1)
            t = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics") as r:
                body = r.read()
            took = time.perf_counter() - t
            series = next((l.split()[1] for l in body.decode().splitlines()
                           if l.startswith("tilannekuva_situation_series ")), "?")
            print(f"{what:<40} {took * 1000:8.1f} ms  {len(body) / 1e6:6.2f} MB  "
                  f"{series:>7} series  RSS {rss_mib(server.pid):7.1f} MiB", flush=True)

        def touch(i: int) -> None:
            obs = common.Observation(indicator_id="population", year=2021, value=200_000 + i,
                                     status=common.OBSERVATION_STATUS_PROVISIONAL,
                                     source="bench/scrape.py")
            ingest.Submit(ingest_pb2.SubmitRequest(submission_id=f"touch-{i}", region_code="MK02",
                                                   observations=[obs]), timeout=30)

        print(f"server: {'demo data' if args.demo else 'empty store'}")
        scrape("before the write")
        touch(0)
        scrape("after another write")
        catalog.DefineIndicator(catalog_pb2.DefineIndicatorRequest(
            submission_id="target",
            indicator=common.Indicator(
                id="emissions_target", name_fi="Päästötavoite", name_en="Emissions target",
                theme="climate", unit="kt CO2e", direction=common.DIRECTION_LOWER_IS_BETTER,
                min_value=0.0, aggregation=common.AGGREGATION_SUM, min_year=1990,
                kind=common.INDICATOR_KIND_TARGET)), timeout=30)
        observations = [common.Observation(indicator_id="emissions_target", year=y, value=100.0,
                                           status=common.OBSERVATION_STATUS_FINAL,
                                           source="bench/scrape.py")
                        for y in range(1990, 10000)]
        assert len(observations) == 8010
        ingest.Submit(ingest_pb2.SubmitRequest(submission_id="targets", region_code="MK01",
                                               observations=observations), timeout=60)
        for i in range(1, 4):
            touch(i)
            scrape(f"after the 8,010-year target ({i})")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
