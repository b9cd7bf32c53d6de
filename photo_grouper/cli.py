"""`photo-grouper` on the command line: the same jobs as the window, headless."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class UserError(Exception):
    """Ends the command with one message and a non-zero status."""


def _library(args, *, create: bool = False):
    """The library the command works on. Only ``index`` makes one: a mistyped --library given to a command that
    reads it would otherwise leave an empty library (and its folders) behind and say it holds nothing."""
    from .store import Library, LibraryError, default_library_path

    path = args.library or default_library_path()
    try:
        return Library(path, create=create)
    except LibraryError as exc:
        if create or Path(path).expanduser().exists():
            raise
        where = f" --library {args.library}" if args.library else ""
        raise LibraryError(f"{exc}: index a folder into it first (photo-grouper index FOLDER{where})") from None


STAGE_UNITS = (("scan", "file"), ("check", "face"), ("epochs", "epoch"), ("episodes", "episode"), ("cluster", "‰"))
# clustering.training.VALIDATIONS, spelled out so that the command line starts without importing torch.
VALIDATIONS = ("alone", "with_training")
ADD_HELP = ("a second labelled folder whose episodes (a few of its labels each) join every model's training; tau "
            "and the join floor still come from DATA alone (the shipped species weights add faces-celeba's people "
            "to the breeds); its label folders must all be named otherwise than DATA's")
VALIDATION_HELP = ("how each cross-validation fold that chooses tau is scored: its people clustered alone (the "
                   "default) or among the training people (docs/hilander-ablation.md, row 31)")
# clustering.lander.CONVS, likewise.
CONVS = ("gat", "mean")
CONV_HELP = ("the graph layer: LANDER's weighted mean (the default) or graph attention, the reference's layer for "
             "species (docs/hilander-ablation.md, row 35)")


class TerminalProgress:
    """One tqdm bar per stage (done/total, rate, ETA) on stderr; silent when asked."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.stage = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            unit = next((u for prefix, u in STAGE_UNITS if stage.startswith(prefix)), "photo")
            self.bar = tqdm(total=total, desc=f"{stage:>8}", unit=unit, file=sys.stderr, dynamic_ncols=True)
        if self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _cancel_on_ctrl_c() -> threading.Event:
    """First Ctrl-C asks the job to stop at the next safe point; a second one stops at once."""
    cancel = threading.Event()

    def handler(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping after the current photos (Ctrl-C again to stop now)...", file=sys.stderr)

    signal.signal(signal.SIGINT, handler)
    return cancel


def cmd_index(args) -> int:
    from .jobs import index_folder
    from .vision import EncoderSpec

    if args.mode == "faces":
        spec = EncoderSpec.of("faces", detector=args.detector, detect_side=args.detect_size)
    else:
        spec = EncoderSpec.of("species", weights=args.weights, device=args.device)
    cancel = _cancel_on_ctrl_c()
    progress = TerminalProgress(enabled=not args.quiet)
    with _library(args, create=True) as library:
        try:
            report = index_folder(library, args.folder, spec, workers=args.workers, progress=progress,
                                  cancel=cancel, cluster=not args.no_cluster, device=args.device,
                                  regroup=args.regroup)
        finally:
            progress.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(format_index_report(report))
    return EXIT_CANCELLED if report.status == "cancelled" else EXIT_OK


def format_index_report(report) -> str:
    from .organize.words import suggestions_said

    sc, an = report.scan, report.analyse
    what = "faces" if report.mode == "faces" else "photos embedded"
    lines = [
        f"{'Cancelled' if report.status == 'cancelled' else 'Indexed'} {report.root} ({report.mode}) "
        f"in {report.seconds:.1f} s",
        f"  photos: {sc.files} found: {sc.new} new, {sc.unchanged} unchanged, {sc.modified} modified, "
        f"{sc.moved} moved, {sc.missing} missing, {sc.failed + an.failed} failed"
        + (f", {sc.restored} back" if sc.restored else ""),
        f"  analysed: {an.analysed + an.reused} of {an.pending} pending"
        + (f" ({an.reused} copies reused)" if an.reused else "") + f"; {what}: {an.found}"
        + (f"; {an.replaced} embedded again in place, the way this version embeds (names and corrections kept)"
           if an.replaced else ""),
    ] + ([f"  {an.fallback}"] if an.fallback else [])
    ch = report.check
    if ch.pending:
        lines.append(f"  checked {ch.confirmed + ch.rejected} box(es) the detector was unsure of: {ch.rejected} not a "
                     "face (left out of the groups)"
                     + (f", {ch.unreadable} in photos that could not be read again" if ch.unreadable else ""))
    if report.cluster:
        c = report.cluster
        what = "faces" if report.mode == "faces" else "photos"
        levels = f"{c['levels']} level" + "s" * (c["levels"] != 1)
        if c.get("zoom_out"):
            levels += f" (and {c['zoom_out']} coarser to zoom out to)"
        groups = f"{c['groups']} group" + "s" * (c["groups"] != 1)
        if c.get("unchanged"):
            lines.append(f"  groups kept: nothing the grouping reads has changed since it last ran ({c['items']} "
                         f"{what}, {groups} over {levels}; --regroup groups them again)")
        else:
            lines.append(f"  grouped {c['items']} {what} into {groups} over {levels} in "
                         f"{c['seconds']:.1f} s (photo-grouper groups lists them)")
        if c.get("fallback"):
            lines.append(f"  {c['fallback']}")
        if c.get("copies"):
            lines.append(f"  {c['copies']} of them copies of a photo kept or saved twice: grouped with it")
        if c.get("parted"):
            lines.append(f"  parted {c['parted']} group(s) that would have held two faces of one photo (two faces in "
                         "one photo are two people)")
        if c.get("damaged"):
            lines.append(f"  left out {c['damaged']} damaged descriptor(s) (not finite numbers): those faces stay "
                         "ungrouped")
        if c.get("suggested"):
            lines.append(f"  {suggestions_said(report.mode, c['suggested'], c.get('new_suggested', 0))} "
                         "(photo-grouper people; group confirm NAME, or group reject NAME FACE)")
    elif report.cluster_note:
        lines.append(f"  {report.cluster_note}")
    if sc.unreadable_folders:
        lines.append(f"  could not read {len(sc.unreadable_folders)} file(s) or folder(s), e.g. "
                     f"{sc.unreadable_folders[0]}")
    lines += [f"  {line}" for line in sc.left_out()]
    if report.status == "cancelled":
        lines.append("  everything done so far is saved; run the same command again to resume")
    return "\n".join(lines)


def cmd_status(args) -> int:
    from .jobs import library_status

    with _library(args) as library:
        status = library_status(library)
    if args.json:
        print(json.dumps(status, indent=2))
        return EXIT_OK
    p = status["photos"]
    print(f"Library {status['library']} (schema {status['schema_version']})")
    print(f"  photos: {p['total']} ({p['ok']} ok, {p['failed']} failed, {p['missing']} missing)")
    print(f"  faces: {status['faces']}"
          + (f" ({status['not_faces']} of them turned down by the face check)" if status["not_faces"] else "")
          + f", whole photos: {status['whole_photos']}")
    for name, entry in status["pipelines"].items():
        print(f"  {name}: {entry['analysed']} analysed, {entry['failed']} failed, {entry['pending']} pending, "
              f"{entry['found']} found")
    for run in status["runs"][:1]:
        print(f"  last run: {run['status']} {run['mode']} {run['root']} at {local_time(run['started_at'])}: "
              f"{run['new']} new, {run['unchanged']} unchanged, {run['moved']} moved, {run['missing']} missing, "
              f"{run['failed']} failed, {run['found']} found")
    return EXIT_OK


def local_time(iso: str | None) -> str:
    """A stored time (UTC; SQLite keeps no zone) as the user's clock reads it, to the minute."""
    if not iso:
        return "an unknown time"
    when = datetime.fromisoformat(iso)
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone().strftime("%Y-%m-%d %H:%M")


def cmd_bench_index(args) -> int:
    from .bench.index import main as bench_main

    forwarded = [str(args.folder), "--workers", str(args.workers or 0), "--large", str(args.large),
                 "--limit", str(args.limit)]
    return bench_main(forwarded)


def cmd_bench(args) -> int:
    from .bench.quality import format_table, run_bench, run_cross_bench, write_json

    if args.folds and (args.weights or args.train):
        raise UserError("--folds trains its own weights on each fold's complement and tunes the baselines there: "
                        "leave out --weights and --train")
    if not args.folds and (args.epochs or args.episodes or args.ensemble or args.validation or args.conv
                           or args.fold_models or args.add):
        raise UserError("--epochs, --episodes, --ensemble, --validation, --conv, --add and --fold-models are about "
                        "the models --folds trains: add --folds N")
    if (args.group_photos or args.forced_clashes) and args.mode != "faces":
        raise UserError("--group-photos and --forced-clashes are for faces: in species mode a photo is one item")
    progress = TerminalProgress(enabled=not args.quiet)
    try:
        if args.folds:
            result = run_cross_bench(args.data, args.mode, folds=args.folds, seed=args.seed, device=args.device,
                                     added_dir=args.add,
                                     progress=progress, epochs=args.epochs, episodes=args.episodes,
                                     ensemble=args.ensemble, validation=args.validation, conv=args.conv,
                                     fold_models=args.fold_models, seen_once=args.seen_once,
                                     group_photos=args.group_photos, forced=args.forced_clashes,
                                     zoom_out=args.zoom_out)
        else:
            result = run_bench(args.data, args.mode, train_dir=args.train, weights=args.weights,
                               device=args.device, progress=progress, seen_once=args.seen_once, seed=args.seed,
                               group_photos=args.group_photos, forced=args.forced_clashes,
                               zoom_out=args.zoom_out)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from exc
    finally:
        progress.close()
    print(format_table(result))
    if args.json:
        write_json(result, args.json)
    return EXIT_OK


def cmd_train(args) -> int:
    from .learn import train_folder

    progress = TerminalProgress(enabled=not args.quiet)
    try:
        overrides = {k: v for k, v in (("epochs", args.epochs), ("episodes", args.episodes),
                                       ("ensemble", args.ensemble), ("validation", args.validation),
                                       ("conv", args.conv)) if v}
        result, card = train_folder(args.data, args.mode, args.out, holdout=args.holdout, seed=args.seed,
                                    progress=progress, added_dir=args.add, **overrides)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    finally:
        progress.close()
    v = card["validation"]
    print(f"trained on {len(card['train_labels'])} labels ({card['items']} items), tau {card['tau']} chosen by "
          f"{len(card['folds'])}-fold cross-validation over the labels: "
          f"Fp {v['fp']:.3f}, Fb {v['fb']:.3f}, NMI {v['nmi']:.3f}; join floor {card['join_floor']:g} learned from "
          f"the same labels; {card['train_seconds']:.0f} s")
    if "added" in card:
        print(f"every model also learned from episodes of the {len(card['added']['labels'])} labels of "
              f"{card['added']['data']} ({card['added']['items']} items)")
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="photo-grouper",
                                     description="Group a photo library by who or what is in it.")
    parser.add_argument("--version", action="version", version=f"photo-grouper {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def with_library(p):
        p.add_argument("--library", type=Path, help="library file (default: in your user data folder)")
        return p

    p = with_library(sub.add_parser("index", help="scan a folder, detect and embed faces or photos"))
    p.add_argument("folder", type=Path)
    p.add_argument("--mode", choices=["faces", "species"], default="faces")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--detector", choices=["hog", "cnn"], default="hog", help="face detector (faces mode)")
    p.add_argument("--detect-size", type=int, default=None,
                   help="longest side, in pixels, of the image the face detector scans (default 1024)")
    p.add_argument("--weights", type=Path, default=None, help="species encoder weights file (species mode)")
    p.add_argument("--device", default=None,
                   help="torch device for embedding (species mode) and grouping (default: cuda if present)")
    p.add_argument("--no-cluster", action="store_true", help="detect and embed only; do not regroup")
    p.add_argument("--regroup", action="store_true",
                   help="group again even where nothing the grouping reads has changed (kept by default)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_index)

    p = with_library(sub.add_parser("status", help="what the library holds"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    from .cli_organize import add_parsers

    add_parsers(sub, with_library)

    p = with_library(sub.add_parser("gui", help="open the window (the default with no command, given a display)"))
    p.add_argument("--mode", choices=["faces", "species"], default=None,
                   help="faces or species (default: the mode used last)")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("train", help="train Hi-LANDER weights on a labelled folder (one subfolder per label)")
    p.add_argument("data", type=Path)
    p.add_argument("--mode", choices=["faces", "species"], default="faces")
    p.add_argument("--out", type=Path, required=True, help="weights file to write (a .json card goes beside it)")
    p.add_argument("--holdout", type=float, default=0.0,
                   help="share of the labels kept out of training entirely, for an honest benchmark")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="passes over the training graphs (default 30)")
    p.add_argument("--episodes", type=int, default=None, help="sampled training episodes (default 18)")
    p.add_argument("--ensemble", type=int, default=None,
                   help="models trained from successive seeds, probabilities averaged (default 3)")
    p.add_argument("--validation", choices=VALIDATIONS, default=None, help=VALIDATION_HELP)
    p.add_argument("--conv", choices=sorted(CONVS), default=None, help=CONV_HELP)
    p.add_argument("--add", type=Path, default=None, metavar="DIR", help=ADD_HELP)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("bench", help="clustering quality on labelled photos: Hi-LANDER against the baselines")
    p.add_argument("data", type=Path)
    p.add_argument("--mode", choices=["faces", "species"], default="faces")
    p.add_argument("--train", type=Path, default=None, help="labelled folder to tune the baselines on")
    p.add_argument("--weights", type=Path, default=None, help="Hi-LANDER weights (default: the shipped ones)")
    p.add_argument("--device", default=None)
    p.add_argument("--json", type=Path, default=None, help="also write the rows to this file")
    p.add_argument("--folds", type=int, default=0,
                   help="test every identity once: train weights with the shipped recipe on all folds but one, "
                        "score the one, and average (slow: one training per fold)")
    p.add_argument("--seed", type=int, default=0,
                   help="how --folds splits the identities, --seen-once draws its people and photos and "
                        "--group-photos its photos")
    p.add_argument("--seen-once", type=float, default=0.0, metavar="SHARE",
                   help="keep one photo of this share of the test identities, drawn at random (a personal library "
                        "has many people seen once); the table adds the share of them left alone")
    p.add_argument("--group-photos", type=float, default=0.0, metavar="SHARE",
                   help="put this share of the test faces in group photos of 2-4 people, drawn at random (faces: "
                        "Hi-LANDER keeps the faces of one photo apart); the table adds how many faces share a group "
                        "with another face of their photo")
    p.add_argument("--forced-clashes", action="store_true",
                   help="also make clashes on purpose (each stray face declared one photo with faces of the group it "
                        "sits in) and print what keeping them apart changes")
    p.add_argument("--zoom-out", type=int, default=None, metavar="N",
                   help="build N zoom-out levels past the stop (default: as many as the app stores, 4) and check "
                        "them against the same-count cut with the other levels")
    p.add_argument("--epochs", type=int, default=None, help="with --folds: change the recipe's epochs")
    p.add_argument("--episodes", type=int, default=None, help="with --folds: change the recipe's episodes")
    p.add_argument("--ensemble", type=int, default=None, help="with --folds: change the recipe's ensemble size")
    p.add_argument("--validation", choices=VALIDATIONS, default=None, help="with --folds: " + VALIDATION_HELP)
    p.add_argument("--conv", choices=sorted(CONVS), default=None, help="with --folds: " + CONV_HELP)
    p.add_argument("--add", type=Path, default=None, metavar="DIR", help="with --folds: " + ADD_HELP)
    p.add_argument("--fold-models", type=Path, default=None, metavar="DIR",
                   help="with --folds: keep each fold's trained weights in DIR and reuse them on a later run with "
                        "the same data, seed and recipe (scoring again takes minutes instead of training)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("bench-index", help="time indexing against the face_recognition package")
    p.add_argument("folder", type=Path)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--large", type=int, default=12, help="upscale photos to this many megapixels (0: as they are)")
    p.add_argument("--limit", type=int, default=24, help="photos to time")
    p.set_defaults(func=cmd_bench_index)
    return parser


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def cmd_gui(args) -> int:
    from .gui.app import run

    return run(args.library, args.mode)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if _has_display():
            from .gui.app import run

            return run()
        parser.print_help()
        print("\n(no display here: with one, photo-grouper without a command opens the window)", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "workers", None) is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    from .clustering import WeightsError
    from .device import DeviceError, choose_device
    from .jobs import JobError
    from .media import ScanError
    from .store import LibraryError

    try:
        if getattr(args, "device", None):
            choose_device(args.device)  # a device that cannot be had is refused before anything starts
        return args.func(args)
    except (LibraryError, ScanError, JobError, UserError, WeightsError, DeviceError) as exc:
        print(f"photo-grouper: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("photo-grouper: stopped; what was saved is kept, run again to resume", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other command-line tools do.
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
