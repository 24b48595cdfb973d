# One-command entry points. `make demo` and `make test` set everything up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.gsi-installed
OUT ?= out/demo

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@# headless EGL for the moderngl renderer (normally present; installed only when missing)
	@ldconfig -p | grep -q libEGL_mesa || { apt-get update -qq && apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri; }
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@# extract the packaged assets (robosuite's MIT meshes and textures) into the cache once
	$(VENV)/bin/gsi-bench assets
	touch $(STAMP)

demo: setup
	$(VENV)/bin/gsi-bench generate syn --subset tabletop --split test --num 40 --seed 0 --out $(OUT) --resolution 512 --workers 2
	$(VENV)/bin/gsi-bench preview $(OUT) --out $(OUT)/preview.png --num 12

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/generate.py --workers 2

clean:
	rm -rf $(VENV) out .pytest_cache
