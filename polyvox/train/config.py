"""YAML configs <-> typed dataclasses.

A config is a (nested) dataclass. :func:`load_config` builds one from a YAML file plus
``key=value`` overrides and checks every value against the dataclass annotations, so a typo
or a wrong type fails at start-up with a message naming the key, not an hour into training.

YAML files are read with ``yaml.safe_load`` only: a config holds data, it never builds objects
or runs code. A file may start with ``base: other.yaml`` (a path relative to itself) to be a
small overlay on another config; mappings are merged recursively, everything else is replaced.
Per-language or per-size variants are overlays, never copies.

Two top-level keys are meta keys, not fields: ``base`` (above) and ``recipe`` (which recipe
script ``polyvox train`` runs); ``recipe`` is passed on to the dataclass only if it has such
a field.

Overrides are ``dotted.key=value`` strings; the value is parsed by ``yaml.safe_load``, so
``train.lr=3e-4``, ``data.langs=[en,es]``, ``train.max_epochs=null`` all work. (YAML 1.1 reads
``3e-4`` without a dot as a string; float fields accept such scientific-notation strings.)
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Literal, Optional, Union

import yaml

META_KEYS = ("base", "recipe")
_SCI_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file and the key path."""


# ----------------------------------------------------------------------------------------------
# The training-loop config every recipe embeds (usually as its ``train:`` section).


@dataclasses.dataclass
class TrainConfig:
    """Settings of :func:`polyvox.train.loop.fit`. Steps count optimizer updates."""

    max_steps: int = 1000  # 0 = bounded by max_epochs only
    max_epochs: Optional[int] = None  # passes over the train loader; None = bounded by max_steps only
    lr: float = 1e-3
    weight_decay: float = 0.01  # applied to matrices only, not to biases / norm gains
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = 0
    schedule: Literal["linear", "cosine", "constant"] = "linear"  # decay after warmup
    grad_clip: float = 1.0  # max global grad norm; 0 = off
    grad_accum: int = 1  # micro-batches per optimizer step
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"  # auto: bf16 on CUDA if supported, else fp32
    eval_every: int = 0  # steps between evaluate() calls; 0 = only at the end
    save_every: int = 0  # steps between checkpoints; 0 = only at the end (and at each new best)
    keep_last: int = 2  # most recent checkpoints kept
    keep_best: int = 1  # best checkpoints (by best_metric) kept; the best one is never deleted
    best_metric: Optional[str] = None  # e.g. "dev/per"; a key of evaluate()'s dict
    best_mode: Literal["min", "max"] = "min"
    early_stop_patience: int = 0  # evaluations without improvement before stopping; 0 = off
    log_every: int = 10  # steps between metrics.jsonl / TensorBoard rows
    seed: int = 0
    cpu: bool = False  # force CPU even if CUDA is present
    # A non-finite loss (a corrupt clip, an unstable filter, a diverging run): that step's update is skipped and
    # its batch ids logged; this many in a row stop the run with an error. 0 = no check (saves a host sync per step).
    nonfinite_patience: int = 10
    # Exponential moving average of the weights (F5-TTS, vocoders): evaluate() sees the averaged weights, and
    # checkpoints hold them in ema.safetensors. 0 = off; ema_of names a submodule ("generator"), "" = the whole model.
    ema_decay: float = 0.0
    ema_of: str = ""
    # torch's fused AdamW kernel: a third off a small model's step on CPU (per-parameter loops dominate there); it
    # rounds differently, so a run made with false reproduces exactly only with false.
    fused_optimizer: bool = False

    def __post_init__(self):
        checks = {
            "max_steps": self.max_steps >= 0,
            "grad_accum": self.grad_accum >= 1,
            "lr": self.lr > 0,
            "warmup_steps": self.warmup_steps >= 0,
            "keep_last": self.keep_last >= 1,
            "keep_best": self.keep_best >= 0,
            "log_every": self.log_every >= 1,
            "eval_every": self.eval_every >= 0,
            "save_every": self.save_every >= 0,
            "early_stop_patience": self.early_stop_patience >= 0,
            "nonfinite_patience": self.nonfinite_patience >= 0,
            "ema_decay": 0.0 <= self.ema_decay < 1.0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"train.{name}: invalid value {getattr(self, name)!r}")
        if self.max_steps == 0 and not self.max_epochs:
            raise ConfigError("train: set max_steps > 0 or max_epochs (both are 0/None)")
        if self.early_stop_patience and not self.best_metric:
            raise ConfigError("train.early_stop_patience needs train.best_metric (e.g. 'dev/per')")


# ----------------------------------------------------------------------------------------------
# YAML reading with `base:` overlays and dotted overrides.


def read_yaml(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """Read a YAML mapping, resolving ``base:`` chains (relative to each file) recursively."""
    path = Path(path).resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise ConfigError(f"{path}: circular 'base' chain: {chain}")
    if not path.is_file():
        where = f" (base of {_seen[-1]})" if _seen else ""
        raise ConfigError(f"{path}: config file not found{where}")
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: 'base' must be a path string, got {base!r}")
    return merge(read_yaml(path.parent / base, (*_seen, path)), data)


def merge(base: dict, overlay: dict) -> dict:
    """Recursive merge: mappings merge key by key, any other value in ``overlay`` replaces."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=3e-4"`` -> (["train", "lr"], 0.0003). The value is parsed by yaml.safe_load."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r}: expected key=value, e.g. train.lr=3e-4")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"override {text!r}: value is not valid YAML: {e}") from None
    return key.split("."), value


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    """Return a copy of ``data`` with each ``dotted.key=value`` set (creating sections as needed)."""
    data = merge({}, data)
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for i, k in enumerate(keys[:-1]):
            child = node.get(k)
            if child is None:
                child = node[k] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: '{'.'.join(keys[: i + 1])}' is not a section")
            else:
                child = node[k] = dict(child)
            node = child
        node[keys[-1]] = value
    return data


# ----------------------------------------------------------------------------------------------
# dict -> dataclass with type checks.


def from_dict(cls: type, data: Any, path: str = "") -> Any:
    """Build dataclass ``cls`` from a plain mapping, checking keys and types.

    ``path`` is the dotted key prefix used in error messages."""
    where = path or "<top level>"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {_show(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    data = dict(data)
    if not path:  # meta keys live at the top level only
        data.pop("base", None)
        if "recipe" not in fields:
            data.pop("recipe", None)
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ConfigError(
            f"{_join(path, str(unknown[0]))}: unknown key; valid keys in {where}: {', '.join(fields)}"
        )
    kwargs = {}
    for name, f in fields.items():
        key = _join(path, name)
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: missing required key ({_type_name(hints[name])})")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against annotation ``tp`` and convert (list->tuple, int->float, dict->dataclass)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin is Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # Optional[X]: X's own, more precise error
            return _convert(value, options[0], key)
        for arg in options:
            try:
                return _convert(value, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_show(value)}")
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):  # so True never matches 1
            return value
        raise ConfigError(f"{key}: {value!r} is not allowed; choose one of {', '.join(map(repr, args))}")
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_show(value)}")
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise ConfigError(f"{key}: expected {_type_name(tp)} ({len(args)} items), got {_show(value)}")
            return tuple(_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        items = [_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or tp) is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_show(value)}")
        kt, vt = args if args else (Any, Any)
        return {_convert(k, kt, key): _convert(v, vt, f"{key}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)  # int -> float promotion: `lr: 1` is fine
        if isinstance(value, str) and _SCI_FLOAT.match(value.strip()):
            return float(value)  # YAML 1.1 reads `3e-4` (no dot) as a string
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is Path:
        if isinstance(value, str):
            return Path(value)
    elif isinstance(tp, type):
        if isinstance(value, tp):
            return value
    else:
        raise ConfigError(f"{key}: unsupported annotation {tp!r} in the config dataclass")
    raise ConfigError(f"{key}: expected {_type_name(tp)}, got {_show(value)}")


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Union or origin is types.UnionType:
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin is not None:
        return f"{origin.__name__}[{', '.join('...' if a is Ellipsis else _type_name(a) for a in args)}]"
    if dataclasses.is_dataclass(tp):
        return f"a {tp.__name__} section"
    return getattr(tp, "__name__", repr(tp))


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ----------------------------------------------------------------------------------------------
# Public entry points.


def load_config(cls: type, path: str | Path | None = None, overrides: Iterable[str] = ()) -> Any:
    """Build a ``cls`` instance from a YAML file (``base:`` resolved) plus ``key=value`` overrides.

    With ``path=None`` the dataclass defaults are the base. Raises :class:`ConfigError` whose
    message names the file and the key path."""
    overrides = list(overrides)
    data = read_yaml(path) if path is not None else {}
    try:
        data = apply_overrides(data, overrides)
        return from_dict(cls, data)
    except ConfigError as e:
        source = f"{path}" if path is not None else cls.__name__
        if overrides:
            source += f" with overrides {overrides}"
        raise ConfigError(f"{source}: {e}") from None


def config_to_dict(obj: Any) -> dict:
    """A plain (YAML/JSON-safe) dict of a config dataclass: tuples become lists, Paths strings."""

    def plain(v):
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return plain(obj)


def save_config(obj: Any, path: str | Path) -> Path:
    """Write the resolved config (no ``base:``, overrides applied) as YAML; it loads back equal."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config_to_dict(obj), sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)
    return path


def check_all_keys_used(cls: type, path: str | Path, overrides: Iterable[str] = ()) -> Any:
    """Test helper: load ``path`` and check every key of the merged YAML landed in the dataclass
    with its value (a key silently dropped or changed would fail). Returns the config."""
    cfg = load_config(cls, path, overrides)
    raw = apply_overrides(read_yaml(path), overrides)
    resolved = config_to_dict(cfg)

    def walk(node: dict, out: dict, prefix: str):
        for k, v in node.items():
            key = _join(prefix, k)
            if not prefix and k in META_KEYS and k not in out:
                continue
            if k not in out:
                raise ConfigError(f"{path}: key {key} was not used by {cls.__name__}")
            if isinstance(v, dict) and isinstance(out[k], dict):
                walk(v, out[k], key)
            elif not _same(v, out[k]):
                raise ConfigError(f"{path}: key {key} = {v!r} resolved to {out[k]!r}")

    walk(raw, resolved, "")
    return cfg


def _same(raw: Any, resolved: Any) -> bool:
    """``raw`` YAML value and the value it resolved to agree (up to int->float, '3e-4' -> 0.0003)."""
    if isinstance(raw, list) and isinstance(resolved, list):
        return len(raw) == len(resolved) and all(_same(a, b) for a, b in zip(raw, resolved))
    if isinstance(raw, str) and isinstance(resolved, float) and _SCI_FLOAT.match(raw.strip()):
        return float(raw) == resolved
    return raw == resolved
