"""Adapters that put ws2core behind the Winsock of a Windows emulator.

Each adapter is a submodule that imports its emulator only when it is used, so this package
imports anywhere; ``ws2core.adapters.speakeasy`` serves Mandiant's Speakeasy (the extra
``ws2core[speakeasy]`` installs it).
"""
