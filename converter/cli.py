"""The `srconvert` command line.

Only click and this package's light modules are imported at start-up: every
command imports what it needs when it runs, so `--help` and `--version` stay
instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from converter import __version__, targets
from converter.core.errors import EXIT_CODES_HELP, EXIT_INTERNAL, EXIT_INTERRUPTED, SrconvertError
from converter.core.options import csv_choice
from converter.core.precisions import DEFAULT as DEFAULT_PRECISIONS

# The output-target registry imports nothing heavy, so `--help` stays instant.
PRECISIONS_HELP = "; ".join(f"{fmt}: {' '.join(targets.precisions_of(fmt))}" for fmt in targets.FORMATS)


class _Group(click.Group):
    """Turns srconvert's errors into their one- or two-line message and exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SrconvertError as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            for line in error.lines():
                click.echo(line, err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: nothing was written to the destination", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:  # a bug: say so in one line, keep the traceback for --debug
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"internal error: {type(error).__name__}: {error}", err=True)
            click.echo("  hint: this is a bug in srconvert; re-run with --debug and report the traceback", err=True)
            sys.exit(EXIT_INTERNAL)


@click.group(cls=_Group, epilog=EXIT_CODES_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="srconvert")
@click.option("--debug", is_flag=True, help="Show tracebacks and library logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Convert super-resolution checkpoints into TensorFlow.js bundles and prove,
    in the real runtimes, that each computes what the source computed."""
    from converter.bundle import signals

    signals.install()  # SIGTERM and SIGHUP: runtimes ended, staging removed, exit 143 / 129
    ctx.obj = {"debug": debug}


def _input_range(ctx, param, value: str | None) -> tuple[float, float] | None:
    if value is None:  # measured from the model where it can be (parity.input_range)
        return None
    if value not in ("0:1", "0:255"):
        raise click.BadParameter("use 0:1 or 0:255", param_hint="--input-range")
    low, high = value.split(":")
    return float(low), float(high)


def _max_memory(ctx, param, value: str | None) -> int | None:
    from converter.core.memory import parse_size

    try:
        return None if value is None else parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-memory") from None


def _input_size(ctx, param, value):
    from converter.core.input_size import InputSize

    try:
        return None if value is None else InputSize.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--input-size") from None


# Progress lines go to stderr at a terminal and in CI logs alike.
quiet_option = click.option("--quiet", "-q", is_flag=True,
                            help="No progress lines on stderr (warnings and errors still go there).")

def _max_time(ctx, param, value: float | None) -> float | None:
    """The whole run's time limit, which the run's clock enforces from here on."""
    from converter.core import deadline

    deadline.start(value)
    return value


def _max_compute(ctx, param, value: str | None) -> float | None:
    from converter.graphs.compute import parse_count

    try:
        return None if value is None else parse_count(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-compute") from None


def code_options(command):
    """The code a Keras source may need run, named by the user on each run:
    srconvert never takes it from a file, nor from a manifest unless the user
    trusts it (verify --trust-code)."""
    command = click.option("--allow-lambda", is_flag=True,
                           help="Load Lambda layers (runs code from the file: trusted files only).")(command)
    return click.option("--custom-layer", "custom_layer_specs", multiple=True, metavar="MODULE:CLASS",
                        help="Load a custom Keras layer class of your own (repeatable).")(command)


def _warn_lambda(allow_lambda: bool) -> None:
    if allow_lambda:
        click.echo("warning: --allow-lambda: Lambda layers run Python code from the file", err=True)


def page_options(command):
    """The bundle's self-check page (check.html; see `srconvert serve`)."""
    command = click.option(
        "--vendor-libs", is_flag=True,
        help="Copy the check page's libraries into the bundle (check/libs/, 59 MB) instead of loading the "
             "pinned versions from a CDN, for hosts with no internet.")(command)
    return click.option("--no-check-page", is_flag=True,
                        help="Leave check.html, the bundle's self-check in a browser, out.")(command)


def budget_options(command):
    """The run's budgets, for every command that reads a source (see README, Safety)."""
    command = click.option(
        "--max-compute", callback=_max_compute, default=None, metavar="MACS",
        help="Work a model may do per input pixel (e.g. 500M). Default: 100M multiply-accumulates; a model "
             "over it stops with exit 2 before anything runs.")(command)
    command = click.option(
        "--max-time", callback=_max_time, default=None, type=click.FloatRange(min=1), metavar="SECONDS",
        help="Time limit for the whole run. Default: none; each runtime call gets a deadline from its "
             "estimated work instead. Past either, the run stops with exit 2 and nothing written.")(command)
    return click.option(
        "--max-memory", callback=_max_memory, default=None, metavar="SIZE",
        help="Memory budget for the run (e.g. 4G). Default: what the process may use (its cgroup limit, else "
             "total memory less a margin; split between build -j workers), at most what the source's size "
             "justifies. A source that cannot fit stops with exit 2 before loading.")(command)


def _load_user_layers(specs: tuple[str, ...]) -> dict[str, type]:
    from converter.core.user_layers import load_user_layers

    return load_user_layers(specs)


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path), help="Output folder (created atomically).")
@click.option("--format", "formats", default=",".join(targets.DEFAULT_FORMATS), show_default=True,
              callback=csv_choice(targets.FORMATS, "--format"), help="Comma list of output formats.")
@click.option("--quantize", "precisions", default=",".join(DEFAULT_PRECISIONS), show_default=True,
              callback=csv_choice(targets.PRECISIONS, "--quantize"),
              help=f"Comma list of precisions, one folder each; each format takes those it supports ({PRECISIONS_HELP}).")
@click.option("--input-range", default=None, callback=_input_range, metavar="0:1|0:255",
              help="Pixel range the model takes. Default: measured on a photo where the model's behaviour tells "
                   "0:1 from 0:255, else 0:1, assumed (a warning says so).")
@click.option("--channels", type=click.Choice(["1", "3", "4"]), default=None, callback=lambda c, p, v: v and int(v),
              help="Input channels the model must take: 1 (grayscale), 3 (RGB) or 4 (RGBA); the run stops if the "
                   "source states another. Default: what the source states (3 where it states none).")
@click.option("--no-verify", is_flag=True, help="Skip the parity check (a warning is printed).")
@click.option("--force", is_flag=True, help="Replace a non-empty output folder (only at the final rename).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the manifest as JSON on stdout (on a parity failure: the error, the results and the "
                   "OUT.failed path); no progress.")
@click.option("--gate", "gates", multiple=True, metavar="PRECISION:METRIC=VALUE",
              help="Override a parity gate, e.g. uint8:psnr=38 or float32:max_abs_rel=1e-3.")
@click.option("--parity-images", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder of PNG or JPEG photos for parity (default: fixtures/images); one with no usable "
                   "photo is refused.")
@click.option("--calibration-images", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Photos int8 quantization is calibrated on (default: fixtures/images).")
@click.option("--arch", default=None, metavar="NAME", help="Weights-only files: the family (rrdn, rdn) instead of detecting it.")
@click.option("--arch-params", default=None, metavar="K=V,...",
              help="Weights-only files: override inferred hyperparameters, e.g. C=4,D=3,x=4.")
@code_options
@click.option("--no-fix", "no_fix", multiple=True, metavar="NAME", help="Disable a named fix (see `srconvert inspect`).")
@click.option("--no-optimize", is_flag=True, help="Skip the lean-graph optimisations (fold MultiplyBeta, drop identities, ...).")
@click.option("--browser", is_flag=True,
              help="Verify in headless Chromium too: TF.js on WebGL and WebGPU, onnxruntime-web on wasm and WebGPU.")
@click.option("--input-size", callback=_input_size, default=None, metavar="HxW",
              help="ONNX and PyTorch sources: the patch size a TF.js graph model is built at (e.g. 64x64), window "
                   "partitions and masks folded to constants; srconvert picks one for a graph that reads its size. "
                   "ONNX artifacts keep every size the source takes.")
@page_options
@budget_options
@quiet_option
@click.pass_context
def convert(ctx, out, as_json, custom_layer_specs, allow_lambda, no_fix, no_verify, quiet, **_):
    # The other parameters reach the run through ConvertOptions.from_cli(ctx.params), the targets' own included.
    """Convert SOURCE (Keras .h5/.keras, SavedModel, TFJS layers folder, ONNX, PyTorch .pth/.safetensors) into OUT."""
    from converter.core import tf_runtime
    from converter.core.progress import Progress
    from converter.parity import report
    from converter.passes.fixes import FIX_NAMES
    from converter.pipeline.convert import ConvertOptions
    from converter.pipeline.convert import convert as run_convert

    unknown = [name for name in no_fix if name not in FIX_NAMES]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}; fixes are {', '.join(FIX_NAMES)}", param_hint="--no-fix")
    if no_verify:
        click.echo("warning: --no-verify: the bundle is NOT checked against the source", err=True)
    _warn_lambda(allow_lambda)
    tf_runtime.quiet(debug=ctx.obj["debug"])
    params = dict(ctx.params)
    if ctx.get_parameter_source("precisions") == click.core.ParameterSource.DEFAULT:
        params["precisions"] = targets.offered(params["formats"], params["precisions"])
    options = ConvertOptions.from_cli(params, _load_user_layers(custom_layer_specs))
    progress = Progress(not (as_json or quiet))
    try:
        result = run_convert(options, progress)
    except SrconvertError as error:
        if as_json:
            click.echo(json.dumps({"error": error.message, "exit_code": error.exit_code, **error.details},
                                  indent=2, sort_keys=True))
        raise
    if as_json:
        click.echo(json.dumps(result.manifest, indent=2, sort_keys=True))
        return
    verified = result.manifest["parity"]["verified"]
    click.echo(report.terminal_table(result.artifacts, verified))
    click.echo(f"wrote {out} ({len(result.artifacts)} artifacts; manifest.json, parity.md)"
               + ("" if verified else ": NOT VERIFIED (--no-verify)"))
    if result.manifest.get("check_page"):
        click.echo(f"check it in your own browser: srconvert serve {out}")



convert.params.extend(targets.cli_options())  # what a target lets a user choose (targets.base.Target.options)

@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--arch", default=None, metavar="NAME", help="Weights-only files: the family instead of detecting it.")
@click.option("--arch-params", default=None, metavar="K=V,...", help="Weights-only files: override inferred parameters.")
@click.option("--input-size", callback=_input_size, default=None, metavar="HxW",
              help="ONNX and PyTorch sources: describe the graph fixed to this patch size, as convert would.")
@budget_options
@click.pass_context
def inspect(ctx, source, as_json, arch, arch_params, input_size, max_memory, max_time, max_compute):
    """Describe SOURCE: format, Keras version, layers, custom layers, params,
    scale, input range guess and the fixes a conversion would apply."""
    from converter.architectures import parse_overrides
    from converter.commands.inspection import inspect_source, render
    from converter.core import tf_runtime

    tf_runtime.quiet(debug=ctx.obj["debug"])
    facts = inspect_source(source, arch, parse_overrides(arch_params), max_memory, input_size=input_size,
                           max_compute=max_compute)
    click.echo(json.dumps(facts, indent=2, sort_keys=True) if as_json else render(facts))


@cli.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--source", type=click.Path(path_type=Path), default=None,
              help="Re-run parity against this source (default: the manifest's, if it still exists).")
@click.option("--tfjs-backend", type=click.Choice(["wasm", "cpu"]), default="wasm", show_default=True)
@click.option("--custom-layers-js", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Register these JS layers (a CommonJS file exporting registerCustomLayers) instead of the bundle's.")
@click.option("--parity-images", type=click.Path(path_type=Path, file_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--browser", is_flag=True,
              help="Verify in headless Chromium too: TF.js on WebGL and WebGPU, onnxruntime-web on wasm and WebGPU.")
@click.option("--trust-code", is_flag=True,
              help="Import the user code the manifest records (its --custom-layer files, each only if its sha256 "
                   "still matches; its --allow-lambda): trusted bundles only.")
@code_options
@budget_options
@quiet_option
@click.pass_context
def verify(ctx, bundle, source, tfjs_backend, custom_layers_js, parity_images, as_json, browser, trust_code,
           custom_layer_specs, allow_lambda, max_memory, max_time, max_compute, quiet):
    """Check BUNDLE's files against its manifest, then re-run parity against
    its source (exit 4 when the files match but parity could not be re-run).
    The source is read as the conversion read it (a weights-only file's
    family and hyperparameters, the patch size, from the manifest); code it
    needs runs only when named again (--custom-layer, --allow-lambda) or
    trusted as recorded (--trust-code)."""
    from converter.commands.verify_bundle import verify_bundle
    from converter.core import tf_runtime
    from converter.core.photos import DEFAULT_IMAGES
    from converter.core.progress import Progress

    _warn_lambda(allow_lambda)
    tf_runtime.quiet(debug=ctx.obj["debug"])
    if parity_images is not None:  # before any work: a named folder must give photos
        from converter.parity.inputs import check_folder

        check_folder(parity_images)
    outcome = verify_bundle(
        bundle,
        source=source,
        backend=tfjs_backend,
        custom_layers_js=custom_layers_js,
        images_dir=parity_images or DEFAULT_IMAGES,
        images_required=parity_images is not None,
        progress=Progress(not (as_json or quiet)),
        browser=browser,
        max_memory=max_memory,
        max_compute=max_compute,
        user_layers=_load_user_layers(custom_layer_specs),
        allow_lambda=allow_lambda,
        trust_code=trust_code,
    )
    click.echo(json.dumps(outcome.as_dict(), indent=2, sort_keys=True) if as_json else outcome.render())
    outcome.raise_for_failure()
    sys.exit(outcome.exit_code)


@cli.command("recipes")
@click.option("--dir", "folder", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder of recipes (default: the repo's recipes/).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_recipes(folder, as_json):
    """List the release recipes and the weights file each expects."""
    from converter.release.recipes import RECIPES_DIR, discover

    found = discover(folder or RECIPES_DIR)
    if as_json:
        click.echo(json.dumps([{"recipe": str(r.path), "name": r.name, "version": r.version, "weights": str(r.weights_path),
                                "weights_present": r.weights_path.is_file()} for r in found], indent=2))
        return
    for r in found:
        present = "present" if r.weights_path.is_file() else "MISSING"
        click.echo(f"{r.path.name:28s} {r.name} {r.version}  x{r.scale}  weights: {r.weights_path} ({present})")


@cli.command()
@click.argument("recipe_paths", metavar="RECIPE...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", "dist", required=True, type=click.Path(path_type=Path), help="Folder for the release folders.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, help="Recipes built in parallel processes.")
@click.option("--weights", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Use this weights file instead of the recipe's (one recipe only).")
@click.option("--no-verify", is_flag=True, help="Skip the parity check (a warning is printed).")
@click.option("--force", is_flag=True, help="Replace existing release folders.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome per recipe as JSON.")
@click.option("--browser", is_flag=True,
              help="Verify in headless Chromium too: TF.js on WebGL and WebGPU, onnxruntime-web on wasm and WebGPU.")
@click.option("--fresh-workers", is_flag=True,
              help="Start a new process for every recipe instead of reusing one per job (slower: each starts "
                   "TensorFlow again; the releases are the same).")
@page_options
@budget_options
@quiet_option
@click.pass_context
def build(ctx, recipe_paths, dist, jobs, weights, no_verify, force, as_json, browser, fresh_workers, no_check_page,
          vendor_libs, max_memory, max_time, max_compute, quiet):
    """Build release folders (bundle, manifest, parity report, npm package)
    from RECIPE files; identical inputs give byte-identical folders."""
    from dataclasses import asdict

    from converter.release.build import build_many, default_jobs, exit_code

    if no_verify:
        click.echo("warning: --no-verify: the releases are NOT checked against their sources", err=True)
    outcomes = build_many(list(recipe_paths), dist, jobs or default_jobs(), weights, not no_verify, force,
                          ctx.obj["debug"], browser, max_memory, progress=not (quiet or as_json),
                          max_time=max_time, max_compute=max_compute, check_page=not no_check_page,
                          vendor_libs=vendor_libs, fresh_workers=fresh_workers)
    if as_json:
        click.echo(json.dumps([asdict(o) for o in outcomes], indent=2))
    for outcome in outcomes:
        stream_err = outcome.exit_code != 0
        for line in outcome.lines:
            if not as_json or stream_err:
                click.echo(f"{outcome.recipe}: {line}" if stream_err else line, err=stream_err)
    sys.exit(exit_code(outcomes))


@cli.group()
def zoo():
    """Plan, build and merge a zoo of OpenModelDB entries across machines."""


@zoo.command("plan")
@click.argument("index", type=click.Path(path_type=Path))
@click.option("--weights-dir", required=True, type=click.Path(path_type=Path),
              help="Folder holding the entries' weights, found by size and sha256 (nothing is downloaded).")
@click.option("--shards", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Shards to balance the estimated work over (a CI matrix holds at most 256 jobs).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, with a GitHub Actions matrix.")
def zoo_plan(index, weights_dir, shards, as_json):
    """List every entry of INDEX (a folder of OpenModelDB <id>.json entries):
    whether srconvert builds it and why not, its weights, and its shard."""
    from converter.zoo import plan

    planned = plan.make(index, weights_dir, shards)
    click.echo(json.dumps(planned.as_dict(), indent=2) if as_json else plan.render(planned))


@zoo.command("build")
@click.argument("index", type=click.Path(path_type=Path))
@click.option("--weights-dir", required=True, type=click.Path(path_type=Path),
              help="Folder holding the entries' weights (as for zoo plan).")
@click.option("--shard", "shard_text", default="1/1", show_default=True,
              help="Which shard of the plan to build, i/N (N as zoo plan --shards).")
@click.option("-o", "--out", "dist", required=True, type=click.Path(path_type=Path),
              help="Folder for the shard's release folders (DIST/<id>/) and its zoo-shard record.")
@click.option("--plan", "plan_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The plan `zoo plan --json` wrote: then the weights folder needs only this shard's files.")
@click.option("--cache", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Content-addressed cache of verified releases: a hit is copied, its hashes re-checked.")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, help="Models built in parallel processes.")
@click.option("--force", is_flag=True, help="Replace release folders an earlier run wrote.")
@click.option("--browser", is_flag=True, help="Verify in headless Chromium too (as build --browser).")
@click.option("--format", "formats", default=",".join(targets.DEFAULT_FORMATS), show_default=True,
              callback=csv_choice(targets.FORMATS, "--format"),
              help="Comma list of output formats each model is built as (ncnn adds an Upscayl models folder to "
                   "the merged zoo).")
@page_options
@quiet_option
@click.pass_context
def zoo_build(ctx, index, weights_dir, shard_text, plan_file, dist, cache, jobs, force, browser, formats, no_check_page,
              vendor_libs, quiet):
    """Build one shard of INDEX's plan as release folders, one per model;
    a model that fails is recorded with its reason and the rest go on."""
    from converter.core.errors import BadInput
    from converter.release.build import default_jobs, exit_code
    from converter.zoo import build as zoo_build_shard
    from converter.zoo import plan

    shard, total = plan.parse_shard(shard_text)
    planned = plan.load(plan_file, index, weights_dir, shard) if plan_file else plan.make(index, weights_dir, total)
    if planned.shards != total:
        raise BadInput(f"--shard {shard_text}, but the plan has {planned.shards} shard"
                       f"{'s' if planned.shards > 1 else ''}", path=plan_file,
                       hint="give --shard i/N with the N of `zoo plan --shards N`")
    settings = zoo_build_shard.Settings(formats=formats, browser=browser, check_page=not no_check_page,
                                        vendor_libs=vendor_libs)
    outcomes = zoo_build_shard.build_shard(planned, shard, index, weights_dir, dist, cache, jobs or default_jobs(),
                                           settings, force, ctx.obj["debug"], progress=not quiet)
    for outcome in outcomes:
        for line in outcome.lines:
            click.echo(f"{outcome.recipe}: {line}" if outcome.exit_code else line, err=bool(outcome.exit_code))
    failed = sum(1 for o in outcomes if o.exit_code)
    click.echo(f"shard {shard}/{total}: {len(outcomes) - failed} of {len(outcomes)} models built"
               + (f", {failed} failed (see above)" if failed else ""), err=bool(failed))
    sys.exit(exit_code(outcomes))


@zoo.command("merge")
@click.argument("dists", metavar="DIST...", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="Folder for the merged zoo.")
@click.option("--force", is_flag=True, help="Replace a zoo an earlier merge wrote.")
def zoo_merge(dists, out, force):
    """Merge the shards' outputs into one zoo: OUT/<id>/, index.json and an
    offline gallery, index.html (exit 1 when a model failed)."""
    from converter.core.errors import EXIT_OK, EXIT_PARITY_FAILED
    from converter.zoo.merge import merge

    index = merge(list(dists), out, force)
    click.echo(f"wrote {out}: {index['passed']} of {index['total']} models passed (index.json, index.html)")
    sys.exit(EXIT_OK if index["passed"] == index["total"] else EXIT_PARITY_FAILED)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 lets other devices on your network open the page.")
def serve(folder, port, host):
    """Serve a bundle or release FOLDER so its self-check page (check.html)
    runs in your browser, with the libraries srconvert verified with."""
    from converter.commands.serve import serve as run_serve

    run_serve(folder, host, port, lambda line: click.echo(line, err=line.startswith("warning")))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def doctor(as_json):
    """Check Python packages, Node.js and the Node packages against the tested
    versions, and print the command that fixes each problem (exit 3 if a
    required one fails; Chromium and the pytorch extra are optional)."""
    from dataclasses import asdict

    from converter.commands.doctor import exit_code, render, run

    checks = run()
    click.echo(json.dumps([asdict(c) for c in checks], indent=2) if as_json else render(checks))
    sys.exit(exit_code(checks))


def main() -> None:
    """The console entry point. Once a command has returned, every file is
    written and closed and every runtime process ended; what the interpreter
    would do next is free TensorFlow's, torch's and onnxruntime's modules
    object by object, about a second that changes nothing. So the exit
    handlers run, the output is flushed, and the process ends at once."""
    try:
        cli(prog_name="srconvert")
        code = 0
    except SystemExit as done:
        code = done.code
    if code is not None and not isinstance(code, int):  # sys.exit("message"), as Python itself shows it
        print(code, file=sys.stderr)
        code = 1
    _exit_now(code or 0)


def _exit_now(code: int) -> None:
    import atexit
    import os

    atexit._run_exitfuncs()  # what libraries registered still runs (logging, temporary files)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or stream: nothing more can be said
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
