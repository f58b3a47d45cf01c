"""The ``cc-curate`` command. Each subcommand parses arguments and calls the library; user errors
(bad recipe, missing input, unreachable cluster) print one line and exit 2, never a traceback."""

from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import Any, Callable

import click
import yaml
from rich.console import Console
from rich.table import Table

from cc_curate import __version__
from cc_curate.errors import UserError
from cc_curate.recipe import RecipeError, load_recipe
from cc_curate.redaction import redact

USER_ERROR = 2


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's user-facing errors into one clear line and exit code 2.

    An error raised inside a Ray task arrives wrapped (``RayTaskError``, whose text is the
    task's name and traceback): the line says the cause's message. Anything else is a bug and
    keeps its traceback.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - sorted right below; bugs are re-raised
            message = _user_message(_cause(exc))
            if message is None:
                raise
            _fail(message)

    return wrapper


def _cause(exc: BaseException) -> BaseException:
    """The exception a Ray task raised, for one that ``ray.get`` re-raised wrapped; else ``exc``."""
    from ray.exceptions import RayTaskError  # here, not at the top: `cc-curate --help` stays fast

    while isinstance(exc, RayTaskError) and isinstance(exc.cause, BaseException):
        exc = exc.cause
    return exc


def _user_message(exc: BaseException) -> str | None:
    """The one line for an error the user can act on; None for a bug."""
    if isinstance(exc, RecipeError):
        return f"recipe error: {exc}"
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return f"not found: {exc.filename or exc}"
    if isinstance(exc, ConnectionError):
        return f"cannot connect: {exc}"
    return None


def _fail(message: str) -> None:
    first = (message.strip().splitlines() or [""])[0]  # one line, whatever the library said
    click.echo(f"cc-curate: {redact(first)}", err=True)  # a URL in it keeps no credential
    sys.exit(USER_ERROR)


def _env_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--env KEY=VALUE`` options as a dict; a UserError names the one that is not KEY=VALUE."""
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--env {pair}: expected KEY=VALUE")
        env[key] = value
    return env


@click.group()
@click.version_option(__version__, prog_name="cc-curate")
def main() -> None:
    """Common Crawl to per-language pretraining Parquet, FineWeb2-style, on Ray."""


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--output", "-o", required=True, help="Output folder or s3:// prefix.")
@click.option("--input", "-i", "inputs", multiple=True, help="WARC/WET/Parquet/JSONL path, glob or URL (repeatable).")
@click.option("--snapshot", help="Common Crawl snapshot, e.g. CC-MAIN-2024-10 (lists its warc.paths.gz).")
@click.option("--max-files", type=click.IntRange(min=1), help="Process at most N input files.")
@click.option("--max-records", type=click.IntRange(min=1), help="Read at most N records per file (dry runs).")
@click.option("--workers", type=click.IntRange(min=1), help="Parallel shard tasks (default: all CPUs).")
@click.option("--address", help="Ray address to attach to ('auto' or ray://host:10001); default: a local Ray.")
@click.option("--dedup-against", help="Output folder of an earlier release: also remove duplicates of its documents.")
@_user_errors
def run(recipe: str, output: str, inputs: tuple[str, ...], snapshot: str | None, max_files: int | None,
        max_records: int | None, workers: int | None, address: str | None, dedup_against: str | None) -> None:
    """Run RECIPE over the inputs; re-running the same command resumes."""
    from cc_curate.runtime.driver import RunOptions
    from cc_curate.runtime.driver import run as run_pipeline

    loaded = load_recipe(recipe)
    summary = run_pipeline(RunOptions(
        recipe=loaded, output=output, inputs=list(inputs), snapshot=snapshot, max_files=max_files,
        max_records=max_records, workers=workers, address=address, dedup_against=dedup_against,
    ))
    if not summary.nothing_to_do:
        _print_summary(summary)
    if summary.quarantined:
        click.echo(f"cc-curate: {len(summary.quarantined)} shard(s) failed and were quarantined: "
                   f"{', '.join(summary.quarantined)} (see {output}/_quarantine/shards/)", err=True)
    sys.exit(summary.exit_code)


def _print_summary(summary: Any) -> None:
    table = Table(title=f"published to {summary.output}")
    for column in ("language", "kept", "removed", "words", "top removal reason"):
        table.add_column(column, justify="left" if column in ("language", "top removal reason") else "right")
    for lang, s in sorted(summary.languages.items(), key=lambda kv: (-kv[1]["kept"], kv[0])):
        top = max(s["removed"].items(), key=lambda kv: kv[1])[0] if s["removed"] else ""
        table.add_row(lang, f"{s['kept']:,}", f"{s['documents'] - s['kept']:,}", f"{s['words']:,}", top)
    console = Console()
    console.print(table)
    if summary.tokenizer_fallbacks:
        console.print(f"[yellow]word tokenizer missing for {', '.join(summary.tokenizer_fallbacks)}: the built-in "
                      "Unicode tokenizer was used (word counts are off); pip install 'cc-curate[cjk]'[/yellow]")
    for lang, documents in summary.precision_without_wordlist.items():
        console.print(f"[yellow]precision filter: no wordlist for {lang} ({documents:,} documents not precision-filtered; "
                      f"FineWeb2 used {lang}.txt: set precision_wordlists)[/yellow]", soft_wrap=True)
    console.print(f"shards: {summary.shards_run} processed, {summary.shards_skipped} already committed; "
                  f"output: {summary.output} (stats.json, README.md, data/)")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--address", default=None, envvar="RAY_API_SERVER_ADDRESS",
              help="Ray dashboard / Jobs API address (default http://127.0.0.1:8265, e.g. via port-forward).")
@click.option("--working-dir", default=".", type=click.Path(file_okay=False), help="Shipped as the job's working directory.")
@click.option("--pip", "pip_specs", multiple=True, help="Extra pip requirement for the job's environment (repeatable).")
@click.option("--env", "env_pairs", multiple=True, help="KEY=VALUE for the job's environment (repeatable; no credentials).")
@click.option("--wait", is_flag=True, help="Follow the job's logs until it ends; exit non-zero if it fails.")
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
@_user_errors
def submit(address: str | None, working_dir: str, pip_specs: tuple[str, ...], env_pairs: tuple[str, ...],
           wait: bool, run_args: tuple[str, ...]) -> None:
    """Submit `cc-curate run RUN_ARGS...` to a Ray cluster through the Jobs API."""
    from cc_curate.runtime.submit import JobFailed, follow_hint, normalize_address, submit_run

    env = _env_pairs(env_pairs)
    target = normalize_address(address)
    try:
        job_id = submit_run(target, list(run_args), working_dir=working_dir, pip=list(pip_specs) or None,
                            env=env or None, wait=wait)
    except JobFailed as exc:
        click.echo(f"cc-curate: {exc}", err=True)
        sys.exit(1)
    click.echo(f"submitted {job_id}")
    click.echo(follow_hint(target, job_id))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the declarations as JSON.")
@_user_errors
def stages(as_json: bool) -> None:
    """List the registered stages (built in and plugins) with their parameters, columns and signals."""
    from cc_curate.stages.describe import describe_stages

    described = describe_stages()
    if as_json:
        click.echo(json.dumps(described, indent=2, default=str))
        return
    for stage in described:
        click.echo(f"{stage['name']}  [{stage['phase']}{', per language' if stage['per_language'] else ''}]"
                   f"  {stage['doc']}  ({stage['source']})")
        if stage["section"]:
            click.echo(f"  params ({stage['section']}):")
        for key in stage["params"]:
            click.echo(f"    {key['name']} = {key['default']!r}: {key['accepts']}. {key['doc']}")
        if stage["columns"]:
            click.echo("  columns: " + ", ".join(f"{c['name']} ({c['type']})" for c in stage["columns"]))
        for signal in stage["signals"]:
            bound = f"{signal['direction']} {signal['threshold']}" if signal["threshold"] else "not thresholded"
            click.echo(f"  signal {signal['name']}: {bound}")
        if stage["reasons"]:
            click.echo("  reasons: " + ", ".join(stage["reasons"]))


@main.group()
def recipe() -> None:
    """Check and inspect recipes."""


@recipe.command("validate")
@click.argument("recipe_path", type=click.Path(dir_okay=False))
@_user_errors
def recipe_validate(recipe_path: str) -> None:
    """Validate RECIPE and every file it layers (exit 2 with file, key and reason on error)."""
    loaded = load_recipe(recipe_path)
    click.echo(f"ok: {recipe_path} (sha256 {loaded.sha256[:12]}, "
               f"{len(loaded.language_layers)} language files, {len(loaded.fineweb2_layers)} FineWeb2 configs)")


@recipe.command("show")
@click.argument("recipe_path", type=click.Path(dir_okay=False))
@click.option("--language", "-l", default=None, help="Show the merged recipe for this language, e.g. rus_Cyrl.")
@_user_errors
def recipe_show(recipe_path: str, language: str | None) -> None:
    """Print the merged recipe (for one language with --language) as YAML, each value with its source."""
    from cc_curate.recipe import annotated_yaml

    loaded = load_recipe(recipe_path)
    merged = loaded.for_language(language) if language else loaded.settings
    click.echo(annotated_yaml(merged, loaded.provenance(language)), nl=False)


@recipe.command("import-fineweb2")
@click.argument("config_dir")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Folder for {lang}.yaml files.")
@click.option("--table", "table_path", type=click.Path(dir_okay=False),
              help="Write one compact table instead (the packaged one: cc_curate/data/fineweb2/configs.json.gz).")
@click.option("--precision", "precision_dir", type=click.Path(file_okay=False),
              help="With --table: FineWeb2's misc/precision_filtering folder (contamination scores, URL whitelists).")
@_user_errors
def recipe_import_fineweb2(config_dir: str, out_dir: str | None, table_path: str | None,
                           precision_dir: str | None) -> None:
    """Convert FineWeb2's per-language configs into recipe language files or one compact table."""
    from cc_curate.recipe import layers_from_fineweb2, read_fineweb2_configs

    if (out_dir is None) == (table_path is None):
        raise click.UsageError("give exactly one of --out (language files) or --table (compact table)")
    configs = read_fineweb2_configs(config_dir)
    layers = layers_from_fineweb2(configs, lambda lang: f"{config_dir.rstrip('/')}/{lang}.yml")  # validates every config
    if table_path is not None:
        from cc_curate.fineweb2_configs import build_table, write_table

        precision = Path(precision_dir) if precision_dir else None
        scores = json.loads((precision / "cont_scores.json").read_text(encoding="utf-8")) if precision else None
        whitelist = json.loads((precision / "url_whitelist.json").read_text(encoding="utf-8")) if precision else None
        table = build_table(configs, scores, whitelist)
        write_table(table, Path(table_path))
        click.echo(f"wrote {len(table['configs'])} configs ({len(table['stop_words'])} distinct stop words, "
                   f"{len(table['precision'])} precision-filtered languages) to {table_path}")
        return
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for lang, layer in layers.items():
        header = f"# {lang}: thresholds converted from FineWeb2's config ({config_dir})\n"
        (out / f"{lang}.yaml").write_text(header + yaml.safe_dump(layer, sort_keys=True, allow_unicode=True),
                                          encoding="utf-8")
    click.echo(f"wrote {len(layers)} language files to {out}")


@main.group("url-lists")
def url_lists_group() -> None:
    """FineWeb's URL block lists (UT1 adult list, CC BY-SA 4.0; datatrove's word lists)."""


@url_lists_group.command("fetch")
@click.option("--from", "source", default=None,
              help="A folder holding the lists, or a datatrove 0.10.1 wheel (path or URL). "
                   "Default: that wheel from PyPI.")
@click.option("--dest", default=None, type=click.Path(file_okay=False),
              help="Folder to write (default: $CC_CURATE_URL_LISTS or ~/.cache/cc_curate/url_lists, "
                   "where `fineweb_lists: default` looks).")
@_user_errors
def url_lists_fetch(source: str | None, dest: str | None) -> None:
    """Fetch FineWeb's URL lists once (sha256-checked) and compile them for runs."""
    from cc_curate import url_lists

    folder = url_lists.fetch(Path(dest) if dest else url_lists.default_folder(), source)
    compiled = url_lists.load(folder)
    click.echo(f"wrote FineWeb's URL lists to {folder}: {len(compiled.domains):,} domains, "
               f"{len(compiled.urls):,} urls (UT1, CC BY-SA 4.0; see {folder / 'README.md'})")


@main.command()
@click.argument("output_dir")
@_user_errors
def report(output_dir: str) -> None:
    """(Re)build OUTPUT_DIR/report/index.html from a finished run."""
    from cc_curate.report.html import build_report

    click.echo(build_report(output_dir))


@main.command()
@click.argument("output_dir")
@click.option("--snapshot", help="Extrapolate to this Common Crawl snapshot (e.g. CC-MAIN-2024-10).")
@click.option("--records", type=click.IntRange(min=1), help="... or to this many pages.")
@click.option("--workers", default=64, show_default=True, type=click.IntRange(min=1), help="CPU cores of the cluster.")
@click.option("--price", default=0.05, show_default=True, type=click.FloatRange(min=0), help="Price per core-hour.")
@_user_errors
def estimate(output_dir: str, snapshot: str | None, records: int | None, workers: int, price: float) -> None:
    """Project a finished run to a full snapshot: core-hours, wall time, memory, output size, cost."""
    from cc_curate.report.estimate import estimate as project, render_estimate

    click.echo(render_estimate(project(output_dir, snapshot=snapshot, records=records, workers=workers,
                                       price_per_core_hour=price)))


@main.command()
@click.option("--input", "-i", "inputs", multiple=True, required=True,
              help="A run's output folder, or a reference corpus (JSONL/Parquet with text) of one language.")
@click.option("--language", "-l", "languages", multiple=True, required=True, help="e.g. deu_Latn (repeatable).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for {lang}.yaml files.")
@click.option("--recipe", "recipe_path", default="recipes/fineweb2.yaml", show_default=True,
              help="The recipe whose rules are calibrated (rules it keeps off stay off).")
@click.option("--method", type=click.Choice(["tail", "english-rate"]), default="tail", show_default=True)
@click.option("--tail", "tail_share", default=0.05, show_default=True, type=click.FloatRange(0, 0.5),
              help="tail: the share of the worst documents each rule removes.")
@click.option("--english", "english_inputs", multiple=True,
              help="english-rate: run outputs with English rows (default: the --input run outputs).")
@click.option("--quality-model", "quality_models", multiple=True, metavar="NAME=PATH",
              help="A quality model to calibrate (repeatable; PATH may hold {lang}).")
@click.option("--quality-keep", type=click.FloatRange(0, 1, min_open=True), help="Target share kept by the quality rules.")
@click.option("--quality-rule", type=click.Choice(["rank_mean", "rank_max", "score_mean"]), default="rank_mean",
              show_default=True, help="How several models' buckets combine.")
@_user_errors
def calibrate(inputs: tuple[str, ...], languages: tuple[str, ...], out_dir: str, recipe_path: str, method: str,
              tail_share: float, english_inputs: tuple[str, ...], quality_models: tuple[str, ...],
              quality_keep: float | None, quality_rule: str) -> None:
    """Propose per-language thresholds from data and write recipe language files."""
    from cc_curate.calibrate import ENGLISH, collect, propose, removal_rates, write_layer

    if bool(quality_models) != (quality_keep is not None):
        raise click.UsageError("--quality-keep and --quality-model go together")
    recipe = load_recipe(recipe_path)
    samples = collect(list(inputs), list(languages), recipe)
    quality = {}
    if quality_keep:
        from cc_curate.quality.calibrate import quality_layers

        quality = quality_layers(inputs, languages, quality_models, quality_keep, rule=quality_rule)
    english_rates = None
    if method == "english-rate":
        english = collect(list(english_inputs or inputs), [ENGLISH], recipe)[ENGLISH]
        english_rates = removal_rates(english, recipe.for_language(ENGLISH)["filters"])
    for lang, sample in samples.items():
        if sample.documents == 0:
            click.echo(f"{lang}: no documents in the sample; nothing written", err=True)
            continue
        layer = propose(sample, recipe.for_language(lang)["filters"], method, tail=tail_share,
                        english_rates=english_rates)
        if quality.get(lang):
            layer["quality"] = quality[lang]
        path = write_layer(Path(out_dir), lang, layer, method=method, tail=tail_share, sample=sample)
        click.echo(f"{lang}: {sample.documents} documents -> {path}")


@main.command()
@click.argument("releases", nargs=-1, required=True)
@click.option("--output", "-o", help="Folder (or s3:// prefix) for the mix; not needed with --dry-run.")
@click.option("--budget", "budget_file", type=click.Path(dir_okay=False), help="Budget YAML (docs/mixing.md).")
@click.option("--unit", type=click.Choice(["tokens", "words", "documents"]),
              help="What budgets count (default: tokens with a token_count column, else words).")
@click.option("--total", help="Total budget, e.g. 2B, 300M or 50000.")
@click.option("--alpha", type=float, help="Language temperature: p_lang proportional to size^alpha.")
@click.option("--max-epochs", type=float, help="Most epochs of a language (UniMax cap).")
@click.option("--score", help="Numeric column to sample by (e.g. quality_score); none: uniform.")
@click.option("--tau", "taus", type=float, multiple=True, help="Temperature of exp(score/tau); repeat in --dry-run.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed of the sampling keys.")
@click.option("--no-rehydration", is_flag=True, help="Ignore rehydration_copies (each document counts once).")
@click.option("--dry-run", is_flag=True, help="Print per language the sizes, target, epochs and expected mean score.")
@click.option("--chart", type=click.Path(dir_okay=False), help="--dry-run: PNG of the score distribution at each --tau.")
@click.option("--workers", type=click.IntRange(min=1), help="Tasks at once (default: all CPUs).")
@click.option("--address", help="Ray address to attach to; default: a local Ray.")
@_user_errors
def mix(releases: tuple[str, ...], output: str | None, budget_file: str | None, unit: str | None, total: str | None,
        alpha: float | None, max_epochs: float | None, score: str | None, taus: tuple[float, ...], seed: int | None,
        no_rehydration: bool, dry_run: bool, chart: str | None, workers: int | None, address: str | None) -> None:
    """Sample a budgeted training mix from published RELEASES (output folders) into a new release."""
    from cc_curate.mix.budgets import load_spec
    from cc_curate.mix.card import budget_warnings, estimate_table, summary_table
    from cc_curate.mix.run import estimate, mix as run_mix

    if len(taus) > 1 and not dry_run:
        _fail("give one --tau (several only with --dry-run)")
    if not dry_run and not output:
        _fail("give --output for the mix (or --dry-run)")
    overrides = {"unit": unit, "total": total, "alpha": alpha, "max_epochs": max_epochs, "score": score,
                 "tau": taus[0] if taus else None, "seed": seed, "rehydrate": False if no_rehydration else None}
    spec = load_spec(budget_file, overrides)
    if dry_run:
        spec, rows = estimate(list(releases), spec, list(taus) or [spec.tau], workers=workers, address=address,
                              chart=chart)
        Console().print(estimate_table(rows, spec))
        return
    summary = run_mix(list(releases), output, spec, workers=workers, address=address,
                      command=" ".join(["cc-curate", "mix", *sys.argv[2:]]))
    Console().print(summary_table(summary))
    for warning in budget_warnings(summary):
        click.echo(f"cc-curate: {warning}", err=True)


@main.group()
def quality() -> None:
    """Train model-based quality classifiers (docs/quality.md)."""


@quality.command("train")
@click.option("--positive", "positives", multiple=True,
              help="Good examples (label 1): Parquet/JSONL/.txt, glob, or a run's output.")
@click.option("--negative", "negatives", multiple=True, help="Bad examples (label 0), same forms.")
@click.option("--labelled", "labelled", multiple=True, help="Examples with a label column (graded, e.g. 0-5).")
@click.option("--label-column", default="label", show_default=True)
@click.option("--text-column", default="text", show_default=True)
@click.option("--language", "-l", "languages", multiple=True,
              help="Train only these languages (repeatable); one given is also the language of sources without one.")
@click.option("--multilingual", is_flag=True, help="One model for every language instead of one per language.")
@click.option("--max-per-source", type=click.IntRange(min=1), help="Sample at most N examples of each source (seeded).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for {lang}.bin and cards.")
@click.option("--holdout", default=0.2, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**31 - 2))
@click.option("--positive-threshold", type=float, help="Graded: labels >= this are positive (default: the middle label).")
@click.option("--dim", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--epoch", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=0.1, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--word-ngrams", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--min-count", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--bucket", default=200_000, show_default=True, type=click.IntRange(min=0), help="Hashed n-gram rows.")
@click.option("--max-words", default=512, show_default=True, type=click.IntRange(min=0),
              help="Words of each example the model reads (0: all); score with the same.")
@_user_errors
def quality_train(positives: tuple[str, ...], negatives: tuple[str, ...], labelled: tuple[str, ...], label_column: str,
                  text_column: str, languages: tuple[str, ...], multilingual: bool, max_per_source: int | None,
                  out_dir: str, holdout: float, seed: int, positive_threshold: float | None, dim: int, epoch: int,
                  lr: float, word_ngrams: int, min_count: int, bucket: int, max_words: int) -> None:
    """Train fastText quality classifiers and write each model with its card (JSON + Markdown)."""
    from cc_curate.quality.examples import Source

    try:
        from cc_curate.quality.report import metrics_table
        from cc_curate.quality.train import HyperParameters, TrainOptions, train
    except ImportError as exc:
        raise UserError(f"training needs the quality extra ({exc.name} is missing): pip install 'cc-curate[quality]'")

    if not (positives and negatives) and not labelled:
        raise click.UsageError("give --positive and --negative files, or --labelled files")
    language = languages[0] if len(languages) == 1 else None
    common = dict(text_column=text_column, label_column=label_column, language=language, limit=max_per_source)
    sources = ([Source(p, label=1.0, **common) for p in positives] + [Source(p, label=0.0, **common) for p in negatives]
               + [Source(p, **common) for p in labelled])
    models = train(TrainOptions(sources=sources, out=Path(out_dir), languages=languages, multilingual=multilingual,
                                holdout=holdout, seed=seed, positive_threshold=positive_threshold,
                                max_words=max_words or None,
                                hyper=HyperParameters(dim=dim, epoch=epoch, lr=lr, word_ngrams=word_ngrams,
                                                      min_count=min_count, bucket=bucket)))
    Console().print(metrics_table(models))
    for model in models:
        click.echo(f"{model.name}: {model.path} (+ {model.name}.card.json, {model.name}.card.md)")


@main.command("rehydration-weights")
@click.option("--distributions", required=True, help="A FineWeb2 distributions folder or {lang}.json file.")
@click.option("--max-copies", required=True, type=click.IntRange(min=1), help="The most copies of one document.")
@_user_errors
def rehydration_weights(distributions: str, max_copies: int) -> None:
    """Print FineWeb2-style rehydration weights {lang: {start_size: copies}} as JSON."""
    from cc_curate.dedup.rehydration import rehydration_weights_command

    click.echo(json.dumps(rehydration_weights_command(distributions, max_copies), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
