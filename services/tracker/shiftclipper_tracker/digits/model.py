"""The jersey-digit CNN (torch; used for training and ONNX export only, never at run time).

Factorised heads: "how many digits" (none / one / two), the digit of a one-digit number, and the two
digits of a two-digit number. Position-aware (flattened 4x4 map, no global pooling) so the tens and
units heads can tell left from right. `forward` returns the exact log-posterior over the 110 numbers
plus "none" (the run-time wrapper needs nothing else): log P(len) + log P(digits | len).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _block(c_in: int, c_out: int, stride: int = 1, k: int = 3) -> list[nn.Module]:
    conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False)
    return [conv, nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class DigitNet(nn.Module):
    """1 x 64 x 64 normalised grey window -> N x 111 log-probabilities (CANDIDATES order, then none).

    The first layer strides by 2: on 2 CPU cores full-resolution layers cost most of the training time,
    and a 5x5 kernel at stride 2 still sees every pixel of 3-5 px digit strokes."""

    def __init__(self, width: int = 16, hidden: int = 128) -> None:
        super().__init__()
        c1, c2, c3 = width * 3 // 4, width, width * 2
        self.features = nn.Sequential(
            *_block(1, c1, stride=2, k=5),  # 32
            *_block(c1, c2),
            nn.MaxPool2d(2),  # 16
            *_block(c2, c3),
            *_block(c3, c3),
            nn.MaxPool2d(2),  # 8
            *_block(c3, c3 + c2),
            nn.MaxPool2d(2),  # 4
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear((c3 + c2) * 16, hidden), nn.ReLU(True))
        self.count = nn.Linear(hidden, 3)
        self.single = nn.Linear(hidden, 10)
        self.tens = nn.Linear(hidden, 10)
        self.units = nn.Linear(hidden, 10)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Raw logits of the four heads (training loss works on these)."""
        z = self.fc(self.features(x))
        return self.count(z), self.single(z), self.tens(z), self.units(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        count, single, tens, units = (F.log_softmax(h, dim=1) for h in self.heads(x))
        one = count[:, 1:2] + single
        two = count[:, 2:3] + (tens[:, :, None] + units[:, None, :]).reshape(-1, 100)
        return torch.cat([one, two, count[:, 0:1]], dim=1)  # N x N_OUT


def head_targets(labels: list[str]) -> torch.Tensor:
    """N x 4 int64 targets (count, single, tens, units); -100 where a head does not apply (ignored)."""
    rows = []
    for s in labels:
        if not s:
            rows.append((0, -100, -100, -100))
        elif len(s) == 1:
            rows.append((1, int(s), -100, -100))
        else:
            rows.append((2, -100, int(s[0]), int(s[1])))
    return torch.tensor(rows, dtype=torch.int64)


def loss_fn(model: DigitNet, x: torch.Tensor, y: torch.Tensor, smoothing: float = 0.05) -> torch.Tensor:
    """Sum of the heads' cross-entropies (label smoothing keeps the posteriors from saturating)."""
    logits = model.heads(x)
    total = x.new_zeros(())
    for k, lg in enumerate(logits):
        mask = y[:, k] >= 0
        if mask.any():
            total = total + F.cross_entropy(lg[mask], y[mask, k], label_smoothing=smoothing)
    return total
