"""lmms-eval task folder: ``lmms-eval --include_path <this folder> --tasks gsi_bench_tabletop …``."""
