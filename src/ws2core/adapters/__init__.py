"""Adapters that put ws2core behind the Winsock of a Windows emulator.

Each adapter is a submodule that imports its emulator only when it is used, so this package
imports anywhere; ``ws2core.adapters.speakeasy`` serves Mandiant's Speakeasy (the extra
``ws2core[speakeasy]`` installs it), ``ws2core.adapters.qiling`` Qiling (``ws2core[qiling]``,
in an environment of its own) over a rootfs of Wine's DLLs.  What they share is in
``_common``.
"""
