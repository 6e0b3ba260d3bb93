"""The one compiled part of tidings: spaCy's parser products off blis (src/tidings/_parser_kernels.c).

Everything else is in pyproject.toml. The extension is optional: where it cannot be compiled (no C
compiler or Python headers) tidings installs without it and spaCy's parser keeps blis, logged
once (tidings/matmul.py); the names found are the same either way.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "tidings._parser_kernels", ["src/tidings/_parser_kernels.c"],
    # no fused multiply-add: the same rounding as blis's reference kernels, so the same names
    extra_compile_args=["-O3", "-ffp-contract=off"],
    optional=True,
)])
