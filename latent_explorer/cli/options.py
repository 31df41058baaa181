"""The command line's parser: every option parsed and bounded, with one-line messages.

Numbers refuse what is not a plain number (``1e400``, ``nan``, ``0x10``, ``3,,4``), anything out
of range and zero where zero means nothing; argparse then exits 2 with a single line naming the
option and the value. Paths are checked by ``paths.py`` before a model is loaded.
"""
from __future__ import annotations

import argparse
import math
import re

from ..core.device import DEVICES
from ..core.data.augment import CHOICES as AUGMENT_CHOICES
from ..core.latent.analogy import MAX_STRENGTHS, STRENGTH_RANGE
from ..core.latent.breeding import MAX_CHILDREN, MAX_MUTATION, MAX_PARENTS
from ..core.train_plan import DEFAULT_MAX_BATCH, DEFAULT_MINUTES, MAX_MINUTES, MAX_STEPS

MAX_SEED = 2**32 - 1
MAX_SIZE = 8192          # pixels, either side, of a Stable Diffusion-style VAE's working size
_INT = re.compile(r"\s*[+-]?\d{1,40}\s*")
_FLOAT = re.compile(r"\s*[+-]?(\d{1,40}(\.\d{0,40})?|\.\d{1,40})([eE][+-]?\d{1,5})?\s*")


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's exit code is 2 too; we keep the message to one line
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _show(s: str) -> str:
    r = repr(s)
    return r if len(r) <= 40 else r[:37] + "...'"


def whole(lo: int, hi: int):
    """A parser for whole numbers from ``lo`` to ``hi``."""
    def parse(s: str) -> int:
        if not _INT.fullmatch(s):
            raise argparse.ArgumentTypeError(f"{_show(s)} is not a whole number")
        v = int(s)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{_show(s)} is out of range: use {lo} to {hi}")
        return v
    return parse


def number(lo: float, hi: float, lo_open: bool = False):
    """A parser for finite decimal numbers from ``lo`` (excluded if ``lo_open``) to ``hi``."""
    def parse(s: str) -> float:
        if not _FLOAT.fullmatch(s):
            raise argparse.ArgumentTypeError(f"{_show(s)} is not a number")
        v = float(s)
        if not math.isfinite(v) or v < lo or v > hi or (lo_open and v == lo):
            raise argparse.ArgumentTypeError(
                f"{_show(s)} must be a finite number {'above' if lo_open else 'from'} {lo:g} "
                f"{'and at most' if lo_open else 'to'} {hi:g}")
        return v
    return parse


def _list_of(one, max_len: int, example: str):
    """A parser for comma-separated values, each parsed (and bounded) by ``one``."""
    def parse(s: str) -> list:
        parts = s.split(",")
        if not 1 <= len(parts) <= max_len:
            raise argparse.ArgumentTypeError(f"{_show(s)}: expected 1 to {max_len} numbers separated by commas")
        if any(not p.strip() for p in parts):
            raise argparse.ArgumentTypeError(f"{_show(s)} has an empty entry: write numbers such as {example}")
        try:
            return [one(p) for p in parts]
        except argparse.ArgumentTypeError as e:
            raise argparse.ArgumentTypeError(f"in {_show(s)}: {e}") from None
    return parse


def int_list(lo: int, hi: int, max_len: int):
    """A parser for comma-separated whole numbers, e.g. ``32,64``."""
    return _list_of(whole(lo, hi), max_len, "32,64")


def number_list(lo: float, hi: float, max_len: int):
    """A parser for comma-separated finite numbers from ``lo`` to ``hi``, e.g. ``0,0.5,1``."""
    return _list_of(number(lo, hi), max_len, "0,0.5,1")


def size(s: str) -> int | tuple[int, int]:
    """``--size``: pixels (``256``) or height×width (``512x768``), each 1 to MAX_SIZE."""
    parts = s.lower().replace("×", "x").split("x")
    if len(parts) > 2 or not all(_INT.fullmatch(p) for p in parts):
        raise argparse.ArgumentTypeError(f"{_show(s)} is not a size: use pixels such as 256 or 512x768")
    one = whole(1, MAX_SIZE)
    values = [one(p) for p in parts]
    return values[0] if len(values) == 1 else (values[0], values[1])


def window_size(s: str) -> tuple[int, int]:
    """WxH, each side 320..8192 px (the window's width first, as screens are named)."""
    m = re.fullmatch(r"\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*", s or "")
    if not m:
        raise argparse.ArgumentTypeError(f"{_show(s)}: give the window size as WxH, e.g. 1280x720")
    w, h = int(m.group(1)), int(m.group(2))
    if not (320 <= w <= MAX_SIZE and 240 <= h <= MAX_SIZE):
        raise argparse.ArgumentTypeError(f"{_show(s)}: each side must be 320-{MAX_SIZE} px wide and 240-{MAX_SIZE} px high")
    return w, h


def device(s: str) -> str:
    v = s.strip().lower()
    if v in DEVICES or re.fullmatch(r"cuda:\d{1,3}", v):
        return v
    raise argparse.ArgumentTypeError(f"unknown device {_show(s)}: use {', '.join(DEVICES)} or cuda:N")


def text(s: str) -> str:
    """Any non-empty string (a model spec, a dataset, a path)."""
    if not s.strip():
        raise argparse.ArgumentTypeError("an empty value is not allowed here")
    return s


SEED = whole(0, MAX_SEED)


def _add_model(p, required=True):
    p.add_argument("--model", type=text, required=required, default=None if required else "digits",
                   help="bundled name (latent-explorer models lists them), model folder, .safetensors file or hub id")
    p.add_argument("--device", type=device, default="auto", help="auto (CUDA, MPS, else CPU), cpu, cuda or mps")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"],
                   help="number format of the decoder's arithmetic (default fp32; the app: bf16 where the CPU "
                        "has bf16 units or on CUDA)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="allow .pt/.ckpt/.bin checkpoints (tensors only, weights_only=True)")
    p.add_argument("--size", type=size, default=None, metavar="PIXELS",
                   help="working image size for Stable Diffusion-style VAEs: 256 or HxW (default 256, photos-sd "
                        "128; a multiple of the model's downsampling factor, 8 for the SD VAE)")
    p.add_argument("--config", type=text, default=None, metavar="FOLDER",
                   help="folder with the config.json of a single-file VAE (default: inferred from the weights)")


def _add_export(p, animation: bool = False) -> None:
    """The export options (bounds from core/export_settings.py): ``--scale``/``--filter`` for every
    image; an animation also ``--out-size`` (instead of ``--scale``), ``--fps``, ``--ease``,
    ``--loop`` and ``--quality``. (``--size`` is the model's working size, hence ``--out-size``.)"""
    from ..core.export_settings import (EASES, FILTERS, FPS_RANGE, LOOPS, QUALITY_RANGE, SCALE_RANGE,
                                        SIZE_RANGE)

    g = p.add_mutually_exclusive_group() if animation else p
    g.add_argument("--scale", type=whole(*SCALE_RANGE), default=None, metavar="K",
                   help=f"each image K times larger ({SCALE_RANGE[0]} to {SCALE_RANGE[1]}; default: as decoded)")
    if animation:
        g.add_argument("--out-size", type=whole(*SIZE_RANGE), default=None, metavar="PIXELS",
                       help=f"each frame's longer side, {SIZE_RANGE[0]} to {SIZE_RANGE[1]} px (instead of --scale)")
    p.add_argument("--filter", choices=FILTERS, default="nearest",
                   help="resampling: nearest keeps pixels sharp (pixel art), lanczos is smooth")
    if not animation:
        return
    p.add_argument("--fps", type=whole(*FPS_RANGE), default=12,
                   help=f"frames per second, {FPS_RANGE[0]} to {FPS_RANGE[1]} (a GIF rounds each frame's delay "
                        "to 10 ms)")
    p.add_argument("--ease", choices=EASES, default="linear",
                   help="ease-in-out slows into and out of every keyframe (smoothstep)")
    p.add_argument("--loop", choices=LOOPS, default="loop",
                   help="loop forever, ping-pong (play back and forth) or play once")
    p.add_argument("--quality", type=whole(*QUALITY_RANGE), default=8,
                   help=f"MP4 quality, {QUALITY_RANGE[0]} to {QUALITY_RANGE[1]} (10 best)")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="latent-explorer", description="Explore the latent space of VAEs.")
    sub = p.add_subparsers(dest="command", parser_class=Parser)

    g = sub.add_parser("gui", help="open the desktop explorer (the default)")
    _add_model(g, required=False)
    g.add_argument("--images", type=text, help="a folder of images to encode into the map")
    g.add_argument("--collection", type=text, metavar="DIR", help="an encoded collection (latent-explorer encode "
                   "--out DIR) to map without encoding again")
    g.add_argument("--screenshot", type=text, help="save a PNG of the window once ready, then exit")
    g.add_argument("--window-size", type=window_size, metavar="WxH",
                   help="open the window at this size (e.g. 1280x720: screenshots of a laptop screen)")
    # the app's default precision is "auto": bf16 full decodes where the CPU has bf16 units (or on CUDA)
    g.set_defaults(precision=None)

    sub.add_parser("models", help="list the bundled models and their metrics")

    i = sub.add_parser("info", help="describe a model")
    _add_model(i)
    i.add_argument("--json", action="store_true", help="print one JSON object instead of the table")

    t = sub.add_parser("train", help="train a ConvVAE on a bundled dataset or a folder",
                       description="With no --epochs, --steps or --minutes it trains for about "
                                   f"{DEFAULT_MINUTES:g} minutes; several: it stops at the first reached.")
    t.add_argument("--data", type=text, required=True, help="mnist-5k, shapes, or a folder of images")
    t.add_argument("--out", type=text, default=None,
                   help="model folder (holds the best epoch, replaced atomically); default: "
                        "./<data>-b<β>-z<latent dim>, with -2, -3, … if that folder holds another run")
    t.add_argument("--latent-dim", type=whole(1, 4096), default=16, help="size of the latent z (default 16)")
    t.add_argument("--beta", type=number(0, 1e4), default=1.0, help="weight of the KL term (1: classic VAE)")
    t.add_argument("--tc-beta", type=number(0, 1e4), default=None,
                   help="β-TCVAE: weight only the total-correlation part of the KL")
    t.add_argument("--epochs", type=whole(1, 100_000), default=None, help="train for this many epochs")
    t.add_argument("--steps", type=whole(1, MAX_STEPS), default=None,
                   help="train for this many optimisation steps (counted from the run's start)")
    t.add_argument("--minutes", type=number(0, MAX_MINUTES, lo_open=True), default=None,
                   help=f"train for about this many minutes (default {DEFAULT_MINUTES:g} when no length is given)")
    t.add_argument("--image-size", type=whole(4, 1024), default=None,
                   help="side the images are resized to (default: a bundled dataset's own size; 64 for a folder)")
    t.add_argument("--batch-size", type=whole(1, 65_536), default=None,
                   help=f"default: {DEFAULT_MAX_BATCH}, or the number of training images when fewer")
    t.add_argument("--lr", type=number(0, 10, lo_open=True), default=1e-3, help="Adam's learning rate (default 0.001)")
    t.add_argument("--seed", type=SEED, default=0, help="seed of the weights, batches and ε (same seed: same run)")
    t.add_argument("--augment", nargs="?", choices=AUGMENT_CHOICES, const="on", default="auto", metavar="KIND",
                   help="auto (default: folders under 2,000 images), on, off, affine (digits: small shifts, "
                        "rotations, zoom) or photo (flips, crops, colour jitter); --augment alone: on, the "
                        "kind suited to the data")
    t.add_argument("--kl-warmup", type=whole(0, 100_000), default=0, metavar="EPOCHS",
                   help="ramp β up from 0 over EPOCHS")
    t.add_argument("--hidden-channels", type=int_list(1, 1024, 6), default=None, help="comma-separated, e.g. 32,64")
    t.add_argument("--decoder", choices=["deconv", "broadcast"], default="deconv",
                   help="broadcast: spatial broadcast decoder (better disentangled positions)")
    t.add_argument("--limit", type=whole(1, 10**9), default=None, help="use only the first N training images")
    t.add_argument("--device", type=device, default="auto", help="auto (CUDA, MPS, else CPU), cpu, cuda or mps")
    t.add_argument("--resume", action="store_true", help="continue from the kept (best) epoch in --out")
    t.add_argument("--overwrite", action="store_true", help="replace the model already in --out")

    e = sub.add_parser("encode", help="encode a folder of images to an .npz of latents, or to a collection folder")
    _add_model(e)
    e.add_argument("--images", type=text, required=True, metavar="DIR", help="the folder of images to encode")
    e.add_argument("--out", type=text, required=True,
                   help="FILE.npz, or a FOLDER: a collection (Parquet shards + manifest; a re-run resumes)")
    e.add_argument("--shard-size", type=whole(16, 65_536), default=1024, metavar="N",
                   help="a collection's images per shard (at most one shard's images are in memory)")
    e.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="ray: encode a collection on Ray Data (pip install -e '.[cluster]')")
    e.add_argument("--address", type=text, default=None, metavar="ADDR",
                   help="with --engine ray: join this Ray cluster (default: start a local Ray)")

    s = sub.add_parser("sample", help="decode random latents from the prior into a PNG grid")
    _add_model(s)
    s.add_argument("-n", type=whole(1, 1024), default=64, help="how many samples (default 64)")
    s.add_argument("--seed", type=SEED, default=0, help="seed of the latents drawn from N(0, I)")
    s.add_argument("--temperature", type=number(0, 100), default=1.0,
                   help="z = T·ε: below 1 stays nearer the prior's centre (default 1)")
    s.add_argument("--out", type=text, required=True, metavar="FILE.png", help="the grid, with its recipe")
    _add_export(s)

    r = sub.add_parser("reconstruct", help="encode and decode images; writes originals beside reconstructions")
    _add_model(r)
    r.add_argument("images", nargs="+", type=text, metavar="IMAGE", help="image files")
    r.add_argument("--out", type=text, required=True, metavar="DIR",
                   help="a folder: NAME_recon.png per image, the original beside its reconstruction")
    _add_export(r)

    tr = sub.add_parser("traverse", help="a traversal grid: one row per latent dimension")
    _add_model(tr)
    tr.add_argument("--image", type=text, help="start from this image's μ (default: a latent drawn with --seed)")
    tr.add_argument("--seed", type=SEED, default=0, help="seed of the start latent when there is no --image")
    tr.add_argument("--steps", type=whole(1, 256), default=9, help="images per row (default 9)")
    tr.add_argument("--range", type=number(0, 100), default=None, dest="range_",
                    help="each dimension from −RANGE to +RANGE (default 3), or the direction's strengths (default 1.5)")
    tr.add_argument("--direction", type=text, default=None, metavar="FILE.json",
                    help="walk along a saved direction (from `direction` or the app) instead of each dimension")
    tr.add_argument("--out", type=text, required=True, metavar="FILE.png", help="the grid, with its recipe")
    _add_export(tr)

    m = sub.add_parser("morph", help="morph through images A B [C ...] in order (GIF, MP4 or PNG strip)")
    _add_model(m)
    m.add_argument("images", nargs="+", metavar="IMAGE", type=text, help="two or more image files, in order")
    m.add_argument("--frames", type=whole(2, 2000), default=16,
                   help="frames in all (before ping-pong), spread evenly over the segments; each image is one")
    m.add_argument("--method", choices=["slerp", "lerp"], default="slerp",
                   help="slerp follows the sphere the prior's samples live near (default); lerp: straight lines")
    m.add_argument("--close", action="store_true", help="end on the first image again (A → B → … → A)")
    m.add_argument("--out", type=text, required=True, metavar="FILE", help=".gif, .mp4 or .png (a strip)")
    _add_export(m, animation=True)

    ev = sub.add_parser("evaluate", help="test-split metrics (ELBO, KL per dim, active dims, MIG)")
    _add_model(ev)
    ev.add_argument("--data", type=text, default=None, help="mnist-5k, shapes or a folder (default: the model's own)")
    ev.add_argument("--json", action="store_true", help="print one JSON object instead of the table")

    x = sub.add_parser("explain", help="one image's posterior μ, log σ² and its ELBO split (reconstruction + KL)")
    _add_model(x)
    x.add_argument("image", metavar="IMAGE", type=text, help="an image file")
    x.add_argument("--samples", type=whole(1, 256), default=None, metavar="K",
                   help="also draw K latents z = μ + σ·ε from the posterior and save their decodes as a PNG grid")
    x.add_argument("--seed", type=SEED, default=0, help="seed of the posterior samples' ε")
    x.add_argument("--out", type=text, default=None, metavar="DIR",
                   help="folder for IMAGE-posterior-samples.png (default: the current folder)")
    x.add_argument("--json", action="store_true", help="print one JSON object instead of the table")

    an = sub.add_parser("analogy", help="A is to B as C is to ?: decode C + s·(B − A) into a PNG grid",
                        description="Row 1: A, B, C; row 2: the decodes of C + s·(B − A), one per strength, "
                                    "left to right (posterior means; the recipe is in the PNG).")
    _add_model(an)
    for name, role in (("A", "the start of the offset"), ("B", "its end: B − A is added to C"),
                       ("C", "the image the offset is applied to")):
        an.add_argument(f"image_{name.lower()}", metavar=name, type=text, help=role)
    an.add_argument("--strengths", type=number_list(*STRENGTH_RANGE, MAX_STRENGTHS), default=[0.0, 0.5, 1.0, 1.5],
                    metavar="S,S,...", help=f"1 to {MAX_STRENGTHS} comma-separated strengths, each "
                    f"{STRENGTH_RANGE[0]:g} to {STRENGTH_RANGE[1]:g} (default 0,0.5,1,1.5; 1 is the plain analogy)")
    an.add_argument("--out", type=text, required=True, metavar="FILE.png", help="the grid, with its recipe")
    _add_export(an)

    di = sub.add_parser("direction", help="the latent direction from one group of images to another, as JSON",
                        description="GROUP is label:N or factor:NAME=VALUE (rows of --data), a folder, or image "
                                    "files. The direction is the difference of the groups' mean latents (or a "
                                    "linear classifier's normal); strength 1 moves the first group's mean onto the "
                                    "second's. Use it with `traverse --direction` or in the app (Directions).")
    _add_model(di)
    di.add_argument("--from", dest="from_", nargs="+", type=text, required=True, metavar="GROUP",
                    help="where the direction starts (strength 0)")
    di.add_argument("--to", nargs="+", type=text, required=True, metavar="GROUP",
                    help="where strength 1 arrives")
    di.add_argument("--method", choices=["mean", "classifier"], default="mean",
                    help="mean: difference of the means (default); classifier: a logistic regression's normal, "
                         "sharper when the groups overlap")
    di.add_argument("--name", type=text, default=None, help="what the direction is called (default: FROM → TO)")
    di.add_argument("--data", type=text, default=None, help="mnist-5k, shapes or a folder for label:/factor: "
                                                             "groups (default: the model's own)")
    di.add_argument("--out", type=text, required=True, metavar="FILE.json", help="where the direction is written")
    di.add_argument("--json", action="store_true", help="also print one JSON line (name, length, group sizes)")

    br = sub.add_parser("breed", help="breed children of 2 to 6 images (the app's Breed) into PNGs with their lineage",
                        description="Each child is a random blend of its parents (weights from its own seed, "
                                    "summing to 1) plus --mutation σ of noise, made by the app's own code. DIR gets "
                                    "child-gG-K.png (its recipe replays the lineage), genG.png contact sheets and "
                                    "tree.json. With no images, --pick continues the family in --out.")
    _add_model(br)
    br.add_argument("parents", nargs="*", metavar="PARENT", type=text,
                    help="2 to 6 images (none: continue the family in --out)")
    br.add_argument("--children", type=whole(1, MAX_CHILDREN), default=8, metavar="N",
                    help=f"children per generation, 1 to {MAX_CHILDREN} (default 8)")
    br.add_argument("--mutation", type=number(0, MAX_MUTATION), default=0.2, metavar="M",
                    help=f"noise added to each child, in σ of the prior, 0 to {MAX_MUTATION:g} (default 0.2)")
    br.add_argument("--seed", type=SEED, default=None, metavar="S",
                    help="the first child's seed, each next child's one more (default 0; continuing: "
                         "one past the family's last)")
    br.add_argument("--generations", type=whole(1, 100), default=1, metavar="G",
                    help="breed G generations, each from the --pick children of the one before")
    br.add_argument("--pick", type=int_list(1, MAX_CHILDREN, MAX_PARENTS), default=None, metavar="K,K,...",
                    help="which children (their numbers on the contact sheet) breed on: of the last "
                         "generation in --out, or of each new one with --generations")
    br.add_argument("--out", type=text, required=True, metavar="DIR",
                    help="the family's folder: one PNG per child (with its lineage), a contact sheet per "
                         "generation and tree.json")
    _add_export(br)

    sv = sub.add_parser("serve", help="the classroom: the explorer in every student's browser, offline, from "
                                      "this computer (needs the classroom extra)")
    _add_model(sv, required=False)
    sv.add_argument("--host", type=text, default="127.0.0.1",
                    help="where to listen: 127.0.0.1 (this computer only, the default) or 0.0.0.0 (the "
                         "class's network: anyone on it can open the page)")
    sv.add_argument("--port", type=whole(0, 65535), default=7860, help="the port (0: any free one)")
    sv.add_argument("--lab", action="store_true", help="open the students' pages on the guided lab")
    sv.add_argument("--projection", choices=("pca", "tsne", "umap"), default=None,
                    help="the map's layout (default: the model's)")

    il = sub.add_parser("install-launcher", help="add the app to the desktop's application menu (a freedesktop "
                                                 ".desktop entry in $XDG_DATA_HOME/applications)")
    il.add_argument("--remove", action="store_true", help="remove the entry instead")
    return p
