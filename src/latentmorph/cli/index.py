"""``latentmorph index``: encode a corpus once into a searchable, incremental index."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import TYPE_CHECKING

from latentmorph.cli.common import (
    add_codec_option, add_force_option, add_max_seconds_option, codec_runtime_options, codec_spec_from_args, number, number_list,
)

if TYPE_CHECKING:  # pragma: no cover
    from latentmorph.codecs.base import Codec

EXAMPLES = """\
examples:
  latentmorph index ~/Sounds/ocean ~/Sounds/bells.wav -o sea.lmindex --codec embedded
  latentmorph index ~/Sounds/ocean -o sea.lmindex            # later: only new/changed files are encoded
  latentmorph index ~/Sounds/ocean -o sea.lmindex --pitch-shift -12 12 --gain-db -6
  latentmorph index ~/Sounds -o big.lmindex --workers 4       # encode on 4 local processes (Dask)
  latentmorph index /nfs/sounds -o big.lmindex --scheduler tcp://10.0.0.5:8786
  latentmorph index -o sea.lmindex --export sea.lmpack       # ship precomputed embeddings
  latentmorph index --import sea.lmpack -o sea.lmindex --relink ~/Sounds/ocean

exit status: 0 all files indexed, 1 index written but some files were skipped
(listed at the end and in `latentmorph info`), 2 nothing written (an error)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index",
        help="encode a corpus (files/folders) into a reusable, searchable index",
        description=(
            "Encode every audio file in CORPUS (files and folders, searched recursively for "
            "wav/flac/ogg/aiff/mp3) into NAME.lmindex: one latent vector per frame plus where it "
            "came from. Re-running on the same folders encodes only new or changed files and drops "
            "deleted ones; an interrupted run resumes where it stopped. Corrupt or unreadable files "
            "are skipped with a warning, never stopping the run.\n\n" + EXAMPLES
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("corpus", nargs="*", metavar="CORPUS", help="audio files and/or folders")
    p.add_argument("-o", "--output", required=True, metavar="NAME.lmindex", help="index folder to create or update")
    add_codec_option(p, default=None, codec_help="codec spec ('embedded', 'embedded:hop=512', 'music2latent'); default: the index's own "
                     "codec when updating, else 'embedded'. See `latentmorph codecs`.")
    p.add_argument("--pitch-shift", nargs="+", metavar="ST", type=number_list("pitch_shift"), help="also index copies shifted by these semitones (varispeed, like tape): --pitch-shift -12 7 12 (or --pitch-shift=-12,12)")
    p.add_argument("--gain-db", nargs="+", metavar="DB", type=number_list("gain_db"), help="also index copies scaled by these gains in dB: --gain-db -12 -6")
    p.add_argument("--no-augment", action="store_true", help="drop augmented copies an existing index has")
    p.add_argument("--rebuild", action="store_true", help="ignore the existing index (e.g. to switch codec) and encode everything")
    p.add_argument("--lock-timeout", type=number("lock_timeout"), default=None, metavar="S", help="give up after S seconds if another process is writing this index (default: wait)")
    p.add_argument("--export", metavar="PACK.lmpack", help="after indexing (or alone, with no CORPUS), write the index as one portable file")
    p.add_argument("--import", dest="import_pack", metavar="PACK.lmpack", help="create NAME.lmindex from an exported pack (codec must match)")
    p.add_argument("--relink", metavar="DIR", help="with --import: the folder that holds the corpus files on this machine")
    p.add_argument("--workers", type=number("workers"), metavar="N", help="encode on a local Dask cluster of N worker processes (needs latentmorph[dask]); same result as a local build")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="encode on an existing Dask cluster (its workers must read the corpus paths and the weights)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    add_max_seconds_option(p)
    add_force_option(p)
    p.set_defaults(func=run)


def _augment_spec(args: argparse.Namespace) -> str | None:
    if args.no_augment:
        return "none"
    parts = []
    if args.pitch_shift:
        parts.append("pitch=" + ",".join(args.pitch_shift))
    if args.gain_db:
        parts.append("gain_db=" + ",".join(args.gain_db))
    return ";".join(parts) or None


def guard(args: argparse.Namespace) -> None:
    """The command-level output checks (the index folder's own safety is the corpus code's).

    ``--export`` must not be a corpus file, the pack being imported, anything inside the
    index folder or a corpus folder, nor an existing file of another kind (``--force``);
    the index must not be one of the inputs, and its folder must be writable.
    """
    from pathlib import Path

    from latentmorph.errors import CorpusError
    from latentmorph.outputs import Input, Output, guard_outputs, same_file

    index = Path(args.output)
    inputs = [Input(Path(c), tree=Path(c).is_dir()) for c in args.corpus]
    if args.import_pack:
        inputs.append(Input(Path(args.import_pack)))
    if args.weights:
        inputs.append(Input(Path(args.weights)))
    if args.export:
        guard_outputs([Output(Path(args.export), "--export", "pack")], [*inputs, Input(index, tree=True)], force=args.force)
    for i in inputs:
        if same_file(i.path, index):
            raise CorpusError(f"{index}: -o is also an input ({i.path}); choose another index name")
    # Writability of -o is checked by the corpus layer before any work (for the API too).


def run(args: argparse.Namespace) -> int:
    from latentmorph import api
    from latentmorph.codecs import get_codec
    from latentmorph.errors import CorpusError

    # a spec string (not an instance) so the index stores exactly what the user typed
    codec: str | Codec | None = codec_spec_from_args(args, default=None)
    if codec and codec_runtime_options(args):  # --precision / --compile: how the network runs, for this build
        codec = get_codec(codec, **codec_runtime_options(args))
    if args.relink and not args.import_pack:
        raise CorpusError(f"{args.relink}: --relink only works with --import")
    guard(args)
    codec_obj = get_codec(codec) if codec and args.import_pack else None
    if args.import_pack:
        idx = api.import_index(args.import_pack, args.output, codec_obj, relink=args.relink, lock_timeout=args.lock_timeout)
        if not args.quiet:
            print(f"{args.output}: imported {len(idx.files)} files, {len(idx)} grains from {args.import_pack}")
    elif not args.corpus and not args.export:
        raise CorpusError(f"{args.output}: give CORPUS files/folders to index (or --import / --export)")

    status = 0
    if args.corpus:
        with warnings.catch_warnings():
            if args.quiet:
                warnings.simplefilter("ignore")
            build, extra = api.build_index, {}
            if args.workers is not None or args.scheduler:
                from latentmorph.corpus.distributed import build_index_distributed

                if args.workers is not None and args.scheduler:
                    raise CorpusError(f"{args.output}: give --workers or --scheduler, not both")
                build, extra = build_index_distributed, {"workers": args.workers, "scheduler": args.scheduler}
            report = build(
                args.corpus,
                args.output,
                codec,
                **extra,
                augment=_augment_spec(args),
                progress=not args.quiet,
                max_seconds=args.max_seconds,
                rebuild=args.rebuild,
                lock_timeout=args.lock_timeout,
            )
        if not args.quiet:
            print(report.summary())
        if report.skipped:
            status = 1
            print(f"latentmorph: {len(report.skipped)} corpus file(s) skipped:", file=sys.stderr)
            for path, reason in report.skipped:
                print(f"  {path}: {reason}", file=sys.stderr)
    if args.export:
        pack = api.export_index(args.output, args.export)
        if not args.quiet:
            print(f"{pack}: exported {args.output}")
    return status
