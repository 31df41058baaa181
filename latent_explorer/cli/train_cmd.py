"""``latent-explorer train``: train a ConvVAE on a bundled dataset or a folder of images.

It says the plan first (training images, batch, augmentation, length), then one line per
evaluation (``*`` marks the epoch the model folder now holds: the best on held-out images so
far) and any warning (flat reconstructions, overfitting) as ``warning: …`` on stderr. With no
``--out`` the folder is ``./<data>-b<β>-z<latent dim>`` (``-2``, ``-3``, … when that one holds
another run); an ``--out`` that holds a model is refused unless ``--resume`` or ``--overwrite``.
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from ..core.errors import UserError
from . import paths


def _out_folder(a) -> str:
    from ..core.train_plan import default_name, free_folder, holds_run

    if a.out is None:
        if a.resume:
            raise UserError("--resume: say which run with --out")
        return str(free_folder(Path.cwd(), default_name(a.data, a.beta, a.latent_dim)))
    out = paths.output_folder("--out", a.out)
    if not a.resume and not a.overwrite and holds_run(out):
        raise UserError(f"--out {a.out}: {_describe_run(out)} is there already; add --resume to continue it, "
                        "--overwrite to replace it, or choose another --out (or none: a new name)")
    return a.out


def _describe_run(out: Path) -> str:
    try:
        state = json.loads((out / "training.json").read_text())
        o = state.get("options", {})
        return (f"a model of {o.get('data', '?')} (β {o.get('beta', '?')}, {o.get('latent_dim', '?')} latent "
                f"dimensions, epoch {state.get('epoch', '?')})")
    except (OSError, ValueError, AttributeError):
        return "a model"


def cmd_train(a) -> int:
    paths.dataset("--data", a.data)
    out = _out_folder(a)
    from tqdm import tqdm

    from ..core.train import TrainCallbacks, TrainOptions, default_architecture, train

    if a.image_size and not a.resume:  # the architecture must fit the size (checked again by ConvVAE)
        hidden = a.hidden_channels or default_architecture(a.image_size)
        if a.image_size % 2 ** len(hidden):
            raise UserError(f"--image-size {a.image_size}: must be a multiple of {2 ** len(hidden)} for "
                            f"{len(hidden)} levels of hidden channels {hidden}")
    opts = TrainOptions(
        data=a.data, out=out, latent_dim=a.latent_dim, beta=a.beta, tc_beta=a.tc_beta, epochs=a.epochs,
        steps=a.steps, minutes=a.minutes, image_size=a.image_size, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
        hidden_channels=a.hidden_channels, decoder=a.decoder, augment=a.augment, kl_warmup_epochs=a.kl_warmup,
        device=a.device, resume=a.resume, limit=a.limit, command="latent-explorer " + shlex.join(a.argv))
    run = {"bar": None, "plan": None, "t0": 0.0, "best": None}

    def on_plan(plan):
        import time

        run["plan"], run["t0"] = plan, plan.t0 or time.perf_counter()
        print(f"{out}: {plan.describe()}", file=sys.stderr)
        run["bar"] = tqdm(total=1000, leave=False, mininterval=0.5, disable=not sys.stderr.isatty(),
                         bar_format="{l_bar}{bar}| {elapsed}<{remaining}")

    def on_batch(epoch, b, nb, loss):
        import time

        bar = run["bar"]
        if bar is None:
            return
        plan = run["plan"]
        done = plan.progress(epoch + (b + 1) / nb, epoch * nb + b + 1, time.perf_counter() - run["t0"])
        bar.update(max(0, int(done * 1000) - bar.n))
        if b % 10 == 0:
            bar.set_postfix_str(f"epoch {epoch + 1} loss {loss:.1f}")

    def on_epoch(res, vae):
        best = run["best"]
        kept = res.test_neg_elbo is None or best is None or res.test_neg_elbo < best
        if kept and res.test_neg_elbo is not None:
            run["best"] = res.test_neg_elbo
        test = f"  test −ELBO {res.test_neg_elbo:.2f} (recon {res.test_recon:.2f} + KL {res.test_kl:.2f})" \
            if res.test_neg_elbo is not None else ""
        total = f"/{res.epochs}" if opts.epochs is not None and opts.steps is None and opts.minutes is None else ""
        tqdm.write(f"epoch {res.epoch}{total} (step {res.step:,})  loss {res.train_loss:.2f} (recon "
                   f"{res.train_recon:.2f} + KL {res.train_kl:.2f})  β {res.beta:g}{test}  {res.seconds:.1f} s"
                   + ("  *" if kept else ""))

    def on_warning(text):
        tqdm.write(f"warning: {text}", file=sys.stderr)

    try:
        result = train(opts, TrainCallbacks(on_batch=on_batch, on_epoch=on_epoch, on_plan=on_plan,
                                            on_warning=on_warning, on_message=lambda m: print(m, file=sys.stderr)))
    except KeyboardInterrupt:
        print(f"interrupted: {out} holds the best finished epoch; continue with --resume", file=sys.stderr)
        return 130
    finally:
        if run["bar"] is not None:
            run["bar"].close()
    if not result.cancelled and result.epochs_done:
        from ..core.metrics import evaluate
        from ..core.models.loading import load_model
        from ..core.train import write_metrics

        report = None
        if opts.data in ("mnist-5k", "shapes"):  # the bundled test split; folders have no fixed one
            report = evaluate(load_model(str(result.out), device="cpu"), opts.data)
        write_metrics(result.out, report)
    kept = f" (keeping epoch {result.best_epoch}, the best on held-out images)" \
        if result.best_epoch and result.best_epoch != result.epochs_done else ""
    print(f"saved {result.out} after {result.epochs_done} epochs ({result.steps_done:,} steps) in "
          f"{result.seconds:.0f} s{kept}")
    return 0
