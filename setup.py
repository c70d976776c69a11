"""Builds PyBirch's one compiled part: the scan engine's tight loop.

It is optional: where no C compiler is at hand the build goes on without it and scans run
the same loop in Python (:mod:`pybirch.scan.tight_loop`). Everything else about the package
is in ``pyproject.toml``.
"""

import numpy
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pybirch.scan._tight_loop",
            ["src/pybirch/scan/_tight_loop.c"],
            include_dirs=[numpy.get_include()],
            optional=True,
        )
    ]
)
