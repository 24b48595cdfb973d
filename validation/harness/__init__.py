"""Harness integration: GSI-Bench as an lmms-eval task (:mod:`.lmms_eval_tasks`, ``--include_path``)
and an EvalScope benchmark (:mod:`.evalscope_adapter`), both scoring with :mod:`.scoring`."""
