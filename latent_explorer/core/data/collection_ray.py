"""The collection encoder on Ray Data: the same shards as ``collection.encode_collection``, from a cluster.

The shards still to do (finished ones are kept, as locally) become a Ray dataset of one row per
shard; ``map_batches`` sends them to a pool of ``ShardEncoder`` actors, each of which loads the
model once and writes its shards with ``collection.encode_shard`` (so the files are the local
engine's, byte for byte in their latents), asking for a GPU each when the cluster has GPUs.
With no address a local Ray is started (and stopped again) whose workers import this very copy
of latent_explorer; with one, the job joins that cluster (every node then needs
latent-explorer installed and the image folder and the output folder at the same paths, e.g.
on a shared file system). Needs the optional extra ``cluster`` (``ray[data]``). No Qt.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import UserError
from . import collection as col


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[3])


def _quiet_ray() -> dict:
    """Ray's and Ray Data's INFO lines (start-up, execution plans, progress tables) stay in Ray's
    own log folder: the command prints its own progress and result. Warnings still show."""
    import logging

    import ray.data  # noqa: F401  (it sets its loggers up on import: lower them after)

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return dict(log_to_driver=False, logging_level=logging.WARNING)


def start_local_ray(num_cpus: int | None = None) -> None:
    """A local Ray whose workers import the same latent_explorer as this process."""
    import ray

    ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": _package_root()}},
             **_quiet_ray())


#: HTTP/2's client preface and an empty SETTINGS frame: Ray's GCS and its client server speak gRPC
_H2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def check_address(address: str, timeout: float = 4.0) -> None:
    """A HOST:PORT (or ray://HOST:PORT) address must answer as a Ray service does (gRPC: an HTTP/2
    SETTINGS frame) within a few seconds: ``ray.init`` itself retries for minutes against anything
    else. A ``UserError`` of one line otherwise."""
    import socket

    hostport = address.split("://", 1)[-1]
    if address == "auto" or ":" not in hostport:
        return
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_H2_HELLO)
            reply = b""
            while len(reply) < 9:
                part = sock.recv(9 - len(reply))
                if not part:
                    break
                reply += part
    except socket.timeout:
        raise UserError(f"--address {address}: something listens there but does not answer as Ray does "
                        f"(no reply in {timeout:g} s); give the address of a Ray head node (HOST:6379)") from None
    except (OSError, ValueError) as e:
        raise UserError(f"--address {address}: no Ray cluster answers there ({getattr(e, 'strerror', None) or e})"
                        ) from None
    if len(reply) < 9 or reply[3] != 0x04:  # not an HTTP/2 SETTINGS frame (a web server says "HTTP/1.1 400")
        raise UserError(f"--address {address}: that is not a Ray service (it does not speak gRPC); give the "
                        "address of a Ray head node (HOST:6379)")


class ShardEncoder:
    """A Ray actor: the model, loaded once; each batch of shard descriptors is encoded and written."""

    def __init__(self, load: dict, folder: str, out: str, hash_: str):
        from ..models.loading import load_model

        self.model = load_model(**load)
        self.folder, self.out, self.hash = folder, out, hash_

    def __call__(self, batch: dict) -> dict:
        import json

        import numpy as np

        entries = [col.encode_shard(self.model, self.folder, self.out, int(k), [str(f) for f in files], self.hash)
                   for k, files in zip(batch["shard"], batch["files"])]
        return {"shard": np.asarray(batch["shard"]), "entry": np.array([json.dumps(e) for e in entries])}


def encode_collection_ray(load: dict, folder: str | Path, out: str | Path, shard_size: int = col.SHARD_SIZE,
                          address: str | None = None, actors: int | None = None,
                          progress: Callable[[int, int, int], None] | None = None,
                          note: Callable[[str], None] | None = None) -> dict:
    """``encode_collection`` on Ray Data; ``load`` holds ``load_model``'s arguments (each actor loads it).
    Holds ``out``'s writer lock, as the local engine does."""
    try:
        import ray
    except ImportError:
        raise UserError("--engine ray needs Ray: pip install -e '.[cluster]'") from None
    from ..models.loading import load_model

    if address and not ray.is_initialized():
        check_address(address)  # before the model loads: something that is not Ray is refused in seconds
    folder, out = str(Path(folder).resolve()), str(Path(out).resolve())
    files = col.list_files(folder)
    if not files:
        raise UserError(f"{folder}: no image files in this folder")
    model = load_model(**load)  # for its hash and shapes; the actors load their own
    hash_ = col.model_hash(model)
    col.check_resumable(out, hash_, folder)
    with col.folder_lock(out, "a collection"):
        return _encode_locked(ray, model, load, folder, out, files, hash_, shard_size, address, actors, progress,
                              note)


def _encode_locked(ray, model, load, folder, out, files, hash_, shard_size, address, actors, progress, note):
    import json

    col.clean_leftovers(out)
    sums = col.old_checksums(out)
    plan = col.plan_shards(files, shard_size)
    entries = {}
    for k, chunk in plan:
        entries[k], why = col.shard_state(out, k, chunk, hash_, folder, sums.get(col.shard_name(k)))
        if why and note:
            note(f"{Path(out) / col.shard_name(k)}: {why}; encoding it again")
    todo = [(k, chunk) for k, chunk in plan if entries[k] is None]
    reused = len(plan) - len(todo)

    def manifest() -> dict:
        return col._manifest(model, folder, hash_, shard_size, len(files), [entries[k] for k, _ in plan
                                                                              if entries[k] is not None])

    started = not ray.is_initialized()
    if started and address:
        try:
            ray.init(address=address, **_quiet_ray())
        except Exception as e:  # an unreachable or refused cluster: one line
            raise UserError(f"--address {address}: cannot join the Ray cluster ({str(e).splitlines()[0]})") from None
    elif started:
        start_local_ray()
    try:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if todo:
            pool = actors or max(1, min(len(todo), gpus or cpus))
            ds = ray.data.from_items([{"shard": k, "files": chunk} for k, chunk in todo])
            ray.data.DataContext.get_current().enable_progress_bars = False  # the command shows its own
            ds = ds.map_batches(ShardEncoder, batch_size=1, compute=ray.data.ActorPoolStrategy(size=pool),
                                num_gpus=1 if gpus else 0,
                                num_cpus=0 if gpus else 1, fn_constructor_kwargs=dict(load=load, folder=folder,
                                                                                       out=out, hash_=hash_))
            for done, row in enumerate(ds.iter_rows(), 1):
                entries[int(row["shard"])] = json.loads(row["entry"])
                col.write_manifest(out, manifest())  # each shard's checksum kept as it comes: a kill resumes
                if progress:
                    progress(reused + done, len(plan), reused)
    finally:
        if started:
            ray.shutdown()
    m = manifest()
    col.write_manifest(out, m)
    return m
