"""A shim for tools that still look for setup.py: the package's metadata is in pyproject.toml."""

from setuptools import setup

setup()
