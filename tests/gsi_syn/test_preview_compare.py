"""``gsi-bench preview --compare``: the same records re-rendered by two renderers side by side."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gsi_bench.hub_io import iter_records


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from gsi_syn.pipeline import generate
    from gsi_syn.sampler import GenerationConfig

    out = tmp_path_factory.mktemp("cmp")
    generate(GenerationConfig(subset="tabletop", split="test", num=2, seed=4, resolution=64), out, progress=False)
    return out, list(iter_records(out))


def test_sheet_has_one_row_of_four_tiles_per_record(records):
    from gsi_syn.preview import comparison_renderers, comparison_sheet

    _, recs = records
    tile, text = 64, 120
    (l_name, _), (r_name, _) = comparison_renderers(cycles_samples=2)
    sheet = comparison_sheet(recs, tile=tile, text_width=text, cycles_samples=2)
    header = sheet.height - len(recs) * (tile + 4)
    assert sheet.width == 4 * tile + text and 10 <= header <= 40
    px = np.asarray(sheet)
    for r in range(len(recs)):
        y = header + r * (tile + 4)
        tiles = [px[y:y + tile, i * tile:(i + 1) * tile].astype(np.int16) for i in range(4)]
        assert all(t.std() > 5 for t in tiles)                       # each tile is a render
        assert np.abs(tiles[0] - tiles[1]).mean() > 1                 # two different renderers…
        assert np.abs(tiles[0] - tiles[1]).mean() < 60                 # …of the same view
    assert l_name == "GL photo" and (r_name.startswith("Cycles") or r_name == "GL fast")


def test_cli_compare_writes_the_sheet(records, tmp_path):
    out, recs = records
    png = tmp_path / "cmp.png"
    done = subprocess.run([sys.executable, "-m", "gsi_bench.cli", "preview", str(out), "--out", str(png),
                           "--compare", "--tile", "64", "--num", "1", "--cycles-samples", "2"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    im = Image.open(png)
    assert im.width > 4 * 64 and 64 < im.height < 2 * 64 + 40
