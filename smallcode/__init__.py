"""``%load_ext smallcode`` imports this module: it only forwards to smallcode_jupyter."""

from smallcode_jupyter import load_ipython_extension, unload_ipython_extension

__all__ = ["load_ipython_extension", "unload_ipython_extension"]
