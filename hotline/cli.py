"""The `hotline` command."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from hotline.settings import Settings

log = logging.getLogger("hotline")


def _settings(args: argparse.Namespace) -> Settings:
    """Settings with the server URLs resolved, starting embedded servers when none are configured.

    Embedded servers are stopped when this process exits, unless another hotline process still uses them.
    """
    from hotline.embedded import start_postgres, start_redis

    settings = Settings()
    update: dict[str, object] = {}
    if getattr(args, "host", None):
        update["host"] = args.host
    if getattr(args, "port", None):
        update["port"] = args.port
    if not settings.database_url:
        update["database_url"] = start_postgres(settings.var_dir)
    if getattr(args, "needs_redis", False) and not settings.redis_url:
        update["redis_url"] = start_redis(settings.var_dir)
    return settings.model_copy(update=update)


async def _with_pool(settings: Settings, work: Callable[..., Awaitable[object]]) -> object:
    from hotline.db import create_pool, migrate

    pool = await create_pool(settings.database_url or "", min_size=1, max_size=4, keepalives=settings.db_keepalives)
    try:
        await migrate(pool)
        return await work(pool)
    finally:
        await pool.close()


def cmd_migrate(args: argparse.Namespace) -> int:
    from hotline.db import create_pool, migrate

    settings = _settings(args)

    async def run() -> list[str]:
        pool = await create_pool(settings.database_url or "", min_size=1, max_size=2, keepalives=settings.db_keepalives)
        try:
            return await migrate(pool)
        finally:
            await pool.close()

    applied = asyncio.run(run())
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from hotline import demo

    demo.refuse_in_production(Settings())  # before anything is started or created
    settings = _settings(args)
    added = asyncio.run(_with_pool(settings, demo.load))
    print("demo data: " + ", ".join(f"{v} new {k}" for k, v in added.items()))
    if settings.procedures_dir.is_dir():
        imported = asyncio.run(_with_pool(settings, lambda pool: demo.load_procedures(pool, settings.procedures_dir)))
        if imported is not None:
            print(f"procedure catalogue: {imported} procedures imported from {settings.procedures_dir}")
    print("demo sign-ins (password = user name + '-1022'): " + ", ".join(u[0] for u in demo.USERS))
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from hotline import demo

    settings = _settings(args)

    async def work(pool):
        async with pool.acquire() as conn, conn.transaction():
            return await demo.seed(conn)

    added = asyncio.run(_with_pool(settings, work))
    print("seeded: " + ", ".join(f"{v} new {k}" for k, v in added.items()))
    return 0


def cmd_users_create(args: argparse.Namespace) -> int:
    from casework import staff

    settings = _settings(args)
    password = None
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n") or None
    elif args.password_prompt:
        password = getpass.getpass("password: ")

    async def work(pool):
        await staff.create_user(pool, args.name, role=args.role, department=args.unit, display_name=args.display_name,
                                password=password)
        return await staff.issue_token(pool, args.name, days=_token_days(args, settings))

    print(asyncio.run(_with_pool(settings, work)))
    return 0


def _token_days(args: argparse.Namespace, settings: Settings) -> int:
    return settings.api_token_days if args.days is None else args.days


def cmd_users_token(args: argparse.Namespace) -> int:
    from casework import staff

    settings = _settings(args)
    days = _token_days(args, settings)
    print(asyncio.run(_with_pool(settings, lambda pool: staff.issue_token(pool, args.name, days=days))))
    return 0


def cmd_users_revoke(args: argparse.Namespace) -> int:
    from casework import staff

    settings = _settings(args)
    count = asyncio.run(_with_pool(settings, lambda pool: staff.revoke_tokens(pool, args.name,
                                                                             prefix=args.token_prefix)))
    print(f"revoked {count} token(s) of {args.name}")
    return 0


def cmd_users_active(args: argparse.Namespace) -> int:
    from casework import staff

    settings = _settings(args)
    active = args.users_command == "enable"
    asyncio.run(_with_pool(settings, lambda pool: staff.set_active(pool, args.name, active)))
    print(f"{args.name} {'enabled' if active else 'disabled: every token and session stops working'}")
    return 0


async def _freeze_startup_objects(app) -> None:  # noqa: ANN001 - the aiohttp app
    """Move what start-up built (the model, the gazetteer, the ward layer) out of the collector's sight.

    A page that decodes thousands of rows (the map) otherwise sets off full collections that walk those
    long-lived objects every time: they were most of the map's 95th percentile at a million cases.
    """
    import gc

    gc.collect()
    gc.freeze()


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from hotline.app import create_app
    from hotline.db import create_pool, migrate

    args.needs_redis = True
    settings = _settings(args)

    async def prepare() -> None:
        pool = await create_pool(settings.database_url or "", min_size=1, max_size=2, keepalives=settings.db_keepalives)
        try:
            await migrate(pool)
        finally:
            await pool.close()

    asyncio.run(prepare())
    _use_uvloop()
    app = create_app(settings, with_worker=not args.no_worker)
    app.on_startup.append(_freeze_startup_objects)
    print(f"hotline serving on http://{settings.host}:{settings.port}/ (worker {'off' if args.no_worker else 'on'})")
    web.run_app(app, host=settings.host, port=settings.port, access_log=None, print=None)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from hotline.worker import build_worker

    args.needs_redis = True
    settings = _settings(args)
    _use_uvloop()
    worker = build_worker(settings, handle_signals=True)
    worker.run()
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from classifier.jsonl import classify_lines
    from classifier.predict import load_model
    from classifier.training import DEFAULT_MODEL

    path = Path(args.model) if args.model else DEFAULT_MODEL
    if not path.exists():
        print(f"error: no model at {path}; build one with `hotline train`", file=sys.stderr)
        return 2
    model = load_model(path, with_entities=False)
    batch = 1 if sys.stdin.isatty() else args.batch_size
    for out in classify_lines(model, sys.stdin, batch_size=batch):
        sys.stdout.write(out + "\n")
        if batch == 1:
            sys.stdout.flush()
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from classifier.corpus import HELDOUT_DIR, TRAIN_DIR
    from classifier.training import DEFAULT_MODEL, STAGES, build
    from kernel.time import rfc3339, utc_now

    corrections = None
    if args.with_corrections:
        from hotline.corrections import load_split

        settings = _settings(args)
        corrections = asyncio.run(_with_pool(settings, load_split))
        print(f"{len(corrections.train)} staff correction(s) added to the training data;"
              f" {len(corrections.evaluation)} held apart for evaluation, never trained on (`hotline model compare`)")
        if corrections.ignored:
            print("ignored: " + ", ".join(f"{n} ({why})" for why, n in sorted(corrections.ignored.items())))
    bar = tqdm(total=len(STAGES), desc="training", unit="step", file=sys.stderr)

    def progress(stage: str) -> None:
        bar.set_postfix_str(stage)
        bar.update(1)

    model = build(extra=[c.example for c in corrections.train] if corrections else [],
                  train_dir=Path(args.train_dir) if args.train_dir else TRAIN_DIR,
                  heldout_dir=Path(args.heldout_dir) if args.heldout_dir else HELDOUT_DIR, progress=progress)
    bar.close()
    if corrections is not None:
        # The corrections' own fingerprint in the version: the cases say which corrections their model learnt.
        model.version = f"{model.version}-corr-{corrections.fingerprint[:8]}"
        model.info["corrections"] = {"train": len(corrections.train), "evaluation": len(corrections.evaluation),
                                     "fingerprint": corrections.fingerprint}
    model.info["created"] = rfc3339(utc_now())
    if args.output:
        output = Path(args.output)
    elif corrections is not None:
        output = _candidates_dir(_live_model(args)) / f"{model.version}.pkl"  # a candidate, never the live model
    else:
        output = DEFAULT_MODEL
    model.save(output)
    print(f"model {model.version} written to {output}")
    print(f"features {model.info['features']}, training examples {model.info['train_examples']}, confidence"
          f" threshold {model.threshold:.3f}, urgent threshold {model.urgent_threshold:.3f}")
    for lang, summary in model.info.get("test_by_language", {}).items():
        print(f"held-out test [{lang}]: n={summary['n']} accuracy={summary['accuracy']:.3f}"
              f" macro-F1={summary['macro_f1']:.3f} abstained={summary['abstention_rate']:.1%}"
              f" accuracy-when-answered={summary['accuracy_when_answered']:.3f}")
    if corrections is not None and not args.output:
        print(f"a candidate: `hotline model compare {model.version}` shows what changes,"
              f" `hotline model promote {model.version}` puts it in place")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from classifier.corpus import CorpusError, read_jsonl
    from classifier.evaluate import evaluate
    from classifier.predict import load_model
    from classifier.training import DEFAULT_MODEL

    if args.sets is not None:
        return _eval_sets(args)
    if args.file is None:
        # No file: what `hotline model compare` shows, the newest candidate against the live model.
        args.candidate = args.against = None
        return cmd_model_compare(args)
    path = Path(args.model) if args.model else DEFAULT_MODEL
    try:
        examples = list(read_jsonl(Path(args.file)))
    except (OSError, CorpusError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report = evaluate(load_model(path, with_entities=False), examples)
    print(report.text())
    if args.plot:
        report.plot(Path(args.plot))
        print(f"confusion matrix written to {args.plot}")
    return 0


def _eval_sets(args: argparse.Namespace) -> int:
    """`hotline eval --sets`: the evaluation sets unlike the corpus, a row per set and one for them all."""
    import json

    from classifier import evalsets
    from classifier.predict import load_model
    from classifier.training import DEFAULT_MODEL

    if args.file is not None:
        print("error: give a file or --sets, not both", file=sys.stderr)
        return 2
    path = Path(args.model) if args.model else DEFAULT_MODEL
    if not path.exists():
        print(f"error: no model at {path}; build one with `hotline train`", file=sys.stderr)
        return 2
    try:
        sets = evalsets.load(args.sets or evalsets.SETS)
    except (OSError, evalsets.EvalSetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report = evalsets.report(load_model(path, with_entities=False), sets,
                             half=None if args.half == "all" else args.half)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        print(report.table(reliability=args.reliability))
    return 0


# --- models: candidates, comparison, promotion -----------------------------------------------------------
# The live model is HOTLINE_CLASSIFIER_MODEL ("auto": classifier/build/model.pkl); beside it `candidates/`
# (what `hotline train --with-corrections` writes), `previous.pkl` (what `rollback` restores) and
# `models.jsonl` (who promoted or rolled back which version, when).


def _live_model(args: argparse.Namespace) -> Path:
    from classifier import DEFAULT_MODEL

    if getattr(args, "live", None):
        return Path(args.live)
    setting = Settings().classifier_model
    return DEFAULT_MODEL if setting in ("auto", "none") else Path(setting)


def _candidates_dir(live: Path) -> Path:
    return live.parent / "candidates"


def _previous_model(live: Path) -> Path:
    return live.parent / "previous.pkl"


def _candidates(live: Path) -> list[Path]:
    """The candidates, newest first."""
    paths = list(_candidates_dir(live).glob("*.pkl"))
    return sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)


def _model_file(ref: str, live: Path) -> Path | None:
    """A model named by path, by `live` or `previous`, by candidate version, or by a unique start of one."""
    named = {"live": live, "previous": _previous_model(live)}
    if ref in named:
        return named[ref] if named[ref].exists() else None
    if Path(ref).is_file():
        return Path(ref)
    candidates = _candidates(live)
    matches = [p for p in candidates if p.stem == ref] or [p for p in candidates if p.stem.startswith(ref)]
    return matches[0] if len(matches) == 1 else None


def _load_trained(path: Path):  # noqa: ANN202 - a classifier.model.TrainedModel, imported late
    from classifier.model import TrainedModel

    return TrainedModel.load(path)


def _copy_atomically(source: Path, target: Path) -> None:
    """Copy beside the target, flush it to disk, then rename over it: a reader sees the old file or the new one."""
    import os
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    with tmp.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)


def _record_model_change(live: Path, action: str, version: str, replaced: str | None, by: str) -> None:
    import json

    from kernel.time import rfc3339, utc_now

    entry = {"at": rfc3339(utc_now()), "action": action, "version": version, "replaced": replaced, "by": by,
             "live": str(live)}
    with (live.parent / "models.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def _model_log(live: Path) -> list[dict]:
    import json

    path = live.parent / "models.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _describe_model(path: Path) -> str:
    model = _load_trained(path)
    info = model.info
    corrections = info.get("corrections")
    made = (f"corpus {info.get('corpus', '?')}, {info.get('train_examples', '?')} training examples"
            + (f" of which {corrections['train']} staff corrections ({corrections['evaluation']} held apart)"
               if corrections else ", no staff corrections"))
    test = info.get("test")
    scores = (f"held-out test n={test['n']} macro-F1 {test['macro_f1']:.3f} accuracy {test['accuracy']:.3f}"
              f" abstained {test['abstention_rate']:.1%}" if test else "no held-out test")
    return f"{model.version}  created {info.get('created', '?')}\n    {made}\n    {scores}\n    {path}"


def cmd_model_list(args: argparse.Namespace) -> int:
    live = _live_model(args)
    promotions = {e["version"]: e for e in _model_log(live) if e.get("action") in ("promote", "rollback")}
    for kind, path in [("live", live), ("previous", _previous_model(live)),
                       *(("candidate", p) for p in _candidates(live))]:
        if not path.exists():
            print(f"{kind}: none" + (f" at {path}" if kind == "live" else ""))
            continue
        text = _describe_model(path)
        version = text.split()[0]
        done = promotions.get(version) if kind == "live" else None
        if done:
            how = "promoted" if done["action"] == "promote" else "rolled back to"
            text += f"\n    {how} by {done['by']} at {done['at']}"
        print(f"{kind}: {text}")
    return 0


def _heldout_test(args: argparse.Namespace) -> list:
    """The corpus held-out test half, as `hotline train` tests on it (lines also in training left out)."""
    from classifier.corpus import HELDOUT_DIR, TRAIN_DIR, load_dir, split_heldout

    train_dir = Path(getattr(args, "train_dir", None) or TRAIN_DIR)
    heldout_dir = Path(getattr(args, "heldout_dir", None) or HELDOUT_DIR)
    if not heldout_dir.exists():
        return []
    seen = {e.text.casefold() for e in load_dir(train_dir)}
    return split_heldout([e for e in load_dir(heldout_dir) if e.text.casefold() not in seen])[1]


def _evalset_tests() -> tuple[dict[str, list], str | None]:
    """The evaluation sets' test halves by set (classifier/evalsets.py), or why there are none."""
    from classifier.corpus import Example

    try:
        from classifier import evalsets
    except ImportError:
        return {}, "skipped: classifier/evalsets.py is not there"
    try:
        names = [n for n in evalsets.SETS if (evalsets.EVAL_DIR / f"{n}.jsonl").exists()]
        sets = evalsets.load(names, half="test")
    except (AttributeError, OSError, ValueError) as e:
        return {}, f"skipped: the evaluation sets could not be read ({e})"
    return {name: [Example(text=line.text, field=line.field, lang=line.lang, urgent=line.urgent) for line in lines]
            for name, lines in sets.items() if lines}, None


def _compare_models(args: argparse.Namespace, candidate: Path, against: Path) -> int:
    from collections import Counter

    from classifier.compare import changed_predictions, compare, render
    from classifier.evaluate import evaluate
    from classifier.predict import load_model

    after, before = load_model(candidate, with_entities=False), load_model(against, with_entities=False)
    same = " (the same version)" if after.version == before.version else ""
    print(f"before: {before.version}  ({against})\nafter:  {after.version}  ({candidate}){same}")

    def section(title: str, examples: list) -> tuple:
        print(f"\n== {title} ==")
        b, a = evaluate(before, examples), evaluate(after, examples)
        print(render(compare(b, a)))
        return b, a

    heldout = _heldout_test(args)
    if heldout:
        section(f"corpus held-out test half ({len(heldout)} examples)", heldout)
    else:
        print("\n== corpus held-out test half ==\nskipped: no held-out data")

    if getattr(args, "no_corrections", False):
        print("\n== staff corrections held apart ==\nskipped (--no-corrections)")
    else:
        from hotline.corrections import load_split

        held = asyncio.run(_with_pool(_settings(args), load_split)).evaluation
        if not held:
            print("\n== staff corrections held apart ==\nnone yet (1 corrected case in 5 is held apart, never"
                  " trained on)")
        else:
            b, a = section(f"staff corrections held apart, never trained on ({len(held)} cases)",
                           [c.example for c in held])
            then = Counter(c.model_version or "?" for c in held)
            print(f"when they were corrected the model had said otherwise on all {len(held)} ("
                  + ", ".join(f"{v}: {n}" for v, n in sorted(then.items())) + ")")
            by_id = {c.case_id: c for c in held}
            ids = [c.case_id for c in held]
            changes = changed_predictions(ids, b.truth, b.predicted, a.predicted)
            predicted = {i: (pb, pa) for i, pb, pa in zip(ids, b.predicted, a.predicted, strict=True)}
            for label, which in (("fixed", changes.fixed), ("broken", changes.broken),
                                 ("changed, still wrong", changes.moved)):
                print(f"{label}: {len(which)}")
                for i in which:  # ids and field codes only: never a citizen's words
                    c = by_id[i]
                    print(f"  case {i}: staff {c.example.field}, model then {c.model_field or '-'},"
                          f" before {predicted[i][0]}, after {predicted[i][1]}")

    sets, why = _evalset_tests()
    if not sets:
        print(f"\n== evaluation sets, test halves ==\n{why or 'skipped: no evaluation set'}")
    else:
        pooled = [e for lines in sets.values() for e in lines]
        section(f"evaluation sets, test halves ({', '.join(sets)}: {len(pooled)} lines)", pooled)
        for name, lines in sets.items():
            b, a = evaluate(before, lines), evaluate(after, lines)
            print(f"  {name:22} n={len(lines):4d}  macro-F1 {b.macro_f1:.3f} → {a.macro_f1:.3f}"
                  f" ({a.macro_f1 - b.macro_f1:+.3f})  accuracy {b.accuracy:.3f} → {a.accuracy:.3f}"
                  f" ({a.accuracy - b.accuracy:+.3f})")
    return 0


def cmd_model_compare(args: argparse.Namespace) -> int:
    live = _live_model(args)
    if args.candidate:
        candidate = _model_file(args.candidate, live)
    else:
        candidate = next(iter(_candidates(live)), None)
    if candidate is None:
        print(f"error: no candidate {args.candidate or ''} under {_candidates_dir(live)};"
              " train one with `hotline train --with-corrections`", file=sys.stderr)
        return 2
    against = _model_file(args.against, live) if args.against else (live if live.exists() else None)
    if against is None:
        print(f"error: no model {args.against or 'live at ' + str(live)} to compare against", file=sys.stderr)
        return 2
    return _compare_models(args, candidate, against)


def cmd_model_promote(args: argparse.Namespace) -> int:
    import pickle

    live = _live_model(args)
    source = _model_file(args.candidate, live)
    if source is None:
        print(f"error: no single model {args.candidate!r} (a path, or a version under {_candidates_dir(live)})",
              file=sys.stderr)
        return 2
    try:
        version = _load_trained(source).version  # refuse a file that is not a model
    except (OSError, pickle.UnpicklingError, ValueError, EOFError, AttributeError, ImportError, TypeError) as e:
        print(f"error: {source} is not a model: {type(e).__name__}", file=sys.stderr)
        return 2
    replaced = _load_trained(live).version if live.exists() else None
    if replaced == version:
        print(f"model {version} is already live at {live}")
        return 0
    if live.exists():
        _copy_atomically(live, _previous_model(live))
    _copy_atomically(source, live)
    _record_model_change(live, "promote", version, replaced, args.by or getpass.getuser())
    print(f"model {version} is live at {live}" + (f"; {replaced} kept as {_previous_model(live)}"
                                                  " (`hotline model rollback`)" if replaced else "")
          + "; workers load it before their next batch")
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    import os

    live = _live_model(args)
    previous = _previous_model(live)
    if not previous.exists():
        print(f"error: no previous model at {previous}", file=sys.stderr)
        return 2
    restored = _load_trained(previous).version
    replaced = _load_trained(live).version if live.exists() else None
    swap = previous.with_name(f".{previous.name}.{os.getpid()}.swap")
    if live.exists():
        _copy_atomically(live, swap)
    os.replace(previous, live)  # atomic: the previous model is live
    if swap.exists():
        os.replace(swap, previous)  # and the one rolled back is kept: a second rollback undoes the first
    _record_model_change(live, "rollback", restored, replaced, args.by or getpass.getuser())
    print(f"model {restored} is live again at {live}" + (f"; {replaced} kept as {previous}" if replaced else "")
          + "; workers load it before their next batch")
    return 0


def cmd_geocode(args: argparse.Namespace) -> int:
    from hotline.services import load_geocoder
    from integrations.geocoding.cli import geocode_lines

    gazetteer = load_geocoder(Settings())
    for out in geocode_lines(gazetteer, sys.stdin):
        sys.stdout.write(out + "\n")
    return 0


def cmd_procedures_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from integrations.procedures import count_records, import_procedures

    settings = _settings(args)
    bar = tqdm(desc="importing", unit="record", total=count_records(Path(args.path)), file=sys.stderr)

    async def work(pool):
        return await import_procedures(pool, Path(args.path), progress=lambda n=1: bar.update(n))

    report = asyncio.run(_with_pool(settings, work))
    bar.close()
    print(f"inserted {report.inserted}, updated {report.updated}, skipped {report.skipped},"
          f" bad lines {len(report.errors)}")
    for error in report.errors[:20]:
        print(f"  {error}", file=sys.stderr)
    return 0


def cmd_procedures_search(args: argparse.Namespace) -> int:
    from integrations.procedures import search

    settings = _settings(args)
    hits = asyncio.run(_with_pool(settings, lambda pool: search(pool, args.query, limit=args.limit)))
    if not hits:
        print("no procedure found")
    for i, hit in enumerate(hits, 1):
        print(f"{i}. [{hit.code}] {hit.name}")
        details = [x if len(x) <= 80 else x[:79] + "…" for x in (hit.agency, hit.processing_time, hit.fees) if x]
        if details:
            print("   " + " · ".join(details))
        if hit.link:
            print(f"   {hit.link}")
    return 0


def cmd_open311_key(args: argparse.Namespace) -> int:
    from integrations.open311.actions import create_client

    settings = _settings(args)
    print(asyncio.run(_with_pool(settings, lambda pool: create_client(pool, args.name))))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from hotline import embedded

    var_dir = Settings().var_dir
    left_running = False
    for outcome in embedded.stop(var_dir, force=args.force):
        name = f"the embedded {embedded.LABEL[outcome.server]}"
        users = ", ".join(f"pid {u.pid} ({u.command or '?'})" for u in outcome.users)
        if outcome.state is embedded.State.STOPPED:
            print(f"stopped {name} (pid {outcome.pid}) under {var_dir}" + (f", used by {users}" if users else ""))
        elif outcome.state is embedded.State.IN_USE:
            left_running = True
            print(f"left {name} (pid {outcome.pid}) under {var_dir} running: used by {users}; --force stops it anyway")
        else:
            print(f"{name} under {var_dir} is not running")
    return 1 if left_running else 0


def cmd_jobs_failed(args: argparse.Namespace) -> int:
    from casework import dead_letters
    from kernel.http import json_dumps
    from kernel.time import LOCAL_TZ

    settings = _settings(args)
    kind = dead_letters.Kind(args.kind) if args.kind else None
    items = asyncio.run(_with_pool(settings, lambda pool: dead_letters.failed(pool, kind, limit=args.limit)))
    if args.json:
        print(json_dumps([item.as_dict() for item in items]))
        return 0
    if not items:
        print("no failed work")
    for item in items:
        when = item.failed_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if item.failed_at else "?"
        about = f"case {item.case_id}" if item.case_id is not None else item.detail.get("job_id", "")
        print(f"{item.kind.value} {item.id}\t{about}\ttries {item.tries}\t{when}\t{item.error or ''}")
    return 0


def cmd_jobs_replay(args: argparse.Namespace) -> int:
    from casework import dead_letters
    from hotline.dead_letters import replay
    from hotline.queue import WorkSignals
    from kernel.time import utc_now

    kind = dead_letters.Kind(args.kind)
    args.needs_redis = kind is dead_letters.Kind.JOB
    settings = _settings(args)

    async def work(pool):
        actor = await dead_letters.admin_actor(pool, args.admin)
        redis = None
        if kind is dead_letters.Kind.JOB:
            from arq import create_pool as create_redis_pool

            from hotline.services import redis_settings

            redis = await create_redis_pool(redis_settings(settings))
        try:
            await replay(pool, WorkSignals(pool, background=False), redis, settings.queue_name, kind, args.id, actor,
                         utc_now())
        finally:
            if redis is not None:
                await redis.aclose()

    asyncio.run(_with_pool(settings, work))
    print(f"{kind.value} {args.id} replayed")
    return 0


def cmd_report_rebuild(args: argparse.Namespace) -> int:
    from redis.asyncio import Redis

    from casework.reports import store as reports
    from channels.web import stats
    from hotline.services import load_router
    from routing import store as routing_store

    args.needs_redis = True  # the public statistics page keeps its months there: they are computed again too
    settings = _settings(args)

    async def work(pool):
        async with pool.acquire() as conn:
            router = await load_router(conn, await routing_store.version(conn))
        await reports.queue_all(pool)
        done = await reports.refresh_facts(pool, router.calendar)
        redis = Redis.from_url(settings.redis_url or "")
        try:
            forgotten = await stats.forget(redis)
        finally:
            await redis.aclose()
        return done, forgotten

    done, forgotten = asyncio.run(_with_pool(settings, work))
    print(f"report facts computed again for {done} case(s); {forgotten} stored month(s) of the public statistics"
          " dropped")
    return 0


REPORT_OPTIONS = {"month": "--month", "from": "--from", "to": "--to", "quarter": "--quarter", "unit": "--unit",
                  "by": "--by", "format": "--format", "lang": "--lang"}


def _refused(e: Exception) -> int:
    """A report request refused (kernel BadRequest): the option and why, exit code 2."""
    detail = getattr(e, "detail", None)
    if isinstance(detail, dict) and "message" in detail:
        option = REPORT_OPTIONS.get(str(detail.get("field")), str(detail.get("field")))
        print(f"error: {option}: {detail['message']}", file=sys.stderr)
    else:
        print(f"error: {detail}", file=sys.stderr)
    return 2


def _binary_to_terminal(fmt: str, output: str | None) -> bool:
    from casework.reports.exports import BINARY

    if fmt in BINARY and output is None and sys.stdout.isatty():
        print(f"error: {fmt} is a binary file: give --output FILE (or send stdout to a file or a pipe)",
              file=sys.stderr)
        return True
    return False


def _write_report(data: bytes, fmt: str, output: str | None) -> int:
    if output is None:
        sys.stdout.buffer.write(data + (b"\n" if fmt == "json" else b""))
        sys.stdout.flush()
        return 0
    try:
        Path(output).write_bytes(data)
    except OSError as e:
        print(f"error: cannot write {output}: {e.strerror or type(e).__name__}", file=sys.stderr)
        return 2
    print(f"{output}: {fmt}, {len(data):,} bytes")
    return 0


async def _report_calendar(pool):  # noqa: ANN001, ANN202 - the router's calendar (routing.calendar.Clock)
    from hotline.services import load_router
    from routing import store as routing_store

    async with pool.acquire() as conn:
        router = await load_router(conn, await routing_store.version(conn))
    return router.calendar


async def _check_unit(pool, unit: str | None) -> None:  # noqa: ANN001 - an asyncpg pool
    from casework.reports import sla
    from kernel.errors import BadRequest

    if unit is not None and not await sla.unit_exists(pool, unit):
        raise BadRequest({"field": "unit", "message": f"no unit {unit!r}"})


def cmd_report_sla(args: argparse.Namespace) -> int:
    from casework.reports import exports, periods, sla
    from kernel.errors import BadRequest
    from kernel.time import utc_now

    if _binary_to_terminal(args.format, args.output):
        return 2
    now = utc_now()
    try:  # a bad month or date is refused before any server is started
        period = periods.sla_period(month=args.month, date_from=args.date_from, date_to=args.date_to, now=now)
    except BadRequest as e:
        return _refused(e)
    settings = _settings(args)

    async def work(pool) -> bytes:  # noqa: ANN001
        await _check_unit(pool, args.unit)
        calendar = await _report_calendar(pool)
        days = settings.legal_answer_days
        report = await sla.sla_report(pool, period, args.by, unit=args.unit, clock=calendar, now=now,
                                      legal_answer_days=days)
        channels = None
        if args.format == "pdf" and args.by != "channel":  # the PDF's intake-by-channel chart
            channels = await sla.sla_report(pool, period, "channel", unit=args.unit, clock=calendar, now=now,
                                            legal_answer_days=days, refresh=False)
        return exports.sla_export(report, args.format, lang=args.lang, channels=channels)

    try:
        data = asyncio.run(_with_pool(settings, work))
    except BadRequest as e:
        return _refused(e)
    return _write_report(data, args.format, args.output)


def cmd_report_dti(args: argparse.Namespace) -> int:
    from casework.reports import exports, periods, sla
    from kernel.errors import BadRequest
    from kernel.time import utc_now

    if _binary_to_terminal(args.format, args.output):
        return 2
    now = utc_now()
    try:
        period = periods.dti_period(quarter_text=args.quarter, now=now)
    except BadRequest as e:
        return _refused(e)
    settings = _settings(args)

    async def work(pool) -> bytes:  # noqa: ANN001
        await _check_unit(pool, args.unit)
        rows = await sla.dti_report(pool, period, unit=args.unit, clock=await _report_calendar(pool), now=now,
                                    legal_answer_days=settings.legal_answer_days)
        return exports.dti_export(rows, period, args.format, computed_at=now, unit=args.unit, lang=args.lang)

    try:
        data = asyncio.run(_with_pool(settings, work))
    except BadRequest as e:
        return _refused(e)
    return _write_report(data, args.format, args.output)


def _twilio_account(settings: Settings) -> bool:
    if settings.twilio_enabled:
        return True
    print("error: set HOTLINE_TWILIO_ACCOUNT_SID, HOTLINE_TWILIO_AUTH_TOKEN and HOTLINE_TWILIO_NUMBER"
          " (the same as the hotline's)", file=sys.stderr)
    return False


def _peer_address(args: argparse.Namespace, settings: Settings) -> tuple[str, int]:
    """--host/--port, else the local address HOTLINE_TWILIO_API_URL already names, else 127.0.0.1 on a free port."""
    from urllib.parse import urlsplit

    api = urlsplit(settings.twilio_api_url)
    local = api.scheme == "http" and api.hostname in ("127.0.0.1", "localhost") and api.port
    return args.host or (api.hostname if local else "127.0.0.1"), args.port or (api.port if local else 0) or 0


def cmd_twilio_peer(args: argparse.Namespace) -> int:
    import signal

    from channels.twilio.peer import Callback, PeerCall, PeerMessage, TwilioPeer
    from kernel.privacy import mask_contacts

    settings = Settings()
    if not _twilio_account(settings):
        return 2
    host, port = _peer_address(args, settings)

    # The operator's own console: the text is shown, the number masked like everywhere else.
    def on_message(message: PeerMessage) -> None:
        media = f" (+{len(message.media_urls)} media)" if message.media_urls else ""
        print(f"SMS {message.sid} to {mask_contacts(message.to)}, {message.resource['num_segments']} segment(s)"
              f"{media}:\n  {message.body}", flush=True)

    def on_call(call: PeerCall) -> None:
        print(f"call {call.sid} to {mask_contacts(call.to)}: {call.twiml or call.url}", flush=True)

    def on_callback(callback: Callback) -> None:
        answer = callback.answer if callback.answer is not None else "unreachable"
        print(f"  {callback.form['MessageSid']} {callback.form['MessageStatus']} -> hotline {answer}", flush=True)

    async def run() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):  # also when started in the background, where SIGINT is ignored
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        async with TwilioPeer(settings.twilio_account_sid or "", settings.twilio_auth_token or "", host=host, port=port,
                              on_message=on_message, on_call=on_call, on_callback=on_callback,
                              silent_recordings=True) as peer:
            print(f"Twilio peer for {settings.twilio_account_sid} on {peer.base_url}"
                  f" (the hotline needs HOTLINE_TWILIO_API_URL={peer.base_url}); Ctrl-C stops it", flush=True)
            await stop.wait()

    asyncio.run(run())
    return 0


def _simulator(args: argparse.Namespace, settings: Settings):  # noqa: ANN202 - a TwilioSimulator, imported late
    from channels.twilio.peer import TwilioSimulator

    return TwilioSimulator(args.url or settings.public_url, settings.public_url, settings.twilio_account_sid or "",
                           settings.twilio_auth_token or "", number=settings.twilio_number or "")


def cmd_twilio_simulate_sms(args: argparse.Namespace) -> int:
    import aiohttp

    settings = Settings()
    if not _twilio_account(settings):
        return 2

    async def run():  # noqa: ANN202
        async with _simulator(args, settings) as sim:
            return await sim.post_sms(args.from_, args.text, media_urls=args.media or ())

    try:
        reply = asyncio.run(run())
    except aiohttp.ClientError as e:
        print(f"error: the hotline did not answer ({type(e).__name__}); is `hotline serve` running?", file=sys.stderr)
        return 2
    print(f"HTTP {reply.status}")
    print(reply.text)
    return 0 if reply.status == 200 else 1


CALL_HELP = "keys (0-9 * #), `say: <words>` for speech, `rec` for a recording, an empty line for silence, q to hang up"


def _call_prompt(verb) -> str:  # noqa: ANN001 - a peer.Verb
    if verb.name == "Gather":
        return f"[{verb.attrs.get('input', 'dtmf').replace(' ', '+')}] > "
    if verb.name == "Record":
        return "[rec] > "
    if verb.name == "Enqueue":
        return "[queue: empty line waits] > "
    return f"[{verb.name.lower()}] > "


def cmd_twilio_simulate_call(args: argparse.Namespace) -> int:
    import aiohttp

    from channels.twilio.peer import API_VERSION, TWILIO_API, new_sid

    settings = Settings()
    if not _twilio_account(settings):
        return 2

    def show(heard: list[str]) -> None:
        for line in heard:
            print(f"IVR: {line}")

    async def play() -> None:
        async with _simulator(args, settings) as sim:
            call = sim.call()
            print(CALL_HELP)
            show(await call.start(args.from_))
            while not call.ended and call.pending is not None:
                try:
                    line = (await asyncio.to_thread(input, _call_prompt(call.pending))).strip()
                except EOFError:
                    line = "q"
                try:
                    if line.lower() in ("q", "quit"):
                        await call.hang_up()
                    elif not line:
                        show(await call.silence())
                    elif line.lower().startswith("say:"):
                        show(await call.speak(line[4:].strip()))
                    elif line.lower() == "rec":
                        # `hotline twilio peer` answers any recording of the account with a second of silence.
                        url = f"{TWILIO_API}/{API_VERSION}/Accounts/{sim.account_sid}/Recordings/{new_sid('RE')}"
                        show(await call.record(url, duration=5))
                    else:
                        show(await call.press(line))
                except ValueError as e:
                    print(f"({e})")
            print("[call ended]")

    try:
        asyncio.run(play())
    except aiohttp.ClientError as e:
        print(f"error: the hotline did not answer ({type(e).__name__}); is `hotline serve` running?", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("[hung up]")
    return 0


def _telegram_bot(settings: Settings) -> bool:
    if settings.telegram_enabled:
        return True
    print("error: set HOTLINE_TELEGRAM_TOKEN (the bot's token from @BotFather)", file=sys.stderr)
    return False


def cmd_telegram_set_webhook(args: argparse.Namespace) -> int:
    from telegram.error import TelegramError

    from channels.telegram import polling
    from channels.telegram.adapter import TelegramAdapter

    settings = Settings()
    if not _telegram_bot(settings):
        return 2
    url = args.url or polling.webhook_url(settings)

    async def run() -> None:
        adapter = TelegramAdapter(settings)
        try:
            await polling.set_webhook(adapter, url, settings.telegram_secret)
        finally:
            await adapter.close()

    try:
        asyncio.run(run())
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TelegramError as e:
        print(f"error: Telegram refused the webhook: {e}", file=sys.stderr)
        return 1
    print(f"webhook set: {url} (updates: {', '.join(polling.ALLOWED_UPDATES)})")
    return 0


def cmd_telegram_poll(args: argparse.Namespace) -> int:
    import signal

    from channels.telegram.polling import Poller
    from hotline.db import create_pool, migrate
    from hotline.services import Services

    if not _telegram_bot(Settings()):
        return 2
    args.needs_redis = True
    settings = _settings(args)

    async def run() -> None:
        pool = await create_pool(settings.database_url or "", min_size=1, max_size=2, keepalives=settings.db_keepalives)
        try:
            await migrate(pool)
        finally:
            await pool.close()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        services = await Services.start(settings, processing=False)
        try:
            print("polling Telegram for updates (a worker processes them: `hotline serve` or `hotline worker`);"
                  " Ctrl-C stops", flush=True)
            await Poller(services, timeout=args.timeout).run(stop)
        finally:
            await services.close()

    asyncio.run(run())
    return 0


def _corpus_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--train-dir", help="the training corpus folder (default classifier/data/train)")
    p.add_argument("--heldout-dir", help="the held-out corpus folder (default classifier/data/heldout)")


def _report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--unit", metavar="CODE", help="that unit's cases only")
    p.add_argument("--format", choices=["json", "csv", "xlsx", "pdf"], default="json",
                   help="json (default, as the API), csv, xlsx, or pdf (the monthly report to the city's leaders)")
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="the language of csv, xlsx and pdf")
    p.add_argument("--output", metavar="FILE", help="write here (default: stdout; xlsx and pdf not to a terminal)")


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="Citizen hotline 1022")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="web and worker in one process")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--no-worker", action="store_true", help="web only, for scale-out with separate workers")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="a worker alone: processing, sending, chores and queued jobs")
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("stop", help="stop the embedded PostgreSQL and Redis left running under the var dir")
    p.add_argument("--force", action="store_true", help="stop them even if a live hotline process uses them")
    p.set_defaults(func=cmd_stop)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="load the shipped units, wards, routing rules and SLA policies (idempotent)"
                   ).set_defaults(func=cmd_seed)
    sub.add_parser("demo", help="seed, then load demo users and reports (idempotent)").set_defaults(func=cmd_demo)

    p = sub.add_parser("classify", help="classify JSON Lines from stdin ({\"id\", \"text\"} per line)")
    p.add_argument("--model", help="model file (default: the one `hotline train` built)")
    p.add_argument("--batch-size", type=int, default=256)
    p.set_defaults(func=cmd_classify)
    p = sub.add_parser("train", help="build the classifier from the corpus (deterministic)")
    p.add_argument("--with-corrections", action="store_true",
                   help="add the field corrections staff made on cases (4 in 5; the fifth is held apart) and write"
                        " a candidate, not the live model")
    p.add_argument("--output", help="where to write the model (default classifier/build/model.pkl; with"
                                    " --with-corrections classifier/build/candidates/VERSION.pkl)")
    _corpus_arguments(p)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("eval", help="score the classifier on a JSONL file of {text, field}, or on the evaluation sets;"
                                    " with neither, `hotline model compare` (the newest candidate against the live"
                                    " model)")
    p.add_argument("file", nargs="?")
    p.add_argument("--sets", nargs="*", metavar="SET", help="score on the evaluation sets unlike the corpus"
                   " (classifier/data/eval/: all of them, or the ones named): a row per set and one overall")
    p.add_argument("--half", choices=("dev", "test", "all"), default="test",
                   help="with --sets: which half (default test; tune on dev only)")
    p.add_argument("--reliability", action="store_true", help="with --sets: a reliability table for every set")
    p.add_argument("--json", action="store_true", help="with --sets: the report as JSON")
    p.add_argument("--model")
    p.add_argument("--plot", metavar="PNG", help="also draw the confusion matrix")
    p.set_defaults(func=cmd_eval)

    model = sub.add_parser("model", help="the live classifier model and its candidates: list, compare, promote,"
                           " rollback").add_subparsers(dest="model_command", required=True)
    live_help = "the live model file (default HOTLINE_CLASSIFIER_MODEL, auto: classifier/build/model.pkl)"
    p = model.add_parser("list", help="the live model, the previous one and the candidates, with their test scores")
    p.add_argument("--live", help=live_help)
    p.set_defaults(func=cmd_model_list)
    p = model.add_parser("compare", help="per field before → after: on the held-out test half, the staff"
                         " corrections held apart and the evaluation sets; which corrected cases it fixes or breaks")
    p.add_argument("candidate", nargs="?", help="a candidate version (or its start) or a file (default: the newest)")
    p.add_argument("--against", help="the model to compare with (default: the live one; `previous`, a version, a file)")
    p.add_argument("--live", help=live_help)
    p.add_argument("--no-corrections", action="store_true", help="leave out the staff corrections (no database)")
    _corpus_arguments(p)
    p.set_defaults(func=cmd_model_compare)
    p = model.add_parser("promote", help="put a candidate in place as the live model (the live one is kept as"
                         " previous.pkl); workers load it before their next batch")
    p.add_argument("candidate", help="a candidate version (or its start) or a model file")
    p.add_argument("--by", help="who promotes, for the log models.jsonl (default: the system user)")
    p.add_argument("--live", help=live_help)
    p.set_defaults(func=cmd_model_promote)
    p = model.add_parser("rollback", help="put the previous model back in place (again: undo the rollback)")
    p.add_argument("--by", help="who rolls back, for the log models.jsonl (default: the system user)")
    p.add_argument("--live", help=live_help)
    p.set_defaults(func=cmd_model_rollback)

    p = sub.add_parser("geocode", help="resolve JSON Lines of {id, address | lat+lon} to wards")
    p.set_defaults(func=cmd_geocode)
    procedures = sub.add_parser("procedures", help="the administrative-procedure catalogue").add_subparsers(
        dest="procedures_command", required=True)
    p = procedures.add_parser("import", help="import a catalogue folder or a CSV/JSONL file")
    p.add_argument("path")
    p.set_defaults(func=cmd_procedures_import)
    p = procedures.add_parser("search", help="search procedures as a citizen would ask")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=5)
    p.set_defaults(func=cmd_procedures_search)
    open311 = sub.add_parser("open311", help="Open311 GeoReport v2 clients").add_subparsers(
        dest="open311_command", required=True)
    p = open311.add_parser("key", help="create an API key for an Open311 client (printed once)")
    p.add_argument("name")
    p.set_defaults(func=cmd_open311_key)

    jobs = sub.add_parser("jobs", help="work that kept failing (dead letters)").add_subparsers(
        dest="jobs_command", required=True)
    kinds = ["case", "message", "job"]
    p = jobs.add_parser("failed", help="list cases given up, messages failed and queued jobs out of tries")
    p.add_argument("--kind", choices=kinds)
    p.add_argument("--limit", type=int, default=100, help="at most this many of each kind (default 100)")
    p.add_argument("--json", action="store_true", help="one JSON array instead of lines")
    p.set_defaults(func=cmd_jobs_failed)
    p = jobs.add_parser("replay", help="run one failed case, message or job again")
    p.add_argument("kind", choices=kinds)
    p.add_argument("id", type=int)
    p.add_argument("--admin", required=True, help="the admin user name the replay is recorded under")
    p.set_defaults(func=cmd_jobs_replay)

    report = sub.add_parser("report", help="SLA and DTI reports (docs/metrics.md)").add_subparsers(
        dest="report_command", required=True)
    p = report.add_parser("rebuild", help="compute every case's report facts again (after a calendar change)")
    p.set_defaults(func=cmd_report_rebuild)
    p = report.add_parser("sla", help="the SLA report of a month or a date range, by unit, field, channel or ward")
    p.add_argument("--month", help="the city's month YYYY-MM: 12:00 on the 25th before to 12:00 on the 25th"
                                   " (default: the current one)")
    p.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="the first day (with --to)")
    p.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="the last day, included (with --from)")
    p.add_argument("--by", choices=["unit", "field", "channel", "ward"], default="unit")
    _report_arguments(p)
    p.set_defaults(func=cmd_report_sla)
    p = report.add_parser("dti", help="the DTI responsiveness figures of a quarter: the city, then each unit")
    p.add_argument("--quarter", metavar="YYYY-Qn", help="e.g. 2026-Q4 (default: the current quarter)")
    _report_arguments(p)
    p.set_defaults(func=cmd_report_dti)

    users = sub.add_parser("users", help="staff accounts").add_subparsers(dest="users_command", required=True)
    p = users.add_parser("create", help="create a user and print an API token; password from stdin")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=["agent", "department", "supervisor", "admin"])
    p.add_argument("--unit", help="unit code, required for the department role")
    p.add_argument("--display-name")
    p.add_argument("--password-prompt", action="store_true", help="ask for a password on the terminal")
    p.add_argument("--days", type=int, help="days the API token is valid (default: settings, 0: no expiry)")
    p.set_defaults(func=cmd_users_create)
    p = users.add_parser("token", help="print a further API token for a user")
    p.add_argument("name")
    p.add_argument("--days", type=int, help="days the token is valid (default: settings, 0: no expiry)")
    p.set_defaults(func=cmd_users_token)
    p = users.add_parser("revoke", help="revoke all of a user's tokens and sessions, or one API token")
    p.add_argument("name")
    p.add_argument("--token-prefix", help="revoke only the API token starting with this (8 characters or more)")
    p.set_defaults(func=cmd_users_revoke)
    p = users.add_parser("disable", help="disable a user: every token and session stops working at once")
    p.add_argument("name")
    p.set_defaults(func=cmd_users_active)
    p = users.add_parser("enable", help="enable a disabled user again")
    p.add_argument("name")
    p.set_defaults(func=cmd_users_active)

    twilio = sub.add_parser("twilio", help="a local Twilio for demos: the REST API peer, simulated SMS and calls"
                            ).add_subparsers(dest="twilio_command", required=True)
    p = twilio.add_parser("peer", help="run a local Twilio REST API and print every SMS the hotline sends")
    p.add_argument("--host", help="default: the host of a local HOTLINE_TWILIO_API_URL, else 127.0.0.1")
    p.add_argument("--port", type=int, help="default: the port of a local HOTLINE_TWILIO_API_URL, else a free one")
    p.set_defaults(func=cmd_twilio_peer)
    simulate = twilio.add_parser("simulate", help="post what Twilio posts to a running hotline, signed"
                                 ).add_subparsers(dest="simulate_command", required=True)
    p = simulate.add_parser("sms", help="an SMS from a citizen; prints the TwiML answer")
    p.add_argument("--from", dest="from_", required=True, help="the citizen's number, E.164 (+849...)")
    p.add_argument("--url", help="where the hotline listens (default: its public URL)")
    p.add_argument("--media", action="append", help="a media URL (MMS); repeat for several")
    p.add_argument("text")
    p.set_defaults(func=cmd_twilio_simulate_sms)
    p = simulate.add_parser("call", help="a call through the IVR, played on this terminal")
    p.add_argument("--from", dest="from_", required=True, help="the caller's number, E.164 (+849...)")
    p.add_argument("--url", help="where the hotline listens (default: its public URL)")
    p.set_defaults(func=cmd_twilio_simulate_call)

    telegram = sub.add_parser("telegram", help="the Telegram bot: register its webhook, or poll without a public URL"
                              ).add_subparsers(dest="telegram_command", required=True)
    p = telegram.add_parser("set-webhook", help="point Telegram at this hotline's webhook, with the secret")
    p.add_argument("--url", help="the webhook URL (default: the public URL + /channels/telegram/webhook)")
    p.set_defaults(func=cmd_telegram_set_webhook)
    p = telegram.add_parser("poll", help="take updates by long polling (removes the webhook) until stopped")
    p.add_argument("--timeout", type=int, default=30, help="seconds each poll waits for an update (default 30)")
    p.set_defaults(func=cmd_telegram_poll)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from kernel import logs

    logs.install()  # no phone number, email or exception message reaches the log, whichever library logs it
    logs.log_warnings()
    from kernel.errors import HotlineError

    try:
        return args.func(args)
    except HotlineError as e:
        print(f"error: {e.detail if isinstance(e.detail, str) else e.detail}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
