"""The subcommands behind ``latent-explorer``: each checks its paths first, then loads the model.

Every ``cmd_*`` takes the parsed arguments and returns the exit code; a user's mistake is raised
as ``UserError`` (printed by ``main`` as one line, exit 2).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..core.errors import UserError
from . import common, paths
from .analogy_cmd import cmd_analogy
from .breed_cmd import cmd_breed
from .direction_cmd import cmd_direction, traverse_direction
from .launcher import cmd_install_launcher
from .train_cmd import cmd_train

def cmd_models(a) -> int:
    from ..core.models.loading import BUNDLED_MODELS, bundled_models

    folders = bundled_models()
    for name, desc in BUNDLED_MODELS.items():
        mp = folders[name] / "metrics.json"
        line = f"{name:16s} {desc}"
        if mp.exists():
            m = json.loads(mp.read_text()).get("evaluate", {})
            parts = []
            if "neg_elbo_nats" in m:
                parts.append(f"test −ELBO {m['neg_elbo_nats']:.1f} nats")
            if "active_dims" in m:
                parts.append(f"{m['active_dims']} active dims")
            if "mig" in m:
                parts.append(f"MIG {m['mig']:.3f}")
            if "psnr_db" in m:
                parts.append(f"held-out PSNR {m['psnr_db']:.1f} dB at {m.get('image_size', '?')} px")
            line += "\n" + " " * 17 + ", ".join(parts)
        elif not (folders[name] / "model.safetensors").exists():
            line += "  (missing)"
        print(line)
    return 0


def cmd_info(a) -> int:
    m = common.load(a)
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

    from ..core.data.images import load_folder
    from ..core.paths import atomic_write

    if not a.out.lower().endswith(".npz"):  # a folder: a collection (Parquet shards, resumable)
        from .collection_cmd import cmd_encode_collection

        return cmd_encode_collection(a)
    from ..core.data.collection import SHARD_SIZE

    if a.engine != "local" or a.address or a.shard_size != SHARD_SIZE:
        raise UserError("--engine, --address and --shard-size apply to a collection (--out FOLDER), "
                        "not to a .npz file")
    out = paths.output_file("--out", a.out, (".npz",))
    folder = paths.input_folder("--images", a.images)
    m = common.load(a)
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
    from ..core.export import make_grid, recipe_with, save_png

    out = paths.output_file("--out", a.out, (".png",))
    settings = common.export_settings(a)
    m = common.load(a)
    common.check_grid_memory(a.n, m, settings, "use a smaller -n or --scale")
    z = m.sample_prior(a.n, seed=a.seed, temperature=a.temperature)
    save_png(out, make_grid(m.decode(z), settings=settings),
             recipe_with(common.recipe(m, kind="sample", n=a.n, seed=a.seed, temperature=a.temperature), settings))
    print(f"wrote {out}")
    return 0


def cmd_reconstruct(a) -> int:
    import numpy as np

    from ..core.export import make_grid, recipe_with, save_png

    files = common.input_images(a.images)
    out = paths.output_folder("--out", a.out)
    settings = common.export_settings(a)
    m = common.load(a)
    batch, mean = common.encode_files(m, files)
    rec = m.decode(mean)
    out = paths.output_folder("--out", a.out, create=True)
    for p, x, r, z in zip(files, batch, rec, mean):
        dst = out / (Path(p).stem + "_recon.png")
        save_png(dst, make_grid(np.stack([x, r]), cols=2, settings=settings),
                 recipe_with(common.recipe(m, kind="reconstruct", source=str(p), latent=z), settings))
        print(f"wrote {dst}")
    return 0


def cmd_traverse(a) -> int:
    from ..core.export import label_rows, make_grid, recipe_with, save_png
    from ..core.latent import traversal_latents

    out = paths.output_file("--out", a.out, (".png",))
    if a.image:
        paths.input_file("--image", a.image)
    settings = common.export_settings(a)
    m = common.load(a)
    if len(m.latent_shape) != 1 and not a.direction:
        raise UserError(f"traverse works on vector latents; {a.model} has spatial latents {m.latent_shape} "
                        "(walk them along a saved direction with --direction FILE.json)")
    if a.image:
        _, base = common.encode_files(m, [a.image])
        base = base[0]
    else:
        base = m.sample_prior(1, seed=a.seed)[0]
    if a.direction:
        grid, recipe = traverse_direction(a, m, base, settings)
        save_png(out, grid, recipe)
        print(f"wrote {out} (1 row × {a.steps} steps along {a.direction})")
        return 0
    a.range_ = 3.0 if a.range_ is None else a.range_
    common.check_grid_memory(int(m.latent_shape[0]) * a.steps, m, settings, "use fewer --steps or a smaller --scale")
    zs = traversal_latents(base, steps=a.steps, value_range=a.range_)
    imgs = m.decode(zs.reshape(-1, *m.latent_shape))
    grid = make_grid(imgs.reshape(zs.shape[0], a.steps, *imgs.shape[1:]), settings=settings)
    kl = ((getattr(m, "metrics", None) or {}).get("evaluate") or {}).get("kl_per_dim")
    grid = label_rows(grid, [f"z{d}" + (f" · KL {kl[d]:.2f}" if kl and d < len(kl) else "")
                             for d in range(zs.shape[0])], zs.shape[0])
    save_png(out, grid, recipe_with(common.recipe(m, kind="traverse", base=base, steps=a.steps, range=a.range_,
                                            source=a.image, seed=None if a.image else a.seed), settings))
    print(f"wrote {out} ({zs.shape[0]} rows × {a.steps} steps)")
    return 0


def cmd_morph(a) -> int:
    """A morph through the images in order (A → B → C …; ``--close`` ends on A again), frames
    spread evenly over the segments and eased per segment (``core.latent.path_latents``)."""
    import numpy as np

    from ..core.export import save_animation
    from ..core.latent import path_latents

    out = paths.output_file("--out", a.out, (".gif", ".mp4", ".png"))
    if out.suffix.lower() != ".png":
        from ..core.export import check_writable_pair

        check_writable_pair(out)  # its recipe FILE.json too, before anything is loaded
    if len(a.images) < 2:
        raise UserError("morph needs at least two images")
    files = common.input_images(a.images, least=2)
    n_keys = len(files) + bool(a.close)
    if a.frames < n_keys:
        raise UserError(f"--frames {a.frames}: a morph through {n_keys} keyframes"
                        f"{' (with --close)' if a.close else ''} needs at least {n_keys} frames")
    settings = common.export_settings(a, animated=True)
    m = common.load(a)
    from ..core.export_settings import animation_bytes, check_memory

    check_memory(animation_bytes(a.frames, *m.image_size, m.channels, settings),  # before a frame is decoded
                 f"--frames {a.frames}{f' --out-size {a.out_size}' if a.out_size else ''}",
                 "use fewer --frames or a smaller --out-size / --scale")
    _, keys = common.encode_files(m, files)
    if a.close:
        keys = np.concatenate([keys, keys[:1]])
    zs = path_latents(keys, a.frames, a.method, a.ease)
    frames = m.decode(zs)
    save_animation(out, frames, recipe=common.recipe(
        m, kind="morph", images=[str(p) for p in files], method=a.method, frames=a.frames, keyframes=keys,
        closed=bool(a.close)), settings=settings)
    shown = len(frames) * 2 - 2 if a.loop == "ping-pong" and len(frames) > 2 else len(frames)
    h, w = settings.output_size(*frames.shape[1:3])
    size = f" of {w}×{h}" if settings.resizes else ""
    print(f"wrote {out} ({shown} frames{size} at {a.fps} fps, {a.method}, {a.ease}, {a.loop})")
    return 0


def cmd_evaluate(a) -> int:
    from ..core.metrics import evaluate

    paths.dataset("--data", a.data)
    m = common.load(a)
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
            print(f"{k:16s} " + ", ".join(f"{kk} {vv:.3f}" if isinstance(vv, float) else f"{kk} {vv}"
                                          for kk, vv in v.items()))
        else:
            print(f"{k:16s} {v}")
    return 0


MAX_TABLE_DIMS = 32


def _explain_table(name: str, r: dict) -> str:
    """A short human-readable account of one image's ELBO, then μ, log σ², σ and KL per dimension."""
    import numpy as np

    lines = [f"{name}: −ELBO = reconstruction + KL (β = 1), in nats",
             f"  −ELBO           {r['neg_elbo_nats']:10.3f}",
             (f"  reconstruction  {r['recon_nats']:10.3f}   −log p(x|z) at one sample z = μ + σ·ε "
              "(Bernoulli: cross-entropy against the decoder's logits)"),
             f"  KL              {r['kl_nats']:10.3f}   KL(q(z|x) ‖ N(0, I)), the sum of the column below",
             f"  {'dim':>5} {'μ':>9} {'log σ²':>9} {'σ':>9} {'KL':>9}"]
    kl = np.asarray(r["kl_per_dim"])
    dims = np.arange(len(kl)) if len(kl) <= MAX_TABLE_DIMS else np.sort(np.argsort(-kl)[:MAX_TABLE_DIMS])
    for d in dims:
        mu, lv = float(r["mean"][d]), float(r["logvar"][d])
        lines.append(f"  {d:5d} {mu:9.3f} {lv:9.3f} {np.exp(0.5 * lv):9.3f} {kl[d]:9.3f}")
    if len(dims) < len(kl):
        lines.append(f"  ({len(kl) - len(dims)} dimensions with less KL not shown; --json lists all)")
    return "\n".join(lines)


def cmd_explain(a) -> int:
    from ..core.data.images import fit_to_size, load_image
    from ..core.explain import as_json, explain, require_likelihood

    image = paths.input_file("", a.image)
    if a.samples or a.out is not None:
        paths.output_folder("--out", a.out if a.out is not None else ".")
    m = common.load(a)
    require_likelihood(m)
    batch = fit_to_size(load_image(image)[None], m.image_size, m.channels)
    r = explain(m, batch, samples=a.samples or 0, seed=a.seed)[0]
    grid = None
    if a.samples:
        from ..core.export import make_grid, save_png

        out = paths.output_folder("--out", a.out if a.out is not None else ".", create=True)
        grid = out / f"{image.stem}-posterior-samples.png"
        save_png(grid, make_grid(r["decodes"]), common.recipe(m, kind="explain", source=str(image), samples=a.samples,
                                                       seed=a.seed, mean=r["mean"], logvar=r["logvar"]))
    if a.json:
        print(json.dumps({"model": m.spec or m.name, "image": str(image), **as_json(r),
                          **({"grid": str(grid)} if grid else {})}))
        return 0
    print(_explain_table(f"{image.name} on {m.spec or m.name}", r))
    if grid:
        print(f"wrote {grid} ({a.samples} decodes of z = μ + σ·ε, seed {a.seed})")
    return 0


def cmd_serve(a) -> int:
    """The classroom (``web/``): imported only here, so the desktop install needs no Gradio."""
    from .. import web

    why = web.missing()
    if why:
        print(f"latent-explorer serve: {why}", file=sys.stderr)
        return 2
    from ..web.server import ServeOptions, serve

    return serve(ServeOptions(model=a.model or "digits", host=a.host, port=a.port, lab=a.lab, device=a.device,
                              projection=a.projection))


COMMANDS = {"train": cmd_train, "models": cmd_models, "info": cmd_info, "encode": cmd_encode,
            "sample": cmd_sample, "reconstruct": cmd_reconstruct, "traverse": cmd_traverse,
            "morph": cmd_morph, "evaluate": cmd_evaluate, "explain": cmd_explain,
            "analogy": cmd_analogy, "direction": cmd_direction, "breed": cmd_breed,
            "install-launcher": cmd_install_launcher, "serve": cmd_serve}
