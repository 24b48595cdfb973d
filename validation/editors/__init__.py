"""Model adapters usable as ``editor(image, instruction) -> image`` with :func:`gsi_bench.evaluate`:

* :class:`validation.editors.diffusers_pipeline.DiffusersPipelineEditor` — any ``diffusers`` pipeline
  taking ``image`` + ``prompt`` (InstructPix2Pix, FLUX.1 Kontext, Qwen-Image-Edit…), batched;
* :class:`validation.editors.openai_images.OpenAIImageEditor` — an OpenAI-compatible
  ``/v1/images/edits`` endpoint (retries with backoff, 429 ``Retry-After``, failures → missing).
"""
