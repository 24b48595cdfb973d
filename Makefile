# One-command entry points. `make demo` and `make test` set everything up on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
GSI := $(VENV)/bin/gsi-bench
STAMP := $(VENV)/.gsi-installed
OUT ?= out/demo

.PHONY: setup demo test bench hub real-demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@# headless EGL for the moderngl renderer (normally present; installed only when missing)
	@ldconfig -p | grep -q libEGL_mesa || { apt-get update -qq && apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri; }
	@# headless Chromium + chromedriver for the review page's browser test (installed only when missing)
	@{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; }
	@# Sweet Home 3D furniture libraries (CC0 / CC-BY OBJ models, gsi_syn/assets/sweethome3d.py; installed only when missing)
	@[ -d /usr/share/sweethome3d/furniture ] || { apt-get update -qq && apt-get install -y -qq sweethome3d-furniture; }
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# the local CPU build of torch first (a plain `torch` would pull GBs of CUDA wheels)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,models,ray,train,api,lmms-eval,evalscope]'
	@# installed without their declared dependencies (what they import is in the extras above): bpy pins
	@# numpy<2 (only Blender's bundled add-ons need it), lmms-eval declares torchvision (never installed
	@# here: it breaks transformers), evalscope declares modelscope
	$(PY) -m pip install -q --no-deps 'bpy==5.0.1' zstandard 'lmms-eval==0.7.3' 'evalscope==1.14.1'
	@# extract the packaged assets (robosuite's MIT meshes and textures) into the cache once
	$(GSI) assets
	touch $(STAMP)

# The main job: generate a test split of both subsets, validate it, run the baselines,
# score them, print the leaderboard; reports in $(OUT)/leaderboard.html.
demo: setup
	$(GSI) demo --out $(OUT) --per-op 4 --resolution 512 --workers 2

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/generate.py --workers 2
	$(PY) bench/generate.py --subset room --workers 2
	$(PY) bench/render.py
	$(PY) bench/validate.py --workers 2
	$(PY) bench/evaluate.py --num 70 --resolution 512 --workers 2

# The Hub folder of both configs (test + train presets are large: pass --per-op/--train-per-op),
# installed into the local Hugging Face cache so load_dataset("gsi-bench/syn") works offline.
hub: setup
	$(GSI) build syn --out out/hub/syn --config tabletop,room --workers 2
	$(GSI) install-cache out/hub/syn --repo-id gsi-bench/syn

real-demo: setup
	$(GSI) real demo-captures --out out/real/captures
	$(GSI) real run out/real/captures --out out/real/records
	$(GSI) real evaluate out/real/captures

clean:
	rm -rf $(VENV) out .pytest_cache
