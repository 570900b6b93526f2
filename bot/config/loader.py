"""Load configuration from TOML with tomllib, expand ${ENV} secrets and validate it in one place."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from bot.config.schema import Reader
from bot.config.sections import (
    read_dispatch,
    read_gateways,
    read_people,
    read_server,
    read_slack,
    read_telegram,
    time_zone,
)
from bot.config.types import Config
from bot.inbound.defaults import build_keywords
from storage.db import DEFAULT_CACHE_MB

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
__all__ = ["ConfigError", "load_config", "resolve_config_path"]


class ConfigError(Exception):
    """Configuration is invalid; `problems` holds one line per problem, each naming its key."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _expand_env(value: Any, path: str, problems: list[str]) -> Any:
    """Replace ${VAR} and ${VAR:-default} in strings with environment values."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name not in os.environ:
                if default is not None:
                    return default
                problems.append(f"{path}: environment variable {name} is not set")
                return ""
            return os.environ[name]

        return _ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{path}.{k}" if path else k, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    return value


def resolve_config_path(explicit: str | None) -> Path:
    """Pick the config file: --config, then SMSOPS_CONFIG, then ./smsops.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("SMSOPS_CONFIG")
    return Path(env) if env else Path("smsops.toml")


def load_config(path: Path) -> Config:
    """Read, expand and validate a config file; raise ConfigError listing every problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, not a config file"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text ({exc.reason})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {exc}"]) from None
    problems: list[str] = []
    reader = Reader(_expand_env(raw, "", problems), problems)
    config = _build(reader, path=path)
    reader.report_unknown()
    if problems or config is None:
        raise ConfigError(problems)
    return config


def _build(r: Reader, *, path: Path) -> Config | None:
    org = r.table("organisation", required=True) or Reader({}, [], "organisation")
    organisation = org.text("name", "our institution")
    zone = org.convert("timezone", time_zone, ZoneInfo("Africa/Nairobi"))
    region = org.text("default_region", "KE")
    if isinstance(region, str) and region not in phonenumbers.SUPPORTED_REGIONS:
        org.problem("default_region", f"unknown region code {region!r}")
    db = r.table("database")
    db_path = db.text("path", "smsops.db") if db else "smsops.db"
    cache_mb = db.integer("cache_mb", DEFAULT_CACHE_MB, minimum=1) if db else DEFAULT_CACHE_MB
    people = read_people(r, region=region)
    gateways = read_gateways(r)
    dispatch = read_dispatch(r)
    keywords = build_keywords(r.table("keywords"))
    api = r.table("api")
    tokens: dict[str, str] = {}
    console_token = None
    if api:
        console_token = api.text("console_token", None, nonempty=False) or None
        for tok_id, t in api.tables("tokens").items():
            token = t.text("token")
            person = t.text("person")
            if isinstance(person, str) and person not in people:
                t.problem("person", f"no such person {person!r} in [people]")
            if isinstance(token, str) and isinstance(person, str):
                if len(token) < 16:
                    t.problem("token", "must be at least 16 characters")
                tokens[token] = person
            del tok_id
    slack = read_slack(r.table("slack"))
    telegram = read_telegram(r.table("telegram"))
    server = read_server(r.table("server"))
    if r.problems:
        return None
    return Config(
        path=path,
        organisation=organisation,
        timezone=zone or ZoneInfo("Africa/Nairobi"),
        default_region=region,
        database_path=(path.parent / db_path) if not Path(db_path).is_absolute() else Path(db_path),
        database_cache_mb=cache_mb,
        server=server,
        gateways=gateways,
        dispatch=dispatch,
        keywords=keywords,
        people=people,
        api_tokens=tokens,
        console_token=console_token,
        slack=slack,
        telegram=telegram,
    )
