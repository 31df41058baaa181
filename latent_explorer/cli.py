"""The ``latent-explorer`` command line: lab demos, scripts and tests.

Exit codes: 0 success; 2 a user's mistake (bad argument, unusable file or model), with one
line that names the file or value; 1 an internal error. No traceback for a user's mistake.
With no arguments it opens the GUI on the default bundled model.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from .core.errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's exit code is 2 too; we keep the message to one line
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{s!r} must be at least 1")
    return v


def _nonneg_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
    if not v >= 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"{s!r} must be a finite number ≥ 0")
    return v


def _add_model(p, required=True):
    p.add_argument("--model", required=required, default=None if required else "digits",
                   help="bundled name (digits, digits-2d, shapes), model folder, .safetensors file or hub id")
    p.add_argument("--device", default="auto", help="auto (CUDA, MPS, else CPU), cpu, cuda or mps")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--allow-pickle", action="store_true",
                   help="allow .pt/.ckpt/.bin checkpoints (tensors only, weights_only=True)")
    p.add_argument("--size", type=_positive_int, default=None, metavar="PIXELS",
                   help="working image size for Stable Diffusion-style VAEs (default 256; a multiple of the "
                        "model's downsampling factor, 8 for the SD VAE)")
    p.add_argument("--config", default=None, metavar="FOLDER",
                   help="folder with the config.json of a single-file VAE (default: inferred from the weights)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="latent-explorer", description="Explore the latent space of VAEs.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    g = sub.add_parser("gui", help="open the desktop explorer (the default)")
    _add_model(g, required=False)
    g.add_argument("--images", help="a folder of images to encode into the map")
    g.add_argument("--screenshot", help="save a PNG of the window once ready, then exit")
    # the app's default precision is "auto": bf16 full decodes where the CPU has bf16 units (or on CUDA)
    g.set_defaults(precision=None)

    sub.add_parser("models", help="list the bundled models and their metrics")

    i = sub.add_parser("info", help="describe a model")
    _add_model(i)
    i.add_argument("--json", action="store_true")

    t = sub.add_parser("train", help="train a ConvVAE on a bundled dataset or a folder")
    t.add_argument("--data", required=True, help="mnist-5k, shapes, or a folder of images")
    t.add_argument("--out", required=True, help="model folder (replaced atomically every epoch)")
    t.add_argument("--latent-dim", type=_positive_int, default=16)
    t.add_argument("--beta", type=_nonneg_float, default=1.0, help="weight of the KL term (1: classic VAE)")
    t.add_argument("--tc-beta", type=_nonneg_float, default=None,
                   help="β-TCVAE: weight only the total-correlation part of the KL")
    t.add_argument("--epochs", type=_positive_int, default=10)
    t.add_argument("--image-size", type=_positive_int, default=None)
    t.add_argument("--batch-size", type=_positive_int, default=128)
    t.add_argument("--lr", type=_nonneg_float, default=1e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--augment", action="store_true", help="small random shifts/rotations/zoom")
    t.add_argument("--kl-warmup", type=int, default=0, metavar="EPOCHS", help="ramp β up from 0 over EPOCHS")
    t.add_argument("--hidden-channels", default=None, help="comma-separated, e.g. 32,64")
    t.add_argument("--decoder", choices=["deconv", "broadcast"], default="deconv",
                   help="broadcast: spatial broadcast decoder (better disentangled positions)")
    t.add_argument("--limit", type=_positive_int, default=None, help="use only the first N training images")
    t.add_argument("--device", default="auto")
    t.add_argument("--resume", action="store_true", help="continue from the last finished epoch in --out")

    e = sub.add_parser("encode", help="encode a folder of images to an .npz of latents")
    _add_model(e)
    e.add_argument("--images", required=True)
    e.add_argument("--out", required=True)

    s = sub.add_parser("sample", help="decode random latents from the prior into a PNG grid")
    _add_model(s)
    s.add_argument("-n", type=_positive_int, default=64)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--temperature", type=_nonneg_float, default=1.0)
    s.add_argument("--out", required=True)

    r = sub.add_parser("reconstruct", help="encode and decode images; writes originals beside reconstructions")
    _add_model(r)
    r.add_argument("images", nargs="+")
    r.add_argument("--out", required=True)

    tr = sub.add_parser("traverse", help="a traversal grid: one row per latent dimension")
    _add_model(tr)
    tr.add_argument("--image")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--steps", type=_positive_int, default=9)
    tr.add_argument("--range", type=_nonneg_float, default=3.0, dest="range_")
    tr.add_argument("--out", required=True)

    m = sub.add_parser("morph", help="morph between images (GIF, MP4 or PNG strip)")
    _add_model(m)
    m.add_argument("images", nargs="+", metavar="IMAGE")
    m.add_argument("--frames", type=_positive_int, default=16)
    m.add_argument("--method", choices=["slerp", "lerp"], default="slerp")
    m.add_argument("--fps", type=_positive_int, default=12)
    m.add_argument("--out", required=True)

    ev = sub.add_parser("evaluate", help="test-split metrics (ELBO, KL per dim, active dims, MIG)")
    _add_model(ev)
    ev.add_argument("--data", default=None, help="mnist-5k, shapes or a folder (default: the model's own)")
    ev.add_argument("--json", action="store_true")
    return p


def cmd_train(a) -> int:
    from tqdm import tqdm

    from .core.train import TrainCallbacks, TrainOptions, train

    hidden = [int(x) for x in a.hidden_channels.split(",")] if a.hidden_channels else None
    opts = TrainOptions(
        data=a.data, out=a.out, latent_dim=a.latent_dim, beta=a.beta, tc_beta=a.tc_beta, epochs=a.epochs,
        image_size=a.image_size, batch_size=a.batch_size, lr=a.lr, seed=a.seed, hidden_channels=hidden,
        decoder=a.decoder, augment=a.augment, kl_warmup_epochs=a.kl_warmup, device=a.device, resume=a.resume, limit=a.limit,
        command="latent-explorer " + shlex.join(a.argv))
    bar = {"b": None}

    def on_batch(epoch, b, nb, loss):
        if bar["b"] is None:
            bar["b"] = tqdm(total=nb, desc=f"epoch {epoch + 1}/{opts.epochs}", unit="batch", leave=False)
        bar["b"].update(1)
        if b % 10 == 0:
            bar["b"].set_postfix(loss=f"{loss:.1f}")

    def on_epoch(res, vae):
        if bar["b"] is not None:
            bar["b"].close()
            bar["b"] = None
        test = f"  test −ELBO {res.test_neg_elbo:.2f} (recon {res.test_recon:.2f} + KL {res.test_kl:.2f})" \
            if res.test_neg_elbo is not None else ""
        tqdm.write(f"epoch {res.epoch}/{res.epochs}  loss {res.train_loss:.2f} (recon {res.train_recon:.2f}"
                   f" + KL {res.train_kl:.2f})  β {res.beta:g}{test}  {res.seconds:.1f} s")

    try:
        result = train(opts, TrainCallbacks(on_batch=on_batch, on_epoch=on_epoch,
                                            on_message=lambda m: print(m, file=sys.stderr)))
    except KeyboardInterrupt:
        print(f"interrupted: {a.out} holds the last finished epoch; continue with --resume", file=sys.stderr)
        return 130
    if not result.cancelled and result.epochs_done:
        from .core.metrics import evaluate
        from .core.models.loading import load_model
        from .core.train import write_metrics

        report = None
        if opts.data in ("mnist-5k", "shapes"):  # the bundled test split; folders have no fixed one
            report = evaluate(load_model(str(result.out), device="cpu"), opts.data)
        write_metrics(result.out, report)
    print(f"saved {result.out} after {result.epochs_done} epochs in {result.seconds:.0f} s")
    return 0


def _load(a):
    from .core.models.loading import load_model

    extra = {k: v for k, v in (("size", a.size), ("config", a.config)) if v is not None}
    return load_model(a.model, device=a.device, precision=a.precision, allow_pickle=a.allow_pickle, **extra)


def _recipe(model, **kw) -> dict:
    r = {"model": model.spec or model.name}
    if hasattr(model, "weights_hash"):
        r["model_hash"] = model.weights_hash()
    r.update(kw)
    return r


def _check_out(path: str, suffixes: tuple[str, ...]) -> Path:
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise UserError(f"--out {path}: expected a {' or '.join(suffixes)} file")
    if out.parent and not out.parent.exists():
        raise UserError(f"--out {path}: folder {out.parent} does not exist")
    return out


def _encode_files(model, paths):
    import numpy as np

    from .core.data.images import fit_to_size

    from .core.data.images import load_image

    imgs = [load_image(p) for p in paths]
    batch = np.stack([fit_to_size(im[None], model.image_size, model.channels)[0] for im in imgs])
    mean, _ = model.encode(batch)
    return batch, mean


def cmd_models(a) -> int:
    from .core.models.loading import BUNDLED_MODELS, bundled_models

    folders = bundled_models()
    for name, desc in BUNDLED_MODELS.items():
        mp = folders[name] / "metrics.json"
        line = f"{name:10s} {desc}"
        if mp.exists():
            m = json.loads(mp.read_text()).get("evaluate", {})
            parts = []
            if "neg_elbo_nats" in m:
                parts.append(f"test −ELBO {m['neg_elbo_nats']:.1f} nats")
            if "active_dims" in m:
                parts.append(f"{m['active_dims']} active dims")
            if "mig" in m:
                parts.append(f"MIG {m['mig']:.3f}")
            line += "\n" + " " * 11 + ", ".join(parts)
        elif not (folders[name] / "model.safetensors").exists():
            line += "  (missing)"
        print(line)
    return 0


def cmd_info(a) -> int:
    m = _load(a)
    info = m.info()
    if a.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"model        {info['spec']}")
    print(f"kind         {info['kind']}")
    print(f"latent shape {tuple(info['latent_shape'])}")
    print(f"image        {info['image_size'][0]}×{info['image_size'][1]}, {info['channels']} channel(s)")
    print(f"device       {info['device']} ({info['dtype']})")
    if "parameters" in info:
        print(f"parameters   {info['parameters']:,}")
    ev = info.get("metrics", {}).get("evaluate")
    if ev:
        print(f"test −ELBO   {ev.get('neg_elbo_nats', float('nan')):.2f} nats "
              f"(recon {ev.get('recon_nats', float('nan')):.2f} + KL {ev.get('kl_nats', float('nan')):.2f}),"
              f" {ev.get('active_dims')} active dims" + (f", MIG {ev['mig']:.3f}" if "mig" in ev else ""))
    return 0


def cmd_encode(a) -> int:
    import numpy as np

    from .core.data.images import load_folder
    from .core.paths import atomic_write

    out = _check_out(a.out, (".npz",))
    folder = Path(a.images)
    if not folder.is_dir():
        raise UserError(f"--images {a.images}: no such folder")
    m = _load(a)
    from tqdm import tqdm

    bar = tqdm(desc="reading", unit="img", leave=False)

    def progress(i, n):
        bar.total = n
        bar.update(i - bar.n)

    res = load_folder(folder, m.image_size, m.channels, progress=progress)
    bar.close()
    for path, why in res.skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    if len(res.images) == 0:
        raise UserError(f"{folder}: no image could be encoded ({len(res.skipped)} skipped)")
    mean, logvar = m.encode(res.images)
    arrays = {"mean": mean, "paths": np.array([str(p.relative_to(folder)) for p in res.paths])}
    if logvar is not None:
        arrays["logvar"] = logvar
    with atomic_write(out) as f:
        np.savez_compressed(f, **arrays)
    print(f"encoded {len(mean)} images to {out} ({len(res.skipped)} skipped)")
    return 0


def cmd_sample(a) -> int:
    from .core.export import make_grid, save_png

    out = _check_out(a.out, (".png",))
    m = _load(a)
    z = m.sample_prior(a.n, seed=a.seed, temperature=a.temperature)
    save_png(out, make_grid(m.decode(z)), _recipe(m, kind="sample", n=a.n, seed=a.seed, temperature=a.temperature))
    print(f"wrote {out}")
    return 0


def cmd_reconstruct(a) -> int:
    import numpy as np

    from .core.export import make_grid, save_png

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    m = _load(a)
    batch, mean = _encode_files(m, a.images)
    rec = m.decode(mean)
    for p, x, r, z in zip(a.images, batch, rec, mean):
        dst = out / (Path(p).stem + "_recon.png")
        save_png(dst, make_grid(np.stack([x, r]), cols=2), _recipe(m, kind="reconstruct", source=str(p), latent=z))
        print(f"wrote {dst}")
    return 0


def cmd_traverse(a) -> int:
    from .core.export import make_grid, save_png
    from .core.latent import traversal_latents

    out = _check_out(a.out, (".png",))
    m = _load(a)
    if a.image:
        _, base = _encode_files(m, [a.image])
        base = base[0]
    else:
        base = m.sample_prior(1, seed=a.seed)[0]
    if len(m.latent_shape) != 1:
        raise UserError(f"traverse works on vector latents; {a.model} has spatial latents {m.latent_shape}")
    zs = traversal_latents(base, steps=a.steps, value_range=a.range_)
    imgs = m.decode(zs.reshape(-1, *m.latent_shape))
    grid = make_grid(imgs.reshape(zs.shape[0], a.steps, *imgs.shape[1:]))
    save_png(out, grid, _recipe(m, kind="traverse", base=base, steps=a.steps, range=a.range_,
                                source=a.image, seed=None if a.image else a.seed))
    print(f"wrote {out} ({zs.shape[0]} rows × {a.steps} steps)")
    return 0


def cmd_morph(a) -> int:
    from .core.export import save_animation
    from .core.latent import path

    out = _check_out(a.out, (".gif", ".mp4", ".png"))
    if len(a.images) < 2:
        raise UserError("morph needs at least two images")
    m = _load(a)
    _, keys = _encode_files(m, a.images)
    zs = path(keys, a.frames, a.method)
    frames = m.decode(zs)
    save_animation(out, frames, fps=a.fps, recipe=_recipe(
        m, kind="morph", images=[str(p) for p in a.images], method=a.method, frames=a.frames, keyframes=keys))
    print(f"wrote {out} ({len(frames)} frames, {a.method})")
    return 0


def cmd_evaluate(a) -> int:
    from .core.metrics import evaluate

    m = _load(a)
    r = evaluate(m, a.data)
    if a.json:
        print(json.dumps(r))
        return 0
    for k, v in r.items():
        if isinstance(v, float):
            print(f"{k:16s} {v:.4f}")
        elif isinstance(v, list):
            print(f"{k:16s} " + " ".join(f"{x:.2f}" for x in v))
        elif isinstance(v, dict):
            print(f"{k:16s} " + ", ".join(f"{kk} {vv:.3f}" if isinstance(vv, float) else f"{kk} {vv}" for kk, vv in v.items()))
        else:
            print(f"{k:16s} {v}")
    return 0


COMMANDS = {"train": cmd_train, "models": cmd_models, "info": cmd_info, "encode": cmd_encode,
            "sample": cmd_sample, "reconstruct": cmd_reconstruct, "traverse": cmd_traverse,
            "morph": cmd_morph, "evaluate": cmd_evaluate}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv)
    if args.command in (None, "gui"):
        from .gui.app import run_gui

        return run_gui(args)
    try:
        return COMMANDS[args.command](args)
    except UserError as e:
        print(f"latent-explorer {args.command}: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # an internal error: say so plainly, keep the traceback for a bug report
        import traceback

        traceback.print_exc()
        print(f"latent-explorer {args.command}: internal error: {e}", file=sys.stderr)
        return 1


def gui_main() -> None:
    """The ``latent-explorer-gui`` script and main.py: the ``gui`` subcommand, options from sys.argv."""
    sys.exit(main(["gui", *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main())
