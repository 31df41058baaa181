"""ConvVAE: the project's own convolutional (β-)VAE.

Encoder: a stack of stride-2 convolutions, then a fully connected layer that outputs a mean
μ and a log-variance log σ² per latent dimension. A latent is drawn with the
reparameterisation z = μ + σ·ε, ε ~ N(0, I), so gradients flow through μ and σ. The decoder
mirrors the encoder with transposed convolutions and outputs per-pixel logits.

Likelihood: every pixel value in [0, 1] is scored with binary cross-entropy against the
decoder's logits (a continuous Bernoulli-style likelihood without its normaliser, as in the
original VAE paper's MNIST experiments and in disentanglement_lib). We use it for colour
images too: it is simple, needs no variance to tune, and keeps the numbers comparable with
the classic VAE literature. Losses are in nats per image.

Every constructor argument is recorded in ``config`` and saved to ``config.json``. A config that
asks for an absurd architecture (``checks.check_convvae_config``) is refused with a one-line
``ConfigError`` before any tensor is allocated.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .checks import ConfigError, check_convvae_config


@dataclass
class ConvVAEConfig:
    image_size: int = 28
    channels: int = 1
    latent_dim: int = 16
    hidden_channels: list[int] = field(default_factory=lambda: [32, 64])
    fc_dim: int = 256
    beta: float = 1.0
    # β-TCVAE: weight of the total-correlation term instead of β on the whole KL (None: plain β-VAE)
    tc_beta: float | None = None
    dataset_size: int = 0  # for β-TCVAE's minibatch-weighted sampling estimate
    # "deconv": fully connected layers, then transposed convolutions (the classic decoder).
    # "broadcast": a spatial broadcast decoder (Watters et al. 2019): z is tiled over a
    # quarter-resolution grid with x/y coordinate channels, convolved, then upsampled. Position
    # factors then need only one latent dimension each, which helps disentanglement.
    decoder: str = "deconv"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ConvVAEConfig":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known - {"_class_name", "_format"})
        if unknown:
            raise ConfigError(f"unknown ConvVAE config keys: {', '.join(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class VAELoss:
    """One batch's loss, per image, in nats."""

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    kl_per_dim: torch.Tensor


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per dimension, closed form: −½ (1 + log σ² − μ² − σ²)."""
    return -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp())


class ConvVAE(nn.Module):
    def __init__(self, config: ConvVAEConfig | None = None, **kwargs):
        super().__init__()
        self.config = config or ConvVAEConfig(**kwargs)
        c = self.config
        check_convvae_config(asdict(c), "ConvVAE config")  # before a single weight is allocated
        levels = len(c.hidden_channels)
        if c.image_size % (2**levels):
            raise ValueError(f"image_size {c.image_size} must be divisible by 2**{levels}")
        self.base = c.image_size // 2**levels
        enc, prev = [], c.channels
        for ch in c.hidden_channels:
            enc += [nn.Conv2d(prev, ch, 4, 2, 1), nn.LeakyReLU(0.1)]
            prev = ch
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        flat = prev * self.base * self.base
        self.enc_fc = nn.Sequential(nn.Linear(flat, c.fc_dim), nn.LeakyReLU(0.1))
        self.to_stats = nn.Linear(c.fc_dim, 2 * c.latent_dim)
        if c.decoder == "broadcast":
            self._build_broadcast_decoder()
            return
        if c.decoder != "deconv":
            raise ValueError(f"unknown decoder {c.decoder!r}: use deconv or broadcast")
        self.dec_fc = nn.Sequential(
            nn.Linear(c.latent_dim, c.fc_dim), nn.LeakyReLU(0.1),
            nn.Linear(c.fc_dim, flat), nn.LeakyReLU(0.1),
        )
        dec, rev = [], list(reversed(c.hidden_channels))
        for i, ch in enumerate(rev):
            out = rev[i + 1] if i + 1 < len(rev) else c.channels
            dec.append(nn.ConvTranspose2d(ch, out, 4, 2, 1))
            if i + 1 < len(rev):
                dec.append(nn.LeakyReLU(0.1))
        self.decoder = nn.Sequential(*dec)

    def _build_broadcast_decoder(self):
        c = self.config
        self.grid = c.image_size // 4
        ch = c.hidden_channels[0]
        lin = torch.linspace(-1, 1, self.grid)
        yy, xx = torch.meshgrid(lin, lin, indexing="ij")
        self.register_buffer("coords", torch.stack([xx, yy])[None], persistent=False)
        self.decoder = nn.Sequential(
            nn.Conv2d(c.latent_dim + 2, ch, 3, 1, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(ch, ch, 3, 1, 1), nn.LeakyReLU(0.1),
            nn.ConvTranspose2d(ch, ch, 4, 2, 1), nn.LeakyReLU(0.1),
            nn.ConvTranspose2d(ch, c.channels, 4, 2, 1),
        )

    # -- the three parts of a VAE -------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: N×C×H×W in [0, 1] -> (μ, log σ²), each N×latent_dim."""
        h = self.enc_fc(self.encoder(x))
        mu, logvar = self.to_stats(h).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    @staticmethod
    def reparameterize(mu, logvar, generator: torch.Generator | None = None):
        """z = μ + σ·ε with ε ~ N(0, I): the sample is differentiable in μ and σ."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + (0.5 * logvar).exp() * eps

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.decoder == "broadcast":
            n, g = z.shape[0], self.grid
            tiled = z[:, :, None, None].expand(n, c.latent_dim, g, g)
            return self.decoder(torch.cat([tiled, self.coords.expand(n, 2, g, g).to(z.dtype)], 1))
        h = self.dec_fc(z).view(-1, c.hidden_channels[-1], self.base, self.base)
        return self.decoder(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z -> images in [0, 1], N×C×H×W."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x, generator=None):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        return self.decode_logits(z), mu, logvar, z

    # -- the objective -------------------------------------------------------------------
    def loss(self, x: torch.Tensor, target: torch.Tensor | None = None, beta: float | None = None,
             generator: torch.Generator | None = None) -> VAELoss:
        """Negative ELBO terms per image, in nats; ``total`` is the training objective.

        With ``beta`` (default: the config's) the objective is recon + β·KL. With the
        config's ``tc_beta`` set, the KL is split as in β-TCVAE into index-code mutual
        information, total correlation and dimension-wise KL, and only the total
        correlation is weighted by ``tc_beta`` (the other two by 1).
        """
        target = x if target is None else target
        logits, mu, logvar, z = self(x, generator)
        recon = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)
        kld = kl_per_dim(mu, logvar)
        kl = kld.sum(1)
        beta = self.config.beta if beta is None else beta
        if self.config.tc_beta is not None and self.training:
            mi, tc, dwkl = _tc_decomposition(z, mu, logvar, max(self.config.dataset_size, len(x)))
            total = recon + mi + self.config.tc_beta * tc + dwkl
        else:
            total = recon + beta * kl
        return VAELoss(total=total, recon=recon, kl=kl, kl_per_dim=kld)


def _log_normal(z, mu, logvar):
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) / logvar.exp())


def _tc_decomposition(z, mu, logvar, dataset_size):
    """β-TCVAE's minibatch-weighted-sampling estimates (Chen et al. 2018), per image."""
    n = z.shape[0]
    # log q(z_i | x_j) for every pair, per dimension: n × n × d
    mat = _log_normal(z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0))
    log_nm = math.log(n * dataset_size)
    log_qz = torch.logsumexp(mat.sum(2), dim=1) - log_nm
    log_qz_prod = (torch.logsumexp(mat, dim=1) - log_nm).sum(1)
    log_qz_x = _log_normal(z, mu, logvar).sum(1)
    log_pz = _log_normal(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    mi = log_qz_x - log_qz
    tc = log_qz - log_qz_prod
    dwkl = log_qz_prod - log_pz
    return mi, tc, dwkl
