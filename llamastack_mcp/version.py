"""The package's version: pyproject.toml's, as installed (a checkout's is its own)."""

from importlib import metadata
from pathlib import Path


def _version() -> str:
    try:
        return metadata.version("llamastack-mcp")
    except metadata.PackageNotFoundError:  # a checkout without `make setup`
        import tomllib
        with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as f:
            return tomllib.load(f)["project"]["version"]


VERSION = _version()
