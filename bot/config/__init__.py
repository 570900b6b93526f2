"""Configuration: TOML read with tomllib, ${ENV} secrets expanded, checked in one place."""

from bot.config.loader import ConfigError, load_config, resolve_config_path
from bot.config.types import Config, Person

__all__ = ["Config", "ConfigError", "Person", "load_config", "resolve_config_path"]
