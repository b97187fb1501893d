"""Per-job cluster settings (`job.cluster(...)`) and the named profiles they may use.

Invariant: a job's effective settings are its profile's (when it names one) overlaid
by those it set itself; nothing else. A profile that no config defines is an error
naming the job and the profiles there are. The config file (`ppg-cluster.toml`, or
`.yaml`/`.yml`, in the working directory unless a path is given) has a `[cluster]`
table (the options every cluster gets) and `[profiles.NAME]` tables:

    [cluster]
    cores = 8
    memory = "32GB"

    [profiles.bigmem]
    queue = "bigmem"
    walltime = "24:00:00"
    extra = ["--mem=500G"]
"""

from __future__ import annotations

import os

from ..resources import ResourceError

CONFIG_NAMES = ("ppg-cluster.toml", "ppg-cluster.yaml", "ppg-cluster.yml")


def load_config(path: str | None = None) -> dict:
    """{"cluster": {...}, "profiles": {name: {...}}} of the config file ({} when there is none)."""
    if path is None:
        path = next((name for name in CONFIG_NAMES if os.path.exists(name)), None)
        if path is None:
            return {"cluster": {}, "profiles": {}}
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        if path.endswith(".toml"):
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10: tomllib's origin, the same parser
                import tomli as tomllib

            config = tomllib.loads(data.decode("utf-8"))
        else:
            import yaml

            config = yaml.safe_load(data) or {}
    except Exception as exc:
        raise ResourceError(f"{path} could not be read as a cluster config: {exc}") from exc
    unknown = set(config) - {"cluster", "profiles"}
    if unknown or not all(isinstance(config.get(key, {}), dict) for key in ("cluster", "profiles")):
        raise ResourceError(f"{path}: a cluster config has a [cluster] table and [profiles.NAME] tables; "
                            f"found {sorted(config)}")
    return {"cluster": dict(config.get("cluster", {})), "profiles": dict(config.get("profiles", {}))}


def checked_settings(job_id: str, profile: str | None, settings: dict) -> dict:
    """What `job.cluster(profile, **settings)` keeps: values set (not None), each a string
    or number, `extra` a list of strings; ValueError naming the job otherwise."""
    extra = settings.pop("extra", ())
    kept = {key: value for key, value in {"profile": profile, **settings}.items() if value is not None}
    for key, value in kept.items():
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or value == "":
            raise ValueError(f"{job_id}: cluster({key}=...) takes a string or number; got {value!r}")
    if isinstance(extra, str) or not all(isinstance(item, str) and item for item in extra or ()):
        raise ValueError(f"{job_id}: cluster(extra=...) takes a list of strings (scheduler directives "
                         f"such as '--gres=gpu:1'); got {extra!r}")
    if extra:
        kept["extra"] = tuple(extra)
    return kept


def settings_of(job, profiles: dict) -> dict:
    """The job's cluster settings with its profile applied (without the `profile` key)."""
    own = dict(job.cluster_settings)
    name = own.pop("profile", None)
    if name is None:
        return own
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none are defined"
        raise ResourceError(f"{job.job_id}: cluster profile {name!r} is not in the cluster config "
                            f"(profiles: {known}). Define [profiles.{name}] in ppg-cluster.toml.")
    merged = {**profiles[name], **own}
    if "extra" in profiles[name] and "extra" in own:
        merged["extra"] = (*profiles[name]["extra"], *own["extra"])
    return merged
