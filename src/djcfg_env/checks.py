"""System checks for the multi-database setup (ids ``djcfg_env.E###`` / ``djcfg_env.W###``)."""

from __future__ import annotations
