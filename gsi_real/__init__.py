"""GSI-Real: the 3D-prior-guided pipeline from RGB-D captures to verified edit triplets.

captures (adapters) → lifting (support planes, oriented boxes) → edits (rule-based sampling) →
synthesis (z-buffered forward warp + inpainting) → filters (3D consistency) → pipeline (records,
shards) → review (human verification, export of accepted samples). ``demo`` renders captures
from GSI-Syn rooms; ``evaluate`` measures the pipeline against their ground truth.
CLI: ``gsi-bench real {demo-captures, run, evaluate, review, export}``.
"""
