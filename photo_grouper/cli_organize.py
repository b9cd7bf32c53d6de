"""`photo-grouper groups | people | group ... | undo | redo | history`: the organize core from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parsers(sub, with_library) -> None:
    def common(p):
        with_library(p)
        p.add_argument("--mode", choices=["faces", "species"], default="faces")
        p.add_argument("--json", action="store_true", help="print JSON")
        return p

    p = common(sub.add_parser("groups", help="people, then the automatic groups of one hierarchy level"))
    p.add_argument("--level", type=int, default=None,
                   help="hierarchy level, 0 = finest (default: where the grouping stopped; the levels above it zoom "
                        "out, joining groups the model kept apart)")
    p.add_argument("--hidden", action="store_true", help="list hidden groups too")
    p.add_argument("--min-size", type=int, default=1, metavar="N",
                   help="list only automatic groups of at least N faces (a library has many people seen once); "
                        "people are always listed")
    p.set_defaults(func=cmd_groups)

    p = common(sub.add_parser("people", help="the people (or species) you named or made"))
    p.set_defaults(func=cmd_people)

    group = sub.add_parser("group", help="show or correct one group: show, name, merge, split, confirm, reject, "
                                         "move, hide, unhide, ignore, unignore; not-faces")
    gsub = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    ref_help = "a group: p12 (a person), g345 (an automatic group) or a person's name"

    p = common(gsub.add_parser("show", help="the faces of a group"))
    p.add_argument("ref", help=ref_help)
    p.add_argument("--level", type=int, default=None)
    p.set_defaults(func=cmd_show)

    p = common(gsub.add_parser("name", help="name a group (its faces become that person's; a known name merges)"))
    p.add_argument("ref", help=ref_help)
    p.add_argument("name")
    p.set_defaults(func=_op(lambda org, a: org.name(a.ref, a.name)))

    p = common(gsub.add_parser("merge", help="merge groups or people into one"))
    p.add_argument("refs", nargs="+", metavar="ref", help=ref_help)
    p.add_argument("--name", default=None, help="name of the merged group")
    p.set_defaults(func=_op(lambda org, a: org.merge(a.refs, name=a.name)))

    p = common(gsub.add_parser("split", help="move chosen faces or finer groups out to a new or another group"))
    p.add_argument("ref", help=ref_help)
    p.add_argument("--faces", type=int, nargs="+", default=[], metavar="FACE", help="face ids (group show)")
    p.add_argument("--subgroups", nargs="+", default=[], metavar="REF", help="finer groups inside an automatic group")
    p.add_argument("--to", default=None, help="an existing group to move them to (default: a new group)")
    p.add_argument("--name", default=None, help="name of the new group")
    p.set_defaults(func=_op(lambda org, a: org.split(a.ref, a.faces, a.subgroups, to=a.to, name=a.name)))

    p = common(gsub.add_parser("confirm", help="'yes, that is them': faces suggested to a person become theirs"))
    p.add_argument("ref", help="a person: p12 or a name")
    p.add_argument("faces", type=int, nargs="*", metavar="FACE", help="only these (default: every suggested face)")
    p.set_defaults(func=_op(lambda org, a: org.confirm(a.ref, a.faces or None)))

    p = common(gsub.add_parser("reject", help="'not this person': take faces out of a group for good"))
    p.add_argument("ref", help=ref_help)
    p.add_argument("faces", type=int, nargs="+", metavar="FACE")
    p.set_defaults(func=_op(lambda org, a: org.reject(a.ref, a.faces)))

    p = common(gsub.add_parser("move", help="put single faces with another group"))
    p.add_argument("faces", type=int, nargs="+", metavar="FACE")
    p.add_argument("--to", required=True, help=ref_help)
    p.set_defaults(func=_op(lambda org, a: org.move(a.faces, a.to)))

    for action, hidden in (("hide", True), ("unhide", False)):
        p = common(gsub.add_parser(action, help=f"{action} a group"))
        p.add_argument("ref", help=ref_help)
        p.set_defaults(func=_op(lambda org, a, h=hidden: org.hide(a.ref, h)))

    p = common(gsub.add_parser("ignore", help="set faces aside (or --not-a-face)"))
    p.add_argument("faces", type=int, nargs="+", metavar="FACE")
    p.add_argument("--not-a-face", action="store_true")
    p.set_defaults(func=_op(lambda org, a: org.ignore(a.faces, "not-a-face" if a.not_a_face else "ignored")))

    p = common(gsub.add_parser("not-faces", help="the boxes the face check turned down (unignore brings one back)"))
    p.set_defaults(func=cmd_not_faces)

    p = common(gsub.add_parser("unignore", help="bring ignored faces back, or boxes the face check turned down"))
    p.add_argument("faces", type=int, nargs="+", metavar="FACE")
    p.set_defaults(func=_op(lambda org, a: org.ignore(a.faces, None)))

    p = common(sub.add_parser("export", help="albums: a folder per named person, and XMP sidecars (--xmp)"))
    p.add_argument("--out", type=Path, required=True, help="destination folder")
    p.add_argument("--people", nargs="+", default=None, metavar="NAME", help="only these people (default: all named)")
    p.add_argument("--link", choices=["copy", "hardlink", "symlink"], default="copy")
    p.add_argument("--xmp", action="store_true", help="write XMP sidecars (face regions, names) beside the photos")
    p.add_argument("--suggested", action="store_true", help="include faces suggested to people, not only confirmed")
    p.add_argument("--groups", action="store_true",
                   help="also a folder per unnamed group (of the default level); sidecars still name only people")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_export)

    p = common(sub.add_parser("undo", help="undo the last correction"))
    p.set_defaults(func=_op(lambda org, a: org.undo()))
    p = common(sub.add_parser("redo", help="redo the last undone correction"))
    p.set_defaults(func=_op(lambda org, a: org.redo()))
    p = common(sub.add_parser("history", help="the last corrections, newest first"))
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_history)


def _organizer(args):
    from .cli import _library
    from .organize import Organizer

    library = _library(args)
    return library, Organizer(library, args.mode)


def _user_errors(fn):
    def run(args) -> int:
        from .cli import UserError
        from .organize import OrganizeError

        try:
            return fn(args)
        except OrganizeError as exc:
            raise UserError(str(exc)) from exc
    return run


def _op(call):
    @_user_errors
    def run(args) -> int:
        library, org = _organizer(args)
        with library:
            change = call(org, args)
        if args.json:
            print(json.dumps(change.as_dict(), indent=2))
        else:
            print(change.summary[0].upper() + change.summary[1:])
            for note in change.notes:
                print(f"  {note}")
        return 0
    return run


@_user_errors
def cmd_groups(args) -> int:
    from .organize.words import level_said, why_empty_said

    library, org = _organizer(args)
    with library:
        state, groups = org.groups(args.level, include_hidden=args.hidden, min_size=args.min_size)
        elsewhere = org.grouped_instead() if not groups and not groups.small else []
        empty = org.why_empty() if not groups and not groups.small and not elsewhere else None
    if args.json:
        print(json.dumps({"level": state.level, "levels": state.levels, "default_level": state.default_level,
                          "groups": [g.as_dict() for g in groups],
                          "left_out": {"groups": groups.small, "faces": groups.small_items}}, indent=2))
        return 0
    if not groups and not groups.small:
        if elsewhere:  # --mode defaults to faces: a library indexed for species would look empty
            print(f"no {args.mode} groups in this library; it holds {elsewhere[0]} groups: "
                  f"photo-grouper groups --mode {elsewhere[0]}")
        else:
            print(why_empty_said(args.mode, *empty, f"run photo-grouper index FOLDER --mode {args.mode}"))
        return 0
    people = sum(g.kind == "person" for g in groups)
    named = f"{people} people" if args.mode == "faces" else f"{people} named species"
    coarser = range(state.default_level + 1, state.levels)
    zoom = (f"; --level {coarser.start}" + (f" to {coarser.stop - 1}" if len(coarser) > 1 else "") + " zoom out"
            if coarser and state.level == state.default_level else "")
    print(f"{named} and {len(groups) - people} automatic groups at level {state.level} of {state.levels} "
          f"(0 = finest; {level_said(state.level, state.default_level)}{zoom})")
    _print_table(groups)
    if groups.small:
        unit = "faces" if args.mode == "faces" else "photos"
        print(f"and {groups.small} automatic groups of fewer than {args.min_size} {unit} ({groups.small_items} "
              f"{unit}), not listed")
    return 0


def _listing(fetch, empty: str, show):
    """A command listing what ``fetch(organizer)`` returns: as JSON, one line when there is nothing, else ``show``."""
    @_user_errors
    def run(args) -> int:
        library, org = _organizer(args)
        with library:
            found = fetch(org)
        if args.json:
            print(json.dumps([item.as_dict() for item in found], indent=2))
        elif not found:
            print(empty)
        else:
            show(found)
        return 0
    return run


def _print_table(groups) -> None:
    print(f"{'group':>8} {'size':>6} {'confirmed':>9} {'suggested':>9} {'sub-groups':>10}  name / representative photo")
    for g in groups:
        label = g.title + (" (hidden)" if g.hidden else "")
        print(f"{g.ref:>8} {g.size:>6} {g.confirmed:>9} {g.suggested:>9} {g.subgroups:>10}  {label}"
              + (f" - {g.peak_photo}" if g.peak_photo else ""))


def _print_not_faces(boxes) -> None:
    print(f"{len(boxes)} box(es) the face check turned down: not in any group (photo-grouper group unignore FACE "
          "brings one back)")
    print(f"{'face':>8}  photo")
    for m in boxes:
        print(f"{m.detection_id:>8}  {m.photo}")


cmd_people = _listing(lambda org: org.people(), "nobody named yet: photo-grouper group name REF NAME names a group",
                      _print_table)
cmd_not_faces = _listing(lambda org: org.not_faces(), "the face check has turned nothing down in this library",
                         _print_not_faces)


@_user_errors
def cmd_show(args) -> int:
    library, org = _organizer(args)
    with library:
        info, members = org.show(args.ref, args.level)
    if args.json:
        print(json.dumps({"group": info.as_dict(), "faces": [m.as_dict() for m in members]}, indent=2))
        return 0
    print(f"{info.ref}: {info.title}, {len(members)} {org.unit}(s)")
    print(f"{org.unit:>8} {'status':>10} {'sub-group':>10}  {'photo' if args.mode == 'faces' else 'file'}")
    for m in members:
        print(f"{m.detection_id:>8} {m.status:>10} {m.subgroup or '-':>10}  {m.photo}")
    return 0


@_user_errors
def cmd_history(args) -> int:
    library, org = _organizer(args)
    with library:
        rows = org.history(args.limit)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no corrections yet")
    from .cli import local_time

    for r in rows:
        print(f"{r['operation']:>6} {local_time(r['at']):<17} {'(undone) ' if r['undone'] else ''}{r['summary']}")
    return 0


@_user_errors
def cmd_export(args) -> int:
    from .cli import TerminalProgress, _cancel_on_ctrl_c
    from .organize.export import export_albums
    from .organize.words import WORDS

    cancel = _cancel_on_ctrl_c()
    bar = TerminalProgress(enabled=not args.quiet)
    library, _ = _organizer(args)
    with library:
        try:
            report = export_albums(library, args.out, mode=args.mode, people=args.people, link=args.link,
                                   xmp=args.xmp, include_suggested=args.suggested, include_groups=args.groups,
                                   progress=lambda done, total: bar("export", done, total), cancel=cancel)
        finally:
            bar.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        what = "groups" if args.groups else WORDS[args.mode].whom
        print(f"Exported {report.people} {what} to {args.out}: {report.written} photos written, "
              f"{report.already} already there" + (f", {report.renamed} under another name" if report.renamed else "")
              + (f", {report.missing} originals missing" if report.missing else ""))
        if args.xmp:
            print(f"  XMP sidecars: {report.sidecars_written} written ({report.sidecars_merged} merged with existing)")
    for warning in report.warnings:
        print(f"photo-grouper: warning: {warning}", file=sys.stderr)
    return 130 if cancel.is_set() else 0
