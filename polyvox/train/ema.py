"""An exponential moving average of a module's weights, as F5-TTS and HiFi-GAN-style vocoders evaluate and ship.

    ema = WeightAverage(model.generator, decay=0.999)
    ema.update()                      # after each optimizer step: avg <- decay * avg + (1 - decay) * weights
    with ema.swapped_in():            # evaluate / save with the averaged weights, then the trained ones come back
        evaluate(model)

Kept as fp32 copies of the floating parameters and buffers (integer buffers are the module's own), so a
checkpoint's ``ema.safetensors`` restores it exactly. The first update copies the weights (no bias towards init).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


class WeightAverage:
    def __init__(self, module: torch.nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.module, self.decay, self.updates = module, float(decay), 0
        self.average = {k: v.detach().float().clone() for k, v in self._tracked().items()}

    def _tracked(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.module.state_dict(keep_vars=True).items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self) -> None:
        weight = 1.0 if self.updates == 0 else 1.0 - self.decay
        for name, value in self._tracked().items():
            self.average[name].lerp_(value.detach().float(), weight)
        self.updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged tensors under the module's own names (what ``ema.safetensors`` holds)."""
        return {k: v.detach().cpu().contiguous() for k, v in self.average.items()}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], updates: int) -> None:
        missing = sorted(set(self.average) - set(tensors))
        if missing:
            raise KeyError(f"EMA state lacks {missing[:5]}")
        for k, v in tensors.items():
            self.average[k].copy_(v)
        self.updates = int(updates)

    @torch.no_grad()
    def copy_to_module(self) -> None:
        """Put the averaged weights into the module (for good; :meth:`swapped_in` for a while)."""
        for k, v in self._tracked().items():
            v.copy_(self.average[k].to(v.dtype))

    @contextmanager
    def swapped_in(self):
        """The module holds the averaged weights inside the block, its own again after it (also on errors)."""
        tracked = self._tracked()
        saved = {k: v.detach().clone() for k, v in tracked.items()}
        self.copy_to_module()
        try:
            yield self.module
        finally:
            with torch.no_grad():
                for k, v in tracked.items():
                    v.copy_(saved[k])
