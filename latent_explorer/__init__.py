"""latent-explorer: explore the latent space of Variational Autoencoders.

    import latent_explorer as lx
    m = lx.load_model("digits")
    mean, logvar = m.encode(images)   # uint8 N×H×W×C -> float32 N×*latent_shape
    images = m.decode(mean)           # and back
"""
__version__ = "0.1.0"


def load_model(spec: str = "digits", device: str = "auto", precision: str = "fp32", **kwargs):
    """Load a model by spec (bundled name, folder, .safetensors file or hub id)."""
    from .core.models.loading import load_model as _load

    return _load(spec, device=device, precision=precision, **kwargs)


def __getattr__(name):
    if name == "LatentModel":
        from .core.models.base import LatentModel

        return LatentModel
    raise AttributeError(name)


__all__ = ["load_model", "LatentModel", "__version__"]
