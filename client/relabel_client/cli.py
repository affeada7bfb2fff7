"""The `relabel` command: argument parsing and output; every REST call is in `relabel_client.api`."""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from relabel_client import __version__, compare, config
from relabel_client.api import ApiError, Client

# The figures `predictions upload --wait` and `leaderboard` show, in this order (all in the snapshot summary).
METRICS = [
    ("top1", "top-1 (original label)"),
    ("top5", "top-5 (original label)"),
    ("real_at_1", "ReaL@1"),
    ("real_at_5", "ReaL@5"),
    ("vtk_strict", "variable top-k, strict"),
    ("vtk_frac", "variable top-k, fractional"),
    ("asma_strict", "ASMA, strict"),
    ("asma_frac", "ASMA, fractional"),
    ("precision_at_5", "precision@5"),
    ("recall_at_5", "recall@5"),
    ("mean_average_precision", "mean AP"),
    ("multilabel_share", "multi-label share of the labels"),
    ("n_evaluated_multilabel", "images with a label set"),
    ("n_images", "images"),
]
EXIT_ERROR, EXIT_USAGE = 1, 2

DESCRIPTION = """\
A command-line client for a ReLabel server's REST API.

Log in once (the token is kept in your config folder, readable only by you), then list datasets, register
prediction sets and read their metrics, read leaderboards, compare two datasets model by model, and build,
list and download releases.
$RELABEL_URL and $RELABEL_TOKEN, when both set, take the place of the saved login.
Errors print the server's message and exit with status 1 (2 for a wrong command line)."""

EPILOG = """\
examples:
  relabel login --url https://relabel.example.org --username ada
  relabel datasets
  relabel predictions upload imagenet-val resnet50_top5.csv --name resnet50 --wait
  relabel leaderboard imagenet-val --source consensus --csv > board.csv
  relabel compare imagenet-val-real imagenetv2-matched-frequency --metric vtk_strict --csv > gap.csv
  relabel releases create imagenet-val --threshold 0.6 --wait
  relabel releases download imagenet-val --version 2 --file parquet"""


class Progress:
    """A one-line progress report on stderr: rewritten in place on a terminal, a line every few seconds in a log."""

    def __init__(self, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self.last = 0.0
        self.shown = False

    def __call__(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r\033[K" + text)
            self.shown = True
        elif force or now - self.last >= self.every:
            self.stream.write(text + "\n")
            self.last = now
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _client(args: argparse.Namespace) -> Client:
    credentials = config.load()
    if credentials is None:
        raise ApiError("not logged in: run `relabel login --url URL --username NAME` first")
    return Client(args.url or credentials.url, credentials.token)


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str], out: TextIO) -> None:
    cells = [list(map(str, header))] + [[_number(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")


# --- commands --------------------------------------------------------------------------------------------------


def cmd_login(args: argparse.Namespace) -> None:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    client = Client(args.url)
    try:
        token = client.token(args.username, password)
    finally:
        client.close()
    path = config.save(config.Credentials(args.url.rstrip("/"), token, args.username))
    print(f"logged in to {args.url} as {args.username}; token saved in {path} (mode 0600)")


def cmd_datasets(args: argparse.Namespace) -> None:
    rows = _client(args).datasets()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    _table(
        [(d["slug"], d["name"], d["image_count"], d["class_count"], d["annotations_per_image"]) for d in rows],
        ["slug", "name", "images", "classes", "annotations/image"],
        sys.stdout,
    )


def cmd_predictions_upload(args: argparse.Namespace) -> None:
    client = _client(args)
    if not args.file.is_file():
        raise ApiError(f"{args.file}: no such file")
    created = client.prediction_set_upload(args.dataset, args.file, args.name, args.description)
    print(f"prediction set {created['id']} ({created['name']}): {created['n_images']} images, top-{created['k']}")
    if not args.wait:
        return
    progress, started = Progress(), time.monotonic()
    delay = 0.5
    while not (snapshots := client.snapshots(created["id"])):
        waited = time.monotonic() - started
        if waited > args.timeout:
            progress.done()
            raise ApiError(f"no metrics after {args.timeout:g} s; the server's worker may be busy or stopped")
        progress(f"waiting for the metrics… {waited:.0f} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 5.0)
    progress.done()
    snapshot = snapshots[0]
    metrics = snapshot["metrics"]
    if args.json:
        print(json.dumps(snapshot, indent=2))
        return
    print(f"metrics against {snapshot['label_source']} (pool of {snapshot['pool_size']} labelled images):")
    _table([(label, metrics.get(key)) for key, label in METRICS if key in metrics], ["metric", "value"], sys.stdout)


def cmd_leaderboard(args: argparse.Namespace) -> None:
    board = _client(args).leaderboard(args.dataset, args.source)
    if args.source and board["label_source"] != args.source:
        raise ApiError(
            f"{args.dataset} has no label source {args.source!r} (the server's default: {board['label_source']})"
        )
    keys = ["top1", "top5", "real_at_1", "real_at_5", "vtk_strict", "asma_strict", "asma_frac"]
    header = ["rank_real1", "name", "k", *keys, "rank_top1", "places_gained_real1"]
    rows = [
        [row["rank_real1"], row["name"], row["k"], *((row["metrics"] or {}).get(k) for k in keys), row["rank_top1"],
         row["places_gained_real1"]]
        for row in board["rows"]
    ]  # fmt: skip
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        return
    print(f"{args.dataset} against {board['label_source_name']} ({board['label_source']}), sorted by {board['sort']}:")
    _table(rows, header, sys.stdout)


def cmd_compare(args: argparse.Namespace) -> None:
    params: dict[str, Any] = {"pair": args.pair or []}
    for name in ("labels_a", "labels_b", "metric", "decompose"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    body = _client(args).compare(args.dataset_a, args.dataset_b, params)
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
    elif args.csv:
        compare.write_csv(body, sys.stdout)
    else:
        compare.write_tables(body, sys.stdout, _table)


def cmd_releases_list(args: argparse.Namespace) -> None:
    releases = _client(args).releases(args.dataset)
    if args.json:
        print(json.dumps(releases, indent=2))
        return
    _table(
        [(r["version"], r["id"], r["created_at"][:16].replace("T", " "), r["aggregation"], r["threshold"],
          r["n_images"], r["n_labelled"], r["multi_label_share"], len(r["files"])) for r in releases],
        ["version", "id", "created", "aggregation", "threshold", "images", "labelled", "multi-label", "files"],
        sys.stdout,
    )  # fmt: skip


def cmd_releases_create(args: argparse.Namespace) -> None:
    client = _client(args)
    parameters: dict[str, Any] = {"client_uuid": str(uuid.uuid4()), "apply_adjudications": not args.no_adjudications}
    for name in ("aggregation", "threshold", "min_annotations", "unanswered_as_original"):
        if getattr(args, name) is not None:
            parameters[name] = getattr(args, name)
    release = client.release_create(args.dataset, parameters)
    print(f"release {release['id']} (version {release['version']}) of {args.dataset}: {release['state']}")
    if not args.wait:
        return
    progress, started = Progress(), time.monotonic()
    while (state := client.release_progress(release["id"]))["state"] == "building":
        if time.monotonic() - started > args.timeout:
            progress.done()
            raise ApiError(f"still building after {args.timeout:g} s; follow it with `relabel releases list`")
        progress(f"building: {state['phase'] or 'queued'} {100 * (state['progress'] or 0):.0f} %")
        time.sleep(1.0)
    progress.done()
    if state["state"] != "ready":
        raise ApiError(f"the build failed: {state['error']}")
    print(f"version {release['version']} is ready")


def cmd_releases_download(args: argparse.Namespace) -> None:
    client = _client(args)
    releases = client.releases(args.dataset)
    if not releases:
        raise ApiError(f"{args.dataset} has no ready release")
    release = releases[0] if args.version is None else next((r for r in releases if r["version"] == args.version), None)
    if release is None:
        known = ", ".join(str(r["version"]) for r in releases)
        raise ApiError(f"{args.dataset} has no ready release version {args.version} (versions: {known})")
    stored = next((f for f in release["files"] if f["kind"] == args.file), None)
    if stored is None:
        raise ApiError(f"release {release['version']} has no {args.file!r} file")
    name = stored["filename"] if args.file == "zip" else f"{args.dataset}-v{release['version']}-{stored['filename']}"
    target = args.output / name
    args.output.mkdir(parents=True, exist_ok=True)
    progress = Progress()
    fetched = client.download(
        stored["url"],
        target,
        sha256=stored["sha256"],
        size=stored["size"],
        progress=lambda done, size: progress(f"{target.name}: {done / 1e6:.1f} of {size / 1e6:.1f} MB"),
    )
    progress.done()
    print(f"{target}: {'downloaded' if fetched else 'already here'}, SHA-256 {stored['sha256']} verified")


# --- the parser --------------------------------------------------------------------------------------------------


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _sub(
    parent: Any, name: str, help_text: str, handler: Callable[[argparse.Namespace], None], description: str = ""
) -> Any:
    parser = parent.add_parser(name, help=help_text, description=description or help_text, formatter_class=_formatter)
    parser.set_defaults(handler=handler)
    return parser


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="relabel", description=DESCRIPTION, epilog=EPILOG, formatter_class=_formatter)
    root.add_argument("--version", action="version", version=f"relabel-client {__version__}")
    root.add_argument("--url", help="server to use instead of the one saved by `login` (same token)")
    commands = root.add_subparsers(title="commands", metavar="COMMAND", required=True)

    login = _sub(commands, "login", "get an API token with your username and password, and save it", cmd_login)
    login.add_argument("--url", required=True, help="the server, e.g. https://relabel.example.org")
    login.add_argument("--username", required=True, help="your ReLabel username")
    login.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    datasets = _sub(commands, "datasets", "list the datasets: slug, name, image and class counts", cmd_datasets)
    datasets.add_argument("--json", action="store_true", help="print the API's JSON")

    predictions = commands.add_parser("predictions", help="prediction sets (a model's ranked classes per image)",
                                      formatter_class=_formatter)  # fmt: skip
    prediction_commands = predictions.add_subparsers(title="commands", metavar="COMMAND", required=True)
    upload = _sub(
        prediction_commands,
        "upload",
        "register a prediction set (CSV, JSONL, .npy, .npz or ReaL JSON; see the server's README) and, with "
        "--wait, wait for its metrics and print them",
        cmd_predictions_upload,
    )
    upload.add_argument("dataset", metavar="DATASET", help="dataset slug")
    upload.add_argument("file", metavar="FILE", type=Path, help="the predictions file")
    upload.add_argument("--name", required=True, help="the prediction set's name (e.g. the model's)")
    upload.add_argument("--description", default="", help="free text shown with the set")
    upload.add_argument("--wait", action="store_true", help="wait until the server has computed the metrics")
    upload.add_argument("--timeout", type=float, default=900, help="seconds --wait waits at most (default 900)")
    upload.add_argument("--json", action="store_true", help="with --wait: print the metric snapshot's JSON")

    board = _sub(commands, "leaderboard", "every model of a dataset ranked by ReaL@1, with top-1 and ASMA",
                 cmd_leaderboard)  # fmt: skip
    board.add_argument("dataset", metavar="DATASET", help="dataset slug")
    board.add_argument(
        "--source", help="label source: 'consensus' or 'reference-<id>' (default: the one that covers the most images)"
    )
    board.add_argument("--csv", action="store_true", help="print CSV instead of a table")

    comparison = _sub(
        commands,
        "compare",
        "two datasets model by model: top-1 and a multi-label metric on A and B, the gap and its decomposition",
        cmd_compare,
        compare.DESCRIPTION,
    )
    comparison.add_argument("dataset_a", metavar="A", help="slug of dataset A (e.g. imagenet-val)")
    comparison.add_argument("dataset_b", metavar="B", help="slug of dataset B (e.g. imagenetv2); may be A itself")
    comparison.add_argument("--labels-a", metavar="S", help="A's label source: 'consensus' or 'reference-<id>' "
                            "(default: the one that covers the most images)")  # fmt: skip
    comparison.add_argument("--labels-b", metavar="S", help="B's label source (likewise)")
    comparison.add_argument("--metric", metavar="M", help="the multi-label metric shown: "
                            f"{', '.join(compare.MULTILABEL)} (default real_at_1)")  # fmt: skip
    comparison.add_argument("--decompose", metavar="M", help="the metric whose gap is decomposed by |Y| bin: "
                            f"{', '.join(compare.DECOMPOSABLE)} (default top1)")  # fmt: skip
    comparison.add_argument(
        "--pair",
        metavar="A_ID:B_ID",
        action="append",
        help="pair prediction set A_ID of A with B_ID of B instead of by name ('A_ID:' leaves it unpaired); repeatable",
    )
    output = comparison.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="print CSV (every metric, proportions at full precision, "
                        "the columns of the comparison page's CSV) instead of tables")  # fmt: skip
    output.add_argument("--json", action="store_true", help="print the API's JSON")

    releases = commands.add_parser("releases", help="versioned snapshots of a dataset's labels",
                                   formatter_class=_formatter)  # fmt: skip
    release_commands = releases.add_subparsers(title="commands", metavar="COMMAND", required=True)
    listing = _sub(release_commands, "list", "the dataset's ready releases, newest first", cmd_releases_list)
    listing.add_argument("dataset", metavar="DATASET", help="dataset slug")
    listing.add_argument("--json", action="store_true", help="print the API's JSON (parameters, counts, files)")

    create = _sub(release_commands, "create", "build a new release (unset parameters: the dataset's settings)",
                  cmd_releases_create)  # fmt: skip
    create.add_argument("dataset", metavar="DATASET", help="dataset slug")
    create.add_argument("--aggregation", choices=["majority", "dawid_skene"], help="how label sets are decided")
    create.add_argument("--threshold", type=float, help="majority: yes-share ≥ T; Dawid–Skene: posterior > T")
    create.add_argument("--min-annotations", type=int, help="images with fewer annotations are pending")
    create.add_argument("--no-adjudications", action="store_true", help="ignore reviewers' adjudications")
    original = create.add_mutually_exclusive_group()
    original.add_argument(
        "--unanswered-as-original",
        dest="unanswered_as_original",
        action="store_const",
        const=True,
        help="images nobody answered keep their original label (ReaL's convention)",
    )
    original.add_argument("--no-unanswered-as-original", dest="unanswered_as_original", action="store_const",
                          const=False, help="images nobody answered are pending")  # fmt: skip
    create.add_argument("--wait", action="store_true", help="follow the build until the release is ready")
    create.add_argument("--timeout", type=float, default=1800, help="seconds --wait waits at most (default 1800)")

    download = _sub(
        release_commands,
        "download",
        "download one file of a release and verify its SHA-256; an interrupted download resumes when run again, "
        "and a file already downloaded and intact is not fetched twice",
        cmd_releases_download,
    )
    download.add_argument("dataset", metavar="DATASET", help="dataset slug")
    download.add_argument("--version", type=int, help="release version (default: the newest)")
    download.add_argument(
        "--file",
        default="zip",
        choices=["zip", "real", "status", "jsonl", "csv", "parquet", "votes", "votes_pq", "datasheet"],
        help="which file: zip (all of them, the default), real (real.json), status (real_status.json), jsonl "
        "(images.jsonl), csv (images.csv), parquet (images.parquet), votes (votes.csv), votes_pq (votes.parquet), "
        "datasheet (DATASHEET.md)",
    )
    download.add_argument("--output", type=Path, default=Path("."), help="folder to write to (default: here)")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.handler(args)
    except ApiError as error:
        print(f"relabel: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("relabel: interrupted", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
