"""The configuration layer: :class:`Config`, its sections, and TOML loading (``settings``)."""

from abm.config.settings import Config, load_config

__all__ = ["Config", "load_config"]
