"""Fixtures shared by the renderer tests of this folder."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def gl_module():
    """:mod:`gsi_syn.render.gl`, or a skip where no headless EGL/OpenGL context can be made."""
    from gsi_syn.render import gl

    ok, why = gl.gl_available()
    if not ok:
        pytest.skip(f"no headless EGL/OpenGL context here: {why}")
    return gl
