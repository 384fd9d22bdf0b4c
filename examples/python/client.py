#!/usr/bin/env python3
"""Submit a CSV file to tilannekuva as one atomic submission and print the pictures.

A client in another language than the service, to show that the gRPC API is all a client
needs: the stubs are generated from the project's `proto/` files when the script starts
(grpc_tools.protoc into a temporary directory), so they always match the server's API.

    python3 examples/python/client.py --server 127.0.0.1:50051 --region MK18 --csv kainuu.csv

The CSV is read as `tilannekuva submit` reads it: the columns indicator_id, year, value,
status (provisional|final), source, and optionally note, correction_reason and region_code;
`,` or `;` as the separator (whichever splits the header into a field named indicator_id),
a decimal comma in `;` files ("1234,5"), UTF-8 with or without a byte order mark, LF or
CRLF line ends; rows with an empty value are skipped. The submission id is derived from the
region and the file exactly as the Rust CLI derives it, so submitting the same file again
(from either client) answers `duplicate = true`.

Output: the receipt, then the region's picture for every year in the file (read with
`min_sequence` = the receipt's last sequence, so it includes this write), then the national
picture for those years. Exit status 0 on success, 1 on a refused request (the gRPC code
and message go to stderr, then the field violations, those of the observations named by
their line in the file), 2 on a bad command line or file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib
import io
import re
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "proto"

try:
    import grpc
    from google.rpc import error_details_pb2, status_pb2
    from grpc_status import rpc_status
    from grpc_tools import protoc
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.exit(
        f"cannot import {e.name}: install the client's requirements with\n"
        f"    python3 -m pip install -r {Path(__file__).resolve().parent / 'requirements.txt'}"
    )


def load_stubs():
    """Generates the Python modules for proto/tilannekuva/v1/*.proto and imports them."""
    out = Path(tempfile.mkdtemp(prefix="tilannekuva-stubs-"))
    # The well-known types (google/protobuf/timestamp.proto) ship inside grpc_tools.
    well_known = Path(protoc.__file__).resolve().parent / "_proto"
    files = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "tilannekuva" / "v1").glob("*.proto"))
    if not files:
        sys.exit(f"no .proto files under {PROTO_DIR}")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        sys.exit("grpc_tools.protoc failed to compile " + " ".join(files))
    sys.path.insert(0, str(out))
    try:
        modules = {
            name: importlib.import_module(f"tilannekuva.v1.{name}")
            for name in [
                "common_pb2",
                "ingest_pb2",
                "ingest_pb2_grpc",
                "picture_pb2",
                "picture_pb2_grpc",
                "catalog_pb2",
                "catalog_pb2_grpc",
            ]
        }
    finally:
        # The imported modules stay in memory; the generated files are not needed again.
        shutil.rmtree(out, ignore_errors=True)
    return modules


class UsageError(Exception):
    """A problem with the command line or the CSV file (exit status 2)."""


# Largest value of a protobuf int32 (the year field).
INT32_MAX = 2**31 - 1


def detect_separator(text: str) -> str:
    """`,`, `;` or a tab: the one that splits the header line into a field named indicator_id."""
    first = next((ln for ln in io.StringIO(text, newline="") if ln.strip()), "")
    for sep in (",", ";", "\t"):
        fields = next(csv.reader([first], delimiter=sep), [])
        if "indicator_id" in (f.strip() for f in fields):
            return sep
    return ","


def read_csv(path: Path, region: str, pb):
    """Parses the submission CSV like `tilannekuva submit` (syntax only; the server validates).

    Returns the submission id, the observations, and for each observation the line of the
    file it is on (the header is line 1).
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from e
    try:
        # The byte order mark stays in `text`: the submission id hashes the file's text as
        # the Rust CLI does (String::from_utf8_lossy keeps it); parsing skips it.
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise UsageError(f"{path}: line {line}: not UTF-8") from e
    body = text.removeprefix("\ufeff")
    sep = detect_separator(body)
    # newline="": line breaks inside quoted fields are kept, and LF, CRLF and CR all end a
    # line, so reader.line_num counts the file's physical lines.
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=sep)
    header = None
    for rec in reader:
        if rec and any(f.strip() for f in rec):
            header = [h.strip() for h in rec]
            break
    if header is None:
        raise UsageError(f"{path}: empty file")
    header_line = reader.line_num
    required = ["indicator_id", "year", "value", "status", "source"]
    missing = [c for c in required if c not in header]
    if missing:
        raise UsageError(f"{path}: line {header_line}: missing column(s) {', '.join(missing)}")
    col = {name: header.index(name) for name in header}
    statuses = {
        "provisional": pb["common_pb2"].OBSERVATION_STATUS_PROVISIONAL,
        "final": pb["common_pb2"].OBSERVATION_STATUS_FINAL,
    }
    observations, lines = [], []
    line_end = reader.line_num
    for rec in reader:
        # The record starts on the line after the previous one ended (blank lines are
        # records of their own here); a quoted line break makes it span several lines.
        line, line_end = line_end + 1, reader.line_num
        if not rec or all(not f.strip() for f in rec):
            continue
        if len(rec) != len(header):
            raise UsageError(f"{path}: line {line}: {len(rec)} fields, but the header has {len(header)}")
        get = lambda name: rec[col[name]].strip() if name in col else ""  # noqa: E731
        if not get("value"):
            continue  # no figure in this row: skipped, as the Rust CLI skips it
        if "region_code" in col and get("region_code") not in ("", region):
            raise UsageError(f"{path}: line {line}: region_code {get('region_code')!r} is not --region {region!r}")
        try:
            if "_" in get("year"):
                raise ValueError
            year = int(get("year"))
            if not -INT32_MAX - 1 <= year <= INT32_MAX:
                raise ValueError
        except ValueError:
            raise UsageError(f"{path}: line {line}: year {get('year')!r} is not an integer") from None
        # Digits grouped with spaces or no-break spaces; U+2212 as a minus sign.
        number = get("value").translate({0x20: None, 0xA0: None, 0x202F: None, 0x2009: None, 0x2212: "-"})
        if "," in number:
            if sep != ";" or "." in number or number.count(",") > 1:
                raise UsageError(f"{path}: line {line}: value {get('value')!r} is ambiguous (a comma in a value needs the ; separator, as a decimal comma)")
            number = number.replace(",", ".")  # decimal comma
        elif sep == ";" and re.fullmatch(r"[-+]?\d{1,3}(\.\d{3})+", number):
            raise UsageError(f"{path}: line {line}: value {get('value')!r} is ambiguous in a ;-separated file (1.234 may be a thousand)")
        try:
            if "_" in number:
                raise ValueError
            value = float(number)
        except ValueError:
            raise UsageError(f"{path}: line {line}: value {get('value')!r} is not a number") from None
        status = get("status").lower()
        status = "provisional" if status == "preliminary" else status
        if status not in statuses:
            raise UsageError(f"{path}: line {line}: status {get('status')!r} must be provisional or final")
        if not get("indicator_id"):
            raise UsageError(f"{path}: line {line}: indicator_id is empty")
        observations.append(
            pb["common_pb2"].Observation(
                indicator_id=get("indicator_id"),
                year=year,
                value=value,
                status=statuses[status],
                source=get("source"),
                note=get("note"),
                correction_reason=get("correction_reason"),
            )
        )
        lines.append(line)
    if not observations:
        raise UsageError(f"{path}: no rows")
    # The same id as `tilannekuva submit`: a hash of the region and the file's text.
    submission_id = "csv-" + hashlib.sha256(f"{region}\n{text}".encode("utf-8")).hexdigest()[:32]
    return submission_id, observations, lines


OBSERVATION_FIELD = re.compile(r"observations\[(\d+)\](?:\.(.+))?")


def rich_status(e: grpc.RpcError):
    """The google.rpc.Status of a failed call (its error details), or None."""
    try:
        return rpc_status.from_call(e)
    except ValueError:
        # from_call insists that the detail's code and message repeat the call's; read the
        # details anyway when they do not.
        for key, value in e.trailing_metadata() or ():
            if key == "grpc-status-details-bin":
                return status_pb2.Status.FromString(value)
        return None


def describe_error(e: grpc.RpcError, path: Path, lines: list[int]) -> list[str]:
    """The lines printed for a refused call: the code and message, each field violation
    (an observation's named by its line in the file), and how many were not sent."""
    out = [f"error: {e.code().name}: {e.details()}"]
    status = rich_status(e)
    if status is None:
        return out
    seen = set()
    total = shown = None
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            for v in bad.field_violations:
                if (v.field, v.description) in seen:
                    continue
                seen.add((v.field, v.description))
                m = OBSERVATION_FIELD.fullmatch(v.field)
                if m and int(m.group(1)) < len(lines):
                    where = f"{path}: line {lines[int(m.group(1))]}"
                    out.append(f"{where}: {m.group(2)}: {v.description}" if m.group(2) else f"{where}: {v.description}")
                else:
                    out.append(f"{v.field}: {v.description}")
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            try:
                total = int(info.metadata["violations_total"])
                shown = int(info.metadata["violations_shown"])
            except (KeyError, ValueError):
                pass
    if total is not None and shown is not None and total > shown:
        out.append(f"... and {total - shown} more problems ({total} in all)")
    return out


def channel(server: str, ca_cert: str | None):
    if server.startswith("https://"):
        roots = Path(ca_cert).read_bytes() if ca_cert else None
        return grpc.secure_channel(server[len("https://"):], grpc.ssl_channel_credentials(roots))
    return grpc.insecure_channel(server.removeprefix("http://"))


def fmt(value, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def opt(msg, field: str, decimals: int) -> str:
    return fmt(getattr(msg, field), decimals) if msg.HasField(field) else "-"


def print_receipt(submission_id: str, region: str, n: int, r) -> None:
    rows = [
        ("submission_id", submission_id),
        ("region", region),
        ("observations", n),
        ("recorded", r.recorded),
        ("unchanged", r.unchanged),
        ("first_sequence", r.first_sequence),
        ("last_sequence", r.last_sequence),
        ("region_revision", r.region_revision),
        ("duplicate", str(r.duplicate).lower()),
        ("receipt_hash", r.receipt_hash),
    ]
    print("Receipt")
    for k, v in rows:
        print(f"  {k:<16} {v}")


def basis_name(national, pb) -> str:
    """official, complete, partial or unavailable."""
    name = pb["common_pb2"].NationalBasis.Name(national.basis)
    return name.removeprefix("NATIONAL_BASIS_").lower()


def national_value(national, decimals: int) -> str:
    """The national value, or ".." when there is none (as Statistics Finland writes it)."""
    return fmt(national.value, decimals) if national.HasField("value") else ".."


def coverage(national) -> str:
    return f"{national.regions_reported}/{national.regions_expected}"


def print_region(pic, region_name: str, pb) -> None:
    final = pb["common_pb2"].OBSERVATION_STATUS_FINAL
    print()
    print(
        f"Region {pic.region_code} ({region_name}), {pic.year}"
        f" - as of sequence {pic.as_of_sequence}, coverage {pic.coverage_ratio * 100:.1f} %"
    )
    print(
        f"  {'indicator':<40} {'value':>14} {'status':<11} {'national':>14} {'basis':<11} {'regions':>7}"
        f" {'diff/share':>14} {'rank':>6} {'change':>12} {'revisions':>9}"
    )
    for c in sorted(pic.cells, key=lambda c: (c.theme, c.indicator_id)):
        d = c.decimals
        rank = f"{c.rank}/{c.regions_ranked}" if c.rank else "-"
        status = "final" if c.status == final else "provisional"
        # A sum's region is shown as its share of the country, other indicators by their
        # difference to the national value.
        versus = f"{c.national_share:.1f}%" if c.HasField("national_share") else opt(c, "national_difference", d)
        print(
            f"  {c.indicator_id:<40} {fmt(c.value, d):>14} {status:<11} {national_value(c.national, d):>14}"
            f" {basis_name(c.national, pb):<11} {coverage(c.national):>7} {versus:>14}"
            f" {rank:>6} {opt(c, 'change', d):>12} {c.revisions:>9}"
        )
    scored = [t for t in pic.themes if t.scored]
    if scored:
        print("  themes: " + ", ".join(f"{t.theme} {t.score:.3f} (rank {t.rank})" for t in scored))
    print(LEGEND)
    print("  diff/share: value - national value; for a sum, the region's share of the country")


LEGEND = (
    "  basis: official = reported for SSS, complete = every region, partial = estimate from\n"
    "  part of the country, unavailable = no national value (..); regions: reported/expected"
)


def print_national(pic, decimals: dict[str, int], pb) -> None:
    print()
    print(f"National picture {pic.year} - as of sequence {pic.as_of_sequence}")
    print(
        f"  {'indicator':<40} {'national':>14} {'basis':<11} {'regions':>7} {'computed':>14}"
        f" {'min':>12} {'median':>12} {'max':>12}  best  worst"
    )
    empty = 0
    for n in sorted(pic.indicators, key=lambda n: (n.theme, n.indicator_id)):
        if (
            not n.national.HasField("value")
            and not n.HasField("computed_value")
            and n.regions_reported == 0
            and n.national.regions_reported == 0
        ):
            empty += 1
            continue
        d = decimals.get(n.indicator_id, n.decimals)
        print(
            f"  {n.indicator_id:<40} {national_value(n.national, d):>14} {basis_name(n.national, pb):<11}"
            f" {coverage(n.national):>7} {opt(n, 'computed_value', d):>14}"
            f" {opt(n, 'min', d):>12} {opt(n, 'median', d):>12} {opt(n, 'max', d):>12}"
            f"  {n.best_region or '-':<5} {n.worst_region or '-'}"
        )
    if empty:
        print(f"  ({empty} indicators without values for {pic.year} not shown)")
    print(LEGEND)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", default="127.0.0.1:50051", help="host:port, http://host:port or https://host:port")
    ap.add_argument("--region", required=True, help="region code (MK01..MK21, SSS) or Statistics Finland's numeric code")
    ap.add_argument("--csv", required=True, type=Path, help="the submission file")
    ap.add_argument("--token", help="bearer token (servers with an auth file)")
    ap.add_argument("--ca-cert", help="CA certificate (PEM) for an https:// server")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    args = ap.parse_args(argv)

    pb = load_stubs()
    try:
        submission_id, observations, lines = read_csv(args.csv, args.region, pb)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []

    with channel(args.server, args.ca_cert) as ch:
        ingest = pb["ingest_pb2_grpc"].IngestServiceStub(ch)
        pictures = pb["picture_pb2_grpc"].PictureServiceStub(ch)
        catalog = pb["catalog_pb2_grpc"].CatalogServiceStub(ch)
        try:
            receipt = ingest.Submit(
                pb["ingest_pb2"].SubmitRequest(
                    submission_id=submission_id, region_code=args.region, observations=observations
                ),
                metadata=metadata,
                timeout=args.timeout,
            )
            print_receipt(submission_id, args.region, len(observations), receipt)
            regions = catalog.ListRegions(pb["catalog_pb2"].ListRegionsRequest(), metadata=metadata, timeout=args.timeout)
            indicators = catalog.ListIndicators(pb["catalog_pb2"].ListIndicatorsRequest(), metadata=metadata, timeout=args.timeout)
            decimals = {i.id: i.decimals for i in indicators.indicators}
            years = sorted({o.year for o in observations})
            for year in years:
                pic = pictures.GetRegionPicture(
                    pb["picture_pb2"].GetRegionPictureRequest(
                        region_code=args.region, year=year, min_sequence=receipt.last_sequence
                    ),
                    metadata=metadata,
                    timeout=args.timeout,
                )
                name = next((r.name_en for r in regions.regions if r.code == pic.region_code), pic.region_code)
                print_region(pic, name, pb)
            for year in years:
                nat = pictures.GetNationalPicture(
                    pb["picture_pb2"].GetNationalPictureRequest(year=year, min_sequence=receipt.last_sequence),
                    metadata=metadata,
                    timeout=args.timeout,
                )
                print_national(nat, decimals, pb)
        except grpc.RpcError as e:
            for line in describe_error(e, args.csv, lines):
                print(line, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
