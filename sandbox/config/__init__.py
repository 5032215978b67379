"""Crypto City configuration: YAML presets validated into a ``CityConfig``.

    cfg = load_config("crypto-city")          # a shipped preset, or a path to a YAML file
    list_presets() -> ["aifc-classic", "crypto-city"]

Every problem raises ``ConfigError`` whose message names the key path, says what is
wrong and what is allowed — one line per problem, no traceback material.
"""
from .loader import ConfigError, config_from_dict, list_presets, load_config, preset_path
from .models import CityConfig


def config_fingerprint(cfg: CityConfig) -> str:
    """SHA-256 of the configuration's canonical JSON: equal for two cities that run the same rules,
    whichever file or overrides they were read from."""
    import hashlib
    import json
    text = json.dumps(cfg.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


__all__ = ["CityConfig", "ConfigError", "config_fingerprint", "config_from_dict", "list_presets", "load_config",
           "preset_path"]
